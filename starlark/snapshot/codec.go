package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"
	"unsafe"

	"bld/exec/graph"
	"bld/exec/store"
	"bld/starlark/workspace"
)

// The encoding of a snapshot file (Encode, Decode):
//
//	magic      8 bytes, fileMagic (names the format's version)
//	length     uint64, little endian: the length of body
//	checksum   uint32, little endian: CRC-32 (IEEE) of body
//	body       fields length (uint64, little endian), fields, strings
//
// strings is the table of every distinct string the snapshot holds
// (paths, argv pieces, labels, digests), each stored once: a uvarint
// count, count uvarint lengths, then their bytes one after the other.
// The decoder reads it first and turns those bytes into one Go string:
// every string of the snapshot is a piece of it, so equal strings share
// their memory. fields are the snapshot's fields in the order of
// encoder.head then Head.Finish (Key, Env, Actions, Goals, then Reads,
// Index and Links, last so that the bulk is encoded before they are made), each string as its uvarint index in the table, each
// number as a uvarint (a varint where it may be negative), booleans of an
// action packed in one uvarint. A slice or a map is its length plus one, 0
// meaning nil, then its elements; maps are written in key order, so that
// the same snapshot gives the same bytes. (The table comes last so that
// the encoder writes the fields once, into the file's buffer, as it
// meets the strings.) The actions are followed by their FieldsDigests
// (exec/graph), 32 bytes each, one after the other: a build that takes
// its actions from the snapshot hashes none of their descriptions for
// its up-to-date check (Loaded.KeptDigests).
//
// A patch may follow (patch.go). A file whose length, checksum, magic or
// structure is wrong, in its base or its patch, is not a snapshot: Decode
// reports it and Load treats it as absent.
//
// bldsnap7 added the digests; bldsnap8 changed the checksum from CRC-32C
// to CRC-32 (IEEE): Go's CRC-32C builds its tables at first use, ~0.25 ms
// of every bld start that reads a snapshot, while the IEEE one's are
// cheap, and with PCLMULQDQ it is no slower on the sizes snapshots have.
// bldsnap9 added the Links after the Index.
// A file of an earlier format is not a snapshot (its magic differs), so
// it is analyzed again, never misread.
const fileMagic = "bldsnap9"

const headerLen = len(fileMagic) + 8 + 4

// errCorrupt is Decode's error for bytes that are not a snapshot.
var errCorrupt = errors.New("not an analysis snapshot, or a damaged one")

// Action flags, one bit each in an action's flags.
const (
	flagExecutable = 1 << iota
	flagJobserver
	flagNoCache
	flagNoSandbox
	flagTest
	flagQuietOutput
	flagQuietFailure
	flagAllowDaemon
	flagNoRemoteExec
	flagNoRemoteCache
	flagSerial
	flagContent // Content is not nil
	flagAll     = flagContent<<1 - 1
)

// Encode returns the bytes of s: the same snapshot gives the same bytes.
// It fails on a snapshot that cannot be saved (a nil action).
func Encode(s *Snapshot) ([]byte, error) {
	h, err := EncodeHead(s)
	if err != nil {
		return nil, err
	}
	return h.Finish(s.Reads, s.Index, s.Links), nil
}

// A Head is a snapshot encoded but for its Reads, Index and Links: the
// fields made last (the reads once the action graph's sources are
// checked, the index from the whole analysis, the links from the graph)
// are encoded last, so that the bulk, the actions, can be encoded while
// they are made (Analyze does so on the other core). EncodeHead(s) then
// Finish(s.Reads, s.Index, s.Links) is Encode(s).
type Head struct {
	e *encoder
}

// EncodeHead encodes s but for its Reads and Index, which it does not
// read. It fails on a snapshot that cannot be saved (a nil action).
// It is NewHead then Head.Encode.
func EncodeHead(s *Snapshot) (*Head, error) {
	h := NewHead(s)
	if err := h.Encode(s); err != nil {
		return nil, err
	}
	return h, nil
}

// NewHead returns the Head of s before its encoding (Encode): its string
// table and buffer allocated, sized for s, so that a caller can set the
// heap's goal once they are (Analyze), then encode on another goroutine.
func NewHead(s *Snapshot) *Head {
	// Room for about as many distinct strings as a snapshot of
	// generated rules has (an output, a command, a label, a target name
	// per action, a path per read: about a source per action when the
	// reads are not known yet), so that the table rarely grows:
	// growing a table of a few hundred thousand strings costs more than
	// the rest of the encoding.
	n := 5 * len(s.Actions)
	if s.Reads != nil {
		n += len(s.Reads.Files) + len(s.Reads.Exists)
	} else {
		n += len(s.Actions)
	}
	return &Head{e: newEncoder(n)}
}

// Encode encodes s, the snapshot given to NewHead, but for its Reads and
// Index. It is called once, before Finish or Save; after an error the
// Head is not to be used.
func (h *Head) Encode(s *Snapshot) error {
	return h.e.head(s)
}

// Finish encodes reads, index and links after the head and returns the
// bytes of the snapshot. It is called once, or Save is.
func (h *Head) Finish(reads *workspace.Reads, index *Index, links *Links) []byte {
	e := h.take(reads, index, links)
	return e.finish(fileMagic)
}

// Save encodes reads, index and links after the head and writes the snapshot to
// the file path, atomically (WriteFile): the bytes Finish returns. It
// streams the string table to the file rather than appending it to the
// fields in memory (at 100,000 targets, 18 MB of strings: growing the
// buffer to hold them copied the 7 MB of fields and allocated 27 MB
// while the build waited). It is called once, or Finish is.
func (h *Head) Save(path string, reads *workspace.Reads, index *Index, links *Links) error {
	e := h.take(reads, index, links)
	if err := store.WriteFileFrom(path, "", 0o644, func(w io.Writer) error {
		return e.writeTo(w, fileMagic)
	}); err != nil {
		return fmt.Errorf("saving the analysis snapshot: %w", err)
	}
	return nil
}

// take encodes reads, index and links after the head and returns the
// encoder, which the Head gives up.
func (h *Head) take(reads *workspace.Reads, index *Index, links *Links) *encoder {
	e := h.e
	h.e = nil
	e.reads(reads)
	e.index(index)
	e.links(links)
	return e
}

// newEncoder returns an encoder of a section (a snapshot's base or a
// patch) with room for about n distinct strings (the fields take about 14
// bytes per distinct string in snapshots of generated rules: 7 MB for
// 520,000 strings at 100,000 targets), allocated now, in chunks.
func newEncoder(n int) *encoder {
	e := &encoder{ids: make(map[string]uint32, n), emptyID: -1}
	e.chunks = allocChunks[byte](headerLen+8+14*n, chunkSize)
	e.buf = e.chunks[0][:headerLen+8]
	e.strs = allocChunks[string](n, strChunk)
	return e
}

// chunkSize is the capacity of a chunk of an encoder's fields, in bytes,
// and strChunk that of a chunk of its string table, in strings (32 KiB
// each). An encoder keeps both in chunks rather than in a slice each, so
// that what it allocates fits in the pages that the collection before it
// freed. At 100,000 targets, the snapshot is made right after analysis'
// garbage is collected, with ~120 MB of the heap free in runs of a few
// pages: one slice of 8 MB fits none of them, so the runtime grew the
// heap for it, and, to keep its memory near the heap's goal, gave back
// to the OS as many of those free pages (MADV_DONTNEED, one call a run:
// ~3,000 calls for the ~55 MB that the snapshot's table, its fields,
// their growth and the graph's slices took; docs/benchmarks.md, ana15).
const (
	chunkSize = 32 << 10
	strChunk  = chunkSize / int(unsafe.Sizeof(""))
)

// allocChunks returns empty chunks with room for n elements in all, each
// with a capacity of size elements (the first one less when n is less).
func allocChunks[T any](n, size int) [][]T {
	first := min(max(n, 1), size)
	chunks := make([][]T, 0, 1+(n-first+size-1)/size)
	chunks = append(chunks, make([]T, 0, first))
	for left := n - first; left > 0; left -= size {
		chunks = append(chunks, make([]T, 0, size))
	}
	return chunks
}

// finish appends the string table to the fields encoded and returns the
// section: magic, length, checksum, body.
func (e *encoder) finish(magic string) []byte {
	e.close()
	crc, n := e.sum()
	out := make([]byte, headerLen, headerLen+n)
	putHeader(out, magic, n, crc)
	e.body(nil, func(p []byte) error {
		out = append(out, p...)
		return nil
	})
	return out
}

// writeTo writes the section finish returns to w, without making it: the
// header, then the body in runs of up to runSize bytes gathered in a
// buffer (the fields' chunks, the table's count and lengths, the
// strings). The checksum is computed before, over the same runs.
func (e *encoder) writeTo(w io.Writer, magic string) error {
	e.close()
	crc, n := e.sum()
	var header [headerLen]byte
	putHeader(header[:], magic, n, crc)
	if _, err := w.Write(header[:]); err != nil {
		return err
	}
	return e.body(make([]byte, 0, runSize), func(p []byte) error {
		_, err := w.Write(p)
		return err
	})
}

// runSize is the size of the runs in which writeTo checksums and writes
// a section: one crc32.Update or Write per string costs more than
// copying them.
const runSize = 256 << 10

// close ends the fields: it puts buf back in chunks and the fields'
// length at the start of the body.
func (e *encoder) close() {
	e.chunks[e.cur] = e.buf
	n := -headerLen - 8
	for _, c := range e.chunks {
		n += len(c)
	}
	binary.LittleEndian.PutUint64(e.chunks[0][headerLen:], uint64(n))
}

// sum returns the CRC-32 (IEEE) and the length of the body (after close).
func (e *encoder) sum() (crc uint32, n int) {
	e.body(make([]byte, 0, runSize), func(p []byte) error {
		crc = crc32.Update(crc, crc32.IEEETable, p)
		n += len(p)
		return nil
	})
	return crc, n
}

// putHeader writes a section's header to h: magic, the body's length n
// and its checksum crc.
func putHeader(h []byte, magic string, n int, crc uint32) {
	copy(h, magic)
	binary.LittleEndian.PutUint64(h[len(magic):], uint64(n))
	binary.LittleEndian.PutUint32(h[len(magic)+8:], crc)
}

// body calls emit with the section's body (after close), in order: the
// fields' length and the fields, the table's count and lengths, then
// the strings, in runs gathered in run (up to its capacity; a piece as
// long as that is emitted alone), or piece by piece when run has no
// capacity. It returns emit's first error, after which it emits nothing.
func (e *encoder) body(run []byte, emit func([]byte) error) error {
	r := runs{buf: run, emit: emit}
	r.add(e.chunks[0][headerLen:])
	for _, c := range e.chunks[1:] {
		r.add(c)
	}
	var v [binary.MaxVarintLen64]byte
	r.add(binary.AppendUvarint(v[:0], uint64(e.nstrs)))
	for _, c := range e.strs {
		for _, str := range c {
			r.add(binary.AppendUvarint(v[:0], uint64(len(str))))
		}
	}
	for _, c := range e.strs {
		for _, str := range c {
			r.add(unsafe.Slice(unsafe.StringData(str), len(str)))
		}
	}
	return r.flush()
}

// runs gathers pieces into runs for emit (encoder.body).
type runs struct {
	buf  []byte
	emit func([]byte) error
	err  error
}

// add appends p to the run, emitting the run first if p does not fit,
// and p alone if it is as long as the run's capacity.
func (r *runs) add(p []byte) {
	if r.err != nil || len(p) == 0 {
		return
	}
	if len(r.buf)+len(p) > cap(r.buf) {
		r.flush()
		if len(p) >= cap(r.buf) {
			if r.err == nil {
				r.err = r.emit(p)
			}
			return
		}
	}
	r.buf = append(r.buf, p...)
}

// flush emits the run, if not empty, and returns the first error.
func (r *runs) flush() error {
	if len(r.buf) > 0 && r.err == nil {
		r.err = r.emit(r.buf)
	}
	r.buf = r.buf[:0]
	return r.err
}

// An encoder writes a section's fields into chunks, and each distinct
// string once into a table, also in chunks (chunkSize), writing its
// index in the table into the fields.
type encoder struct {
	// buf is the chunk being written, chunks[cur]: a varint is written
	// only where it fits whole (room), so that writing one is an append
	// that never grows buf.
	buf    []byte
	chunks [][]byte // the fields' chunks, those after cur empty
	cur    int
	ids    map[string]uint32
	// strs is the table: its chunks before scur full, those after it
	// empty; nstrs strings of strBytes bytes in all.
	strs     [][]string
	scur     int
	nstrs    int
	strBytes int
	// emptyID is the id of "", or -1 before it is met: a quarter of a
	// snapshot's strings are "" (an action's unset fields), which are
	// then no map lookup.
	emptyID int64
}

// next moves buf to the next chunk, allocating one when none is left.
func (e *encoder) next() {
	e.chunks[e.cur] = e.buf
	e.cur++
	if e.cur == len(e.chunks) {
		e.chunks = append(e.chunks, make([]byte, 0, chunkSize))
	}
	e.buf = e.chunks[e.cur]
}

// room makes buf's free capacity at least a varint's.
func (e *encoder) room() {
	if cap(e.buf)-len(e.buf) < binary.MaxVarintLen64 {
		e.next()
	}
}

// bytes appends p to the fields, across chunks if need be.
func (e *encoder) bytes(p []byte) {
	for len(p) > 0 {
		if len(e.buf) == cap(e.buf) {
			e.next()
		}
		n := copy(e.buf[len(e.buf):cap(e.buf)], p)
		e.buf = e.buf[:len(e.buf)+n]
		p = p[n:]
	}
}

func (e *encoder) uint(v uint64) {
	e.room()
	e.buf = binary.AppendUvarint(e.buf, v)
}

func (e *encoder) int(v int64) {
	e.room()
	e.buf = binary.AppendVarint(e.buf, v)
}

func (e *encoder) bool(b bool) {
	if b {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

// count writes the length of a slice or map, n, or that it is nil.
func (e *encoder) count(n int, isNil bool) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(uint64(n) + 1)
}

func (e *encoder) str(s string) {
	if s == "" && e.emptyID >= 0 {
		e.uint(uint64(e.emptyID))
		return
	}
	id, ok := e.ids[s]
	if !ok {
		id = uint32(e.nstrs)
		e.ids[s] = id
		if len(e.strs[e.scur]) == cap(e.strs[e.scur]) {
			e.scur++
			if e.scur == len(e.strs) {
				e.strs = append(e.strs, make([]string, 0, strChunk))
			}
		}
		e.strs[e.scur] = append(e.strs[e.scur], s)
		e.nstrs++
		e.strBytes += len(s)
		if s == "" {
			e.emptyID = int64(id)
		}
	}
	e.uint(uint64(id))
}

func (e *encoder) strings(ss []string) {
	e.count(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) int32s(vs []int32) {
	e.count(len(vs), vs == nil)
	for _, v := range vs {
		e.int(int64(v))
	}
}

// head writes the fields of s before its Reads and Index.
func (e *encoder) head(s *Snapshot) error {
	e.str(s.Key)
	e.count(len(s.Env), s.Env == nil)
	for _, name := range sortedKeys(s.Env) {
		e.str(name)
		e.str(s.Env[name].Value)
		e.bool(s.Env[name].Set)
	}
	e.count(len(s.Actions), s.Actions == nil)
	for i, a := range s.Actions {
		if a == nil {
			return fmt.Errorf("encoding the analysis snapshot: action %d is nil", i)
		}
		e.action(a)
	}
	for _, a := range s.Actions {
		d := a.FieldsDigest()
		e.bytes(d[:])
	}
	e.strings(s.Goals)
	return nil
}

func (e *encoder) reads(r *workspace.Reads) {
	e.bool(r != nil)
	if r == nil {
		return
	}
	e.count(len(r.Files), r.Files == nil)
	for _, k := range sortedKeys(r.Files) {
		e.str(k)
		e.str(r.Files[k])
	}
	e.count(len(r.Globs), r.Globs == nil)
	for _, g := range r.Globs {
		e.str(g.Pkg)
		e.strings(g.Include)
		e.strings(g.Exclude)
		e.strings(g.Result)
	}
	e.count(len(r.Packages), r.Packages == nil)
	for _, k := range sortedKeys(r.Packages) {
		e.str(k)
		e.strings(r.Packages[k])
	}
	e.count(len(r.Exists), r.Exists == nil)
	for _, k := range sortedKeys(r.Exists) {
		e.str(k)
		e.bool(r.Exists[k])
	}
}

// action writes every field of a (TestCodecCoversAction checks that none
// is left out).
func (e *encoder) action(a *graph.Action) {
	flags := 0
	for _, f := range []struct {
		set  bool
		flag int
	}{
		{a.Executable, flagExecutable}, {a.Jobserver, flagJobserver}, {a.NoCache, flagNoCache},
		{a.NoSandbox, flagNoSandbox}, {a.Test, flagTest}, {a.QuietOutput, flagQuietOutput},
		{a.QuietFailure, flagQuietFailure}, {a.AllowDaemon, flagAllowDaemon},
		{a.NoRemoteExec, flagNoRemoteExec}, {a.NoRemoteCache, flagNoRemoteCache},
		{a.Serial, flagSerial}, {a.Content() != nil, flagContent},
	} {
		if f.set {
			flags |= f.flag
		}
	}
	e.uint(uint64(flags))
	e.str(a.Owner)
	e.str(a.Mnemonic)
	e.str(a.Description)
	e.strings(a.Argv)
	e.strings(a.Env)
	if a.Content() != nil {
		e.uint(uint64(len(a.Content())))
		e.bytes(a.Content())
	}
	e.strings(a.Inputs)
	e.strings(a.Outputs)
	e.strings(a.Discoverable())
	e.str(a.Depfile())
	e.str(a.JobserverStyle())
	e.int(int64(a.Timeout()))
	e.count(len(a.ExecProperties()), a.ExecProperties() == nil)
	for _, k := range sortedKeys(a.ExecProperties()) {
		e.str(k)
		e.str(a.ExecProperties()[k])
	}
	e.str(a.Group())
	e.str(a.Hint())
	e.str(a.Pipeline())
	e.str(a.Stage())
}

func (e *encoder) index(x *Index) {
	e.bool(x != nil)
	if x == nil {
		return
	}
	e.count(len(x.Packages), x.Packages == nil)
	for _, p := range x.Packages {
		e.str(p.Path)
		e.strings(p.Files)
		e.strings(p.Roots)
	}
	e.strings(x.Names)
	for _, vs := range [][]int32{x.Pkgs, x.Actions, x.ChildEnd, x.Children, x.DepEnd, x.Deps, x.RootGoalEnd} {
		e.int32s(vs)
	}
	e.count(len(x.Env), x.Env == nil)
	for _, t := range x.Env {
		e.int(int64(t.Target))
		e.strings(t.Values)
	}
}

func (e *encoder) links(l *Links) {
	e.bool(l != nil)
	if l == nil {
		return
	}
	e.int32s(l.Edges)
	e.int32s(l.Goals)
}

// Decode returns the snapshot data encodes (Encode), or errCorrupt.
func Decode(data []byte) (*Snapshot, error) {
	return decode(data, false)
}

// decode is Decode; with owned, the caller hands data over (it is never
// modified again, by anyone) and the snapshot's strings are pieces of it
// rather than of a copy.
func decode(data []byte, owned bool) (*Snapshot, error) {
	l, err := decodeFile(data, owned)
	if err != nil {
		return nil, err
	}
	return l.Snapshot, nil
}

// decodeFile decodes the snapshot file data: its base, with the patch
// after it applied, if there is one (patch.go).
func decodeFile(data []byte, owned bool) (*Loaded, error) {
	body, rest, err := checkSection(data, fileMagic)
	if err != nil {
		return nil, err
	}
	d, err := newDecoder(body, owned)
	if err != nil {
		return nil, err
	}
	s := d.snapshot()
	if d.err != nil || d.pos != len(d.data) {
		return nil, errCorrupt
	}
	l := &Loaded{Snapshot: s, base: data[:len(data)-len(rest)], digests: d.digests}
	if len(rest) == 0 {
		return l, nil
	}
	body, rest, err = checkSection(rest, patchMagic)
	if err != nil || len(rest) > 0 {
		return nil, errCorrupt
	}
	if d, err = newDecoder(body, owned); err != nil {
		return nil, err
	}
	p := d.patch()
	if d.err != nil || d.pos != len(d.data) || !p.apply(s) {
		return nil, errCorrupt
	}

	l.patch = p
	return l, nil
}

// newDecoder returns a decoder of the fields of a section's body, having
// read its string table.
func newDecoder(body []byte, owned bool) (*decoder, error) {
	if len(body) < 8 || binary.LittleEndian.Uint64(body) > uint64(len(body)-8) {
		return nil, errCorrupt
	}
	fieldsEnd := 8 + int(binary.LittleEndian.Uint64(body))
	d := &decoder{data: body, pos: fieldsEnd, owned: owned}
	d.table()
	if d.err != nil || d.pos != len(d.data) {
		return nil, errCorrupt
	}
	d.data, d.pos = body[:fieldsEnd], 8
	return d, nil
}

// checkSection returns the body of the section (a base or a patch) that
// data starts with, after checking its magic, length and checksum, and
// the bytes after it.
func checkSection(data []byte, magic string) (body, rest []byte, err error) {
	if len(data) < headerLen || string(data[:len(magic)]) != magic {
		return nil, nil, errCorrupt
	}
	n := binary.LittleEndian.Uint64(data[len(magic):])
	if n > uint64(len(data)-headerLen) {
		return nil, nil, errCorrupt
	}
	body, rest = data[headerLen:headerLen+int(n)], data[headerLen+int(n):]
	if binary.LittleEndian.Uint32(data[len(magic)+8:]) != crc32.ChecksumIEEE(body) {
		return nil, nil, errCorrupt
	}
	return body, rest, nil
}

// A decoder reads a body. The first error stops it: every read after
// returns zero values, and err says the data is not a snapshot.
type decoder struct {
	data  []byte
	owned bool // data is the decoder's: strings may point into it
	pos   int
	strs  []string
	err   error
	// slab is where string slices are carved from, to allocate them a
	// few thousand at a time.
	slab []string
	// digests are the actions' FieldsDigests, as snapshot read them.
	digests [][32]byte
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.pos = len(d.data)
}

func (d *decoder) uint() uint64 {
	if d.pos < len(d.data) {
		if b := d.data[d.pos]; b < 0x80 {
			d.pos++
			return uint64(b)
		}
	}
	v, n := binary.Uvarint(d.data[d.pos:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.data[d.pos:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) int32() int32 {
	v := d.int()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int32(v)
}

func (d *decoder) bool() bool {
	switch d.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

// count reads the length of a slice or map; ok is false when it is nil.
// Every element takes at least a byte, so a length beyond what is left is
// a damaged file (and not an allocation of that size).
func (d *decoder) count() (n int, ok bool) {
	v := d.uint()
	if v == 0 {
		return 0, false
	}
	if v-1 > uint64(len(d.data)-d.pos) {
		d.fail()
		return 0, false
	}
	return int(v - 1), true
}

// table reads the string table.
func (d *decoder) table() {
	n := d.uint()
	if n > uint64(len(d.data)-d.pos) {
		d.fail()
		return
	}
	lens := make([]uint64, n)
	total := uint64(0)
	for i := range lens {
		lens[i] = d.uint()
		total += lens[i]
		if total > uint64(len(d.data)-d.pos) {
			d.fail()
			return
		}
	}
	if d.err != nil {
		return
	}
	var blob string
	if d.owned && total > 0 {
		// The bytes are never modified: the strings can be them.
		blob = unsafe.String(&d.data[d.pos], int(total))
	} else {
		blob = string(d.data[d.pos : d.pos+int(total)])
	}
	d.pos += int(total)
	d.strs = make([]string, n)
	off := 0
	for i, l := range lens {
		d.strs[i] = blob[off : off+int(l)]
		off += int(l)
	}
}

func (d *decoder) str() string {
	id := d.uint()
	if id >= uint64(len(d.strs)) {
		d.fail()
		return ""
	}
	return d.strs[id]
}

func (d *decoder) strings() []string {
	n, ok := d.count()
	if !ok {
		return nil
	}
	if n == 0 {
		return []string{}
	}
	if n > len(d.slab) {
		d.slab = make([]string, max(n, 4096))
	}
	out := d.slab[:n:n]
	d.slab = d.slab[n:]
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) int32s() []int32 {
	n, ok := d.count()
	if !ok {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = d.int32()
	}
	return out
}

func (d *decoder) snapshot() *Snapshot {
	s := &Snapshot{Key: d.str()}
	if n, ok := d.count(); ok {
		s.Env = make(map[string]EnvValue, n)
		for range n {
			name := d.str()
			s.Env[name] = EnvValue{Value: d.str(), Set: d.bool()}
		}
	}
	if n, ok := d.count(); ok {
		// One allocation for every action.
		all := make([]graph.Action, n)
		s.Actions = make([]*graph.Action, n)
		for i := range all {
			d.action(&all[i])
			s.Actions[i] = &all[i]
			if d.err != nil {
				return nil
			}
		}
		d.digests = d.digestList(n)
	}
	s.Goals = d.strings()
	s.Reads = d.reads()
	s.Index = d.index()
	s.Links = d.links()
	return s
}

// digestList reads n digests of 32 bytes, one after the other: pieces of
// the data read when the decoder owns it (which is never modified), so
// that 100,000 actions' digests are not copied.
func (d *decoder) digestList(n int) [][32]byte {
	if n == 0 || d.err != nil {
		return nil
	}
	if n > (len(d.data)-d.pos)/32 {
		d.fail()
		return nil
	}
	var out [][32]byte
	if d.owned {
		out = unsafe.Slice((*[32]byte)(unsafe.Pointer(&d.data[d.pos])), n)
	} else {
		out = make([][32]byte, n)
		for i := range out {
			copy(out[i][:], d.data[d.pos+32*i:])
		}
	}
	d.pos += 32 * n
	return out
}

func (d *decoder) reads() *workspace.Reads {
	if !d.bool() {
		return nil
	}
	r := &workspace.Reads{}
	if n, ok := d.count(); ok {
		r.Files = make(map[string]string, n)
		for range n {
			k := d.str()
			r.Files[k] = d.str()
		}
	}
	if n, ok := d.count(); ok {
		r.Globs = make([]workspace.GlobRead, n)
		for i := range r.Globs {
			r.Globs[i] = workspace.GlobRead{Pkg: d.str(), Include: d.strings(), Exclude: d.strings(), Result: d.strings()}
		}
	}
	if n, ok := d.count(); ok {
		r.Packages = make(map[string][]string, n)
		for range n {
			k := d.str()
			r.Packages[k] = d.strings()
		}
	}
	if n, ok := d.count(); ok {
		r.Exists = make(map[string]bool, n)
		for range n {
			k := d.str()
			r.Exists[k] = d.bool()
		}
	}
	return r
}

func (d *decoder) action(a *graph.Action) {
	flags := d.uint()
	if flags&^flagAll != 0 {
		d.fail()
		return
	}
	a.Executable = flags&flagExecutable != 0
	a.Jobserver = flags&flagJobserver != 0
	a.NoCache = flags&flagNoCache != 0
	a.NoSandbox = flags&flagNoSandbox != 0
	a.Test = flags&flagTest != 0
	a.QuietOutput = flags&flagQuietOutput != 0
	a.QuietFailure = flags&flagQuietFailure != 0
	a.AllowDaemon = flags&flagAllowDaemon != 0
	a.NoRemoteExec = flags&flagNoRemoteExec != 0
	a.NoRemoteCache = flags&flagNoRemoteCache != 0
	a.Serial = flags&flagSerial != 0
	a.Owner = d.str()
	a.Mnemonic = d.str()
	a.Description = d.str()
	a.Argv = d.strings()
	a.Env = d.strings()
	var m graph.More // on the stack: most actions have none (SetMore)
	if flags&flagContent != 0 {
		n := d.uint()
		if n > uint64(len(d.data)-d.pos) {
			d.fail()
			return
		}
		m.Content = slices.Clone(d.data[d.pos : d.pos+int(n)])
		if m.Content == nil {
			m.Content = []byte{}
		}
		d.pos += int(n)
	}
	a.Inputs = d.strings()
	a.Outputs = d.strings()
	m.Discoverable = d.strings()
	m.Depfile = d.str()
	m.JobserverStyle = d.str()
	m.Timeout = time.Duration(d.int())
	if n, ok := d.count(); ok {
		m.ExecProperties = make(map[string]string, n)
		for range n {
			k := d.str()
			m.ExecProperties[k] = d.str()
		}
	}
	m.Group = d.str()
	m.Hint = d.str()
	m.Pipeline = d.str()
	m.Stage = d.str()
	a.SetMore(m)
}

func (d *decoder) index() *Index {
	if !d.bool() {
		return nil
	}
	x := &Index{}
	if n, ok := d.count(); ok {
		x.Packages = make([]Package, n)
		for i := range x.Packages {
			x.Packages[i] = Package{Path: d.str(), Files: d.strings(), Roots: d.strings()}
		}
	}
	x.Names = d.strings()
	for _, p := range []*[]int32{&x.Pkgs, &x.Actions, &x.ChildEnd, &x.Children, &x.DepEnd, &x.Deps, &x.RootGoalEnd} {
		*p = d.int32s()
	}
	if n, ok := d.count(); ok {
		x.Env = make([]TargetStrings, n)
		for i := range x.Env {
			x.Env[i] = TargetStrings{Target: d.int32(), Values: d.strings()}
		}
	}
	return x
}

func (d *decoder) links() *Links {
	if !d.bool() {
		return nil
	}
	return &Links{Edges: d.int32s(), Goals: d.int32s()}
}
