package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Packs: entries of at most Options.PackMax bytes are appended to one
// pack file per writing Store (one per build), not written as a file
// each: creating a file costs far more than appending a few hundred bytes
// to an open one. See the package comment for the contract; this file
// holds the formats and the index.
//
// A pack is "bld-pack-1\n" followed by records:
//
//	magic "bpr1" | n, uint32 LE, the body's length | SHA-256 of the body |
//	body: key (32 bytes) | use time (int64 LE, Unix ns) | entry body
//
// where the entry body is what an entry file holds after its first line
// (the count of refs, the refs, the payload). A record is written with
// one write(2) by the one process that owns the pack (it holds an
// exclusive flock on it while it may append), so that a reader sees the
// records before it whole and at most one incomplete record at the end,
// which it ignores (it is being written, or its writer died).
//
// A pack's index NAME.idx, written when its writer seals it (RecordBuild)
// or by maintenance for a pack whose writer is gone, is
//
//	"bld-pack-index-2\n" | pack size (uint64) | count (uint32) |
//	count x (key 32 | offset uint64 | length uint32 | use time int64) |
//	SHA-256 of all that precedes
//
// with one entry per key (its most recent record), sorted by key, so that
// a key is found by a binary search in the file rather than in a map of
// every record. An index whose checksum fails, whose pack size is not the
// pack's, whose entries are not strictly sorted, or of another version
// ("bld-pack-index-1", unsorted) is ignored and the pack is scanned
// instead; RecordBuild writes an index of an older version again.

const (
	packDir      = "packs"
	packHeader   = "bld-pack-1\n"
	indexHeader  = "bld-pack-index-2\n"
	recordMagic  = "bpr1"
	recordHead   = 4 + 4 + sha256.Size // magic, length, checksum
	recordPrefix = 32 + 8              // key, use time
	packExt      = ".pack"
	indexExt     = ".idx"

	// DefaultPackMax is the size up to which an entry goes to a pack when
	// Options.PackMax is 0: results with their small outputs inlined are a
	// few hundred bytes to some kilobytes; a result larger than this
	// (hundreds of inlined outputs) is a file of its own.
	DefaultPackMax = 1 << 20

	// maxPacks is how many sealed packs RecordBuild lets accumulate
	// before it merges them into one, so that opening the index stays a
	// few reads however many builds have run.
	maxPacks = 16
)

// packLoc is where a record is: its pack, offset and length (header
// included), and its use time.
type packLoc struct {
	p    *packFile
	off  int64
	n    int64
	used int64
}

// packFile is a pack this Store has indexed, open for reading (an open
// file stays readable when a merge removes it).
type packFile struct {
	name   string // base name, without packExt
	f      *os.File
	sealed bool       // it no longer grows: its index was valid, or this Store sealed it
	end    int64      // what has been scanned of it; its size if idx is set
	idx    *packIndex // its index, if it was valid when the pack was opened
}

// packWriter is this Store's own pack, open for appending.
type packWriter struct {
	pf   *packFile
	f    *os.File // O_APPEND, the same file as pf.f
	recs []indexRec
}

// indexRec is one record of an index.
type indexRec struct {
	key  [32]byte
	off  int64
	n    int64
	used int64
}

// packState is a Store's view of the packs: the packs it has open, its
// index in memory of the records of those it scanned (being written when
// opened, or without a valid index) and wrote, and its own pack. The
// records of the packs opened with a valid index are looked up in their
// index files, not held in memory.
type packState struct {
	index     map[[32]byte]packLoc
	packs     map[string]*packFile
	indexed   []*packFile      // the packs with an index, in the order of their names
	forgotten map[packLoc]bool // records of indexed packs that did not verify
	dirMtime  time.Time
	loaded    bool
	notFile   string // a non-file in place of a pack, if the listing found one
	damaged   bool   // a record that did not verify was found
	w         *packWriter
}

func (s *Store) packPath(name string) string { return filepath.Join(s.dir, packDir, name+packExt) }
func (s *Store) indexPath(name string) string {
	return filepath.Join(s.dir, packDir, name+indexExt)
}

// packMax is the size up to which an entry body goes to a pack; -1 for
// none.
func (s *Store) packMax() int64 {
	switch {
	case s.opts.PackMax < 0:
		return -1
	case s.opts.PackMax == 0:
		return DefaultPackMax
	}
	return s.opts.PackMax
}

// encodeRecord returns the record of key with use time used and entry
// body body.
func encodeRecord(key [32]byte, used int64, body []byte) []byte {
	rec := make([]byte, recordHead+recordPrefix+len(body))
	b := rec[recordHead:]
	copy(b, key[:])
	binary.LittleEndian.PutUint64(b[32:], uint64(used))
	copy(b[recordPrefix:], body)
	copy(rec, recordMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(b)))
	sum := sha256.Sum256(b)
	copy(rec[8:], sum[:])
	return rec
}

var errBadRecord = errors.New("bad pack record")

// decodeRecord verifies rec, one whole record, and returns its key, use
// time and entry body.
func decodeRecord(rec []byte) (key [32]byte, used int64, body []byte, err error) {
	if len(rec) < recordHead+recordPrefix || string(rec[:4]) != recordMagic ||
		int(binary.LittleEndian.Uint32(rec[4:])) != len(rec)-recordHead {
		return key, 0, nil, errBadRecord
	}
	b := rec[recordHead:]
	if sum := sha256.Sum256(b); !bytes.Equal(sum[:], rec[8:recordHead]) {
		return key, 0, nil, errBadRecord
	}
	copy(key[:], b)
	return key, int64(binary.LittleEndian.Uint64(b[32:])), b[recordPrefix:], nil
}

func parseKey(key string) ([32]byte, bool) {
	var k [32]byte
	_, err := hex.Decode(k[:], []byte(key))
	return k, err == nil
}

// scanPack reads the records of f from offset from to its current end and
// calls found for each whole one (verified if verify, else framed only).
// It returns the offset after the last whole record it could frame: an
// incomplete record at the end (being written, or torn by a crash) is not
// reported, and neither is anything after a record whose framing is
// damaged (its length cannot be trusted). A record that frames but does
// not verify is reported to bad, if not nil.
func scanPack(f *os.File, from int64, verify bool, found func(r indexRec, rec []byte), bad func(off int64)) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return from, err
	}
	if fi.Size() <= from {
		return from, nil // nothing new
	}
	if from == 0 {
		var h [len(packHeader)]byte
		if _, err := f.ReadAt(h[:], 0); err != nil || string(h[:]) != packHeader {
			return 0, nil // not (yet) a pack: nothing in it
		}
		from = int64(len(packHeader))
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, fi.Size()-from), int(min(fi.Size()-from, 64<<10)))
	off := from
	var head [recordHead]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return off, nil // the end, or an incomplete header
		}
		n := int64(binary.LittleEndian.Uint32(head[4:]))
		if string(head[:4]) != recordMagic || n < recordPrefix || n > maxRecordBody {
			return off, nil
		}
		rec := make([]byte, recordHead+n)
		copy(rec, head[:])
		if _, err := io.ReadFull(br, rec[recordHead:]); err != nil {
			return off, nil // incomplete
		}
		var r indexRec
		if verify {
			k, used, _, err := decodeRecord(rec)
			if err != nil {
				if bad != nil {
					bad(off)
				}
				off += int64(len(rec))
				continue
			}
			r = indexRec{key: k, used: used}
		} else {
			copy(r.key[:], rec[recordHead:])
			r.used = int64(binary.LittleEndian.Uint64(rec[recordHead+32:]))
		}
		r.off, r.n = off, int64(len(rec))
		found(r, rec)
		off += r.n
	}
}

// maxRecordBody bounds a record's body, so that a damaged length is not
// taken for a huge record.
const maxRecordBody = 1<<30 - 1

// indexEntry is the size of an index entry: key 32 | offset uint64 |
// length uint32 | use time int64.
const indexEntry = 32 + 8 + 4 + 8

// A sealed pack's index is searched without reading its entries into
// memory when they are many: the Store keeps the key of every
// indexStride-th entry (a byte per record) and a lookup reads the one
// block of indexStride entries that may hold its key (one pread of
// 1.6 kB). The entries of an index of at most indexInMemory bytes (a
// build's pack) are kept in memory instead (52 bytes per record): a
// lookup in them costs no system call.
const (
	indexStride   = 32
	indexInMemory = 1 << 20
)

// packIndex is the index of a sealed pack, open for lookups.
type packIndex struct {
	f      *os.File   // the index file, if entries is nil
	count  int        // of entries
	sample [][32]byte // if entries is nil: the key of entries 0, indexStride, 2*indexStride...
	// entries are the index's entries, if it is small.
	entries []byte
}

// openIndex opens the index of the pack name and returns it if it is valid
// for a pack of size size: its header is this version's, its checksum
// verifies (read once, here), its entries are sorted by key without
// duplicates. Anything else (no index, an older version's, damaged) is not
// ok: the pack is scanned instead.
func (s *Store) openIndex(name string, size int64) (*packIndex, bool) {
	f, fi, err := openStoreFile(s.indexPath(name))
	if err != nil {
		return nil, false
	}
	pi, ok := readIndex(f, fi.Size(), size)
	if !ok || pi.entries != nil {
		f.Close()
	}
	return pi, ok
}

// indexHead is the size of an index's header: its version line, the pack
// size and the count.
const indexHead = len(indexHeader) + 8 + 4

// readIndex checks the index file f, of fsize bytes, for a pack of size
// size, and reads its entries if it is small, else samples its keys.
func readIndex(f *os.File, fsize, size int64) (*packIndex, bool) {
	if fsize < int64(indexHead+sha256.Size) || (fsize-int64(indexHead+sha256.Size))%indexEntry != 0 {
		return nil, false
	}
	h := sha256.New()
	var hb [indexHead]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil || string(hb[:len(indexHeader)]) != indexHeader {
		return nil, false
	}
	h.Write(hb[:])
	b := hb[len(indexHeader):]
	count := int(binary.LittleEndian.Uint32(b[8:]))
	if int64(binary.LittleEndian.Uint64(b)) != size || int64(count) != (fsize-int64(indexHead+sha256.Size))/indexEntry {
		return nil, false
	}
	pi := &packIndex{f: f, count: count}
	var buf []byte
	if int64(count)*indexEntry <= indexInMemory {
		pi.entries = make([]byte, count*indexEntry)
		buf = pi.entries
	} else {
		pi.sample = make([][32]byte, 0, (count+indexStride-1)/indexStride)
		buf = make([]byte, 256*indexStride*indexEntry)
	}
	var prev []byte
	for i := 0; i < count; {
		chunk := buf[:min(len(buf), (count-i)*indexEntry)]
		if pi.entries != nil {
			chunk = buf[i*indexEntry:]
		}
		if _, err := f.ReadAt(chunk, int64(indexHead+i*indexEntry)); err != nil {
			return nil, false
		}
		h.Write(chunk)
		for e := chunk; len(e) > 0; e, i = e[indexEntry:], i+1 {
			if prev != nil && bytes.Compare(prev, e[:32]) >= 0 {
				return nil, false // not sorted: not this version's
			}
			if pi.entries == nil && i%indexStride == 0 {
				pi.sample = append(pi.sample, [32]byte(e[:32]))
			}
			prev = e[:32]
		}
		if pi.entries == nil {
			// prev is overwritten by the next chunk: keep a copy.
			prev = append([]byte(nil), prev...)
		}
	}
	var sum [sha256.Size]byte
	if _, err := f.ReadAt(sum[:], fsize-sha256.Size); err != nil || !bytes.Equal(h.Sum(nil), sum[:]) {
		return nil, false
	}
	if pi.entries != nil {
		pi.f = nil
	}
	return pi, true
}

// find returns the index entry of k in pi, if it has one; ok is false as
// well if the index cannot be read (it was changed since it was opened:
// the entry it would give could not be trusted anyway).
func (pi *packIndex) find(k [32]byte) (r indexRec, ok bool) {
	block := pi.entries
	if block == nil {
		// The last block whose first key is at most k.
		j := sort.Search(len(pi.sample), func(i int) bool { return bytes.Compare(pi.sample[i][:], k[:]) > 0 }) - 1
		if j < 0 {
			return r, false
		}
		first := j * indexStride
		var buf [indexStride * indexEntry]byte
		block = buf[:min(indexStride, pi.count-first)*indexEntry]
		if _, err := pi.f.ReadAt(block, int64(indexHead+first*indexEntry)); err != nil {
			return r, false
		}
	}
	n := len(block) / indexEntry
	i := sort.Search(n, func(i int) bool { return bytes.Compare(block[i*indexEntry:i*indexEntry+32], k[:]) >= 0 })
	if i == n || !bytes.Equal(block[i*indexEntry:i*indexEntry+32], k[:]) {
		return r, false
	}
	e := block[i*indexEntry:]
	r.key = k
	r.off = int64(binary.LittleEndian.Uint64(e[32:]))
	r.n = int64(binary.LittleEndian.Uint32(e[40:]))
	r.used = int64(binary.LittleEndian.Uint64(e[44:]))
	return r, true
}

// writeIndex writes the index of the pack name, of size size, from its
// records recs: sorted by key, with the most recent record of each key
// only. recs is sorted in place (its callers are done with it), and the
// file is encoded as it is written, through a small buffer: at the end of
// a build of 100,000 actions, when the heap is at its largest, a sorted
// copy of the records and the whole file in memory were ~11 MB more.
func (s *Store) writeIndex(name string, size int64, recs []indexRec) error {
	sort.Slice(recs, func(i, j int) bool {
		if c := bytes.Compare(recs[i].key[:], recs[j].key[:]); c != 0 {
			return c < 0
		}
		if recs[i].used != recs[j].used {
			return recs[i].used > recs[j].used
		}
		return recs[i].off > recs[j].off // the later record of a tie
	})
	count := 0
	for i, r := range recs {
		if i == 0 || r.key != recs[i-1].key {
			count++
		}
	}
	return WriteFileFrom(s.indexPath(name), s.tempDir(), 0o644, func(f io.Writer) error {
		h := sha256.New()
		w := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
		var b []byte
		b = append(b, indexHeader...)
		b = binary.LittleEndian.AppendUint64(b, uint64(size))
		b = binary.LittleEndian.AppendUint32(b, uint32(count))
		w.Write(b)
		for i, r := range recs {
			if i > 0 && r.key == recs[i-1].key {
				continue
			}
			b = append(b[:0], r.key[:]...)
			b = binary.LittleEndian.AppendUint64(b, uint64(r.off))
			b = binary.LittleEndian.AppendUint32(b, uint32(r.n))
			b = binary.LittleEndian.AppendUint64(b, uint64(r.used))
			w.Write(b)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		_, err := f.Write(h.Sum(nil))
		return err
	})
}

// indexLocked brings s's index of the packs up to date: packs it has not
// seen are opened and indexed (from their index file, or by a scan),
// packs that may still grow are scanned from where it stopped. The
// directory is listed again only when its modification time changed (a
// pack was added or removed). It reports whether it found records or
// packs it had not seen. Caller holds s.mu.
func (s *Store) indexLocked() (changed bool) {
	ps := &s.packs
	if ps.index == nil {
		ps.index = map[[32]byte]packLoc{}
		ps.packs = map[string]*packFile{}
	}
	for _, p := range ps.packs {
		if !p.sealed && (ps.w == nil || p != ps.w.pf) {
			changed = s.scanInto(p) || changed
		}
	}
	dir := filepath.Join(s.dir, packDir)
	fi, err := os.Stat(dir)
	if err != nil || ps.loaded && fi.ModTime().Equal(ps.dirMtime) {
		return changed
	}
	ps.loaded, ps.dirMtime = true, fi.ModTime()
	des, err := os.ReadDir(dir)
	if err != nil {
		return changed
	}
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), packExt)
		if !ok || ps.packs[name] != nil {
			continue
		}
		f, fi, err := openStoreFile(filepath.Join(dir, de.Name()))
		if errors.Is(err, errNotFile) {
			ps.notFile = filepath.Join(dir, de.Name())
		}
		if err != nil {
			continue
		}
		p := &packFile{name: name, f: f}
		ps.packs[name] = p
		changed = true
		if pi, ok := s.openIndex(name, fi.Size()); ok {
			p.sealed, p.end, p.idx = true, fi.Size(), pi
			ps.indexed = append(ps.indexed, p)
			continue
		}
		s.scanInto(p)
	}
	return changed
}

// scanInto indexes the records of p past what was scanned of it, and
// reports whether there were any.
func (s *Store) scanInto(p *packFile) bool {
	end, err := scanPack(p.f, p.end, false, func(r indexRec, _ []byte) { s.indexRecord(p, r) }, nil)
	if err != nil || end == p.end {
		return false
	}
	p.end = end
	return true
}

// indexRecord adds r of p to the index unless it holds a more recent
// record of its key.
func (s *Store) indexRecord(p *packFile, r indexRec) {
	if old, ok := s.packs.index[r.key]; ok && old.used > r.used {
		return
	}
	s.packs.index[r.key] = packLoc{p: p, off: r.off, n: r.n, used: r.used}
}

// lookupLocked returns where the most recent record of k is among the
// packs s has opened: in its index in memory, or in the index of a sealed
// pack (a record forgotten as damaged excepted). Caller holds s.mu.
func (s *Store) lookupLocked(k [32]byte) (packLoc, bool) {
	ps := &s.packs
	loc, ok := ps.index[k]
	for _, p := range ps.indexed {
		r, found := p.idx.find(k)
		// An entry that does not fit in the pack is not trusted (its
		// index was changed since it was checked); nor is the record an
		// entry points to, which getPacked verifies.
		if !found || r.off < int64(len(packHeader)) || r.n < recordHead+recordPrefix ||
			r.n > recordHead+maxRecordBody || r.off+r.n > p.end {
			continue
		}
		l := packLoc{p: p, off: r.off, n: r.n, used: r.used}
		if ps.forgotten[l] || ok && loc.used > l.used {
			continue
		}
		loc, ok = l, true
	}
	return loc, ok
}

// getPacked returns the entry under key from the packs, ErrMissing if
// they have none, ErrCorrupt if its record does not verify (it is then
// forgotten: packs are never written in place; maintenance drops it).
func (s *Store) getPacked(k [32]byte) (Entry, error) {
	s.mu.Lock()
	loc, ok := s.lookupLocked(k)
	if !ok && s.indexLocked() {
		loc, ok = s.lookupLocked(k)
	}
	notFile := s.packs.notFile
	s.mu.Unlock()
	if !ok {
		if notFile != "" {
			// The entry may be in it: a Fault, as for an entry file.
			return Entry{}, fault("read", notFile, errNotFile)
		}
		return Entry{}, ErrMissing
	}
	rec := make([]byte, loc.n)
	if _, err := loc.p.f.ReadAt(rec, loc.off); err != nil {
		s.forget(k, loc)
		if errors.Is(err, io.EOF) {
			return Entry{}, ErrCorrupt // the pack is shorter than its index says
		}
		return Entry{}, fault("read", loc.p.f.Name(), err)
	}
	key, used, body, err := decodeRecord(rec)
	if err != nil || key != k {
		s.forget(k, loc)
		return Entry{}, ErrCorrupt
	}
	e, err := decodeEntryBody(body)
	if err != nil {
		s.forget(k, loc)
		return Entry{}, ErrCorrupt
	}
	e.Used = time.Unix(0, used)
	return e, nil
}

// forget removes loc, a damaged record, from the index in memory if it is
// still k's there, or notes it as not to be read again if it is in a
// sealed pack's index, and notes that its pack is damaged: RecordBuild
// rewrites it without it.
func (s *Store) forget(k [32]byte, loc packLoc) {
	s.mu.Lock()
	if s.packs.index[k] == loc {
		delete(s.packs.index, k)
	} else if loc.p.idx != nil {
		if s.packs.forgotten == nil {
			s.packs.forgotten = map[packLoc]bool{}
		}
		s.packs.forgotten[loc] = true
	}
	s.packs.damaged = true
	s.mu.Unlock()
}

// putPacked appends the record of key to s's own pack, creating it if
// needed. Its errors are Faults.
func (s *Store) putPacked(k [32]byte, used int64, body []byte) error {
	rec := encodeRecord(k, used, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.packWriterLocked()
	if err != nil {
		return err
	}
	off := w.pf.end
	if _, err := w.f.Write(rec); err != nil {
		// The pack may now end with part of this record (a full disk):
		// cut it off, or, failing that, leave it (readers ignore it) and
		// start another pack.
		if w.f.Truncate(off) != nil {
			flock(w.f, syscall.LOCK_UN)
			s.packs.w = nil
		}
		return fault("write", s.packPath(w.pf.name), err)
	}
	r := indexRec{key: k, off: off, n: int64(len(rec)), used: used}
	w.pf.end += r.n
	w.recs = append(w.recs, r)
	s.indexRecord(w.pf, r)
	s.added += r.n
	return nil
}

// packWriterLocked returns s's own pack, creating it: in this process's
// temporary directory first, locked and with its header, then renamed into
// packs/, so that no other process ever sees it unlocked before its
// writer is done with it. Caller holds s.mu.
func (s *Store) packWriterLocked() (*packWriter, error) {
	if s.packs.w != nil {
		return s.packs.w, nil
	}
	if s.packs.packs == nil {
		s.indexLocked()
	}
	dir := filepath.Join(s.dir, packDir)
	name := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64(), 36)
	tmpDir := s.tempDir()
	if tmpDir == "" {
		tmpDir = dir
	}
	if err := os.MkdirAll(tmpDir, 0o777); err != nil {
		return nil, fault("write", tmpDir, err)
	}
	tmp := filepath.Join(tmpDir, tmpPrefix+name+packExt)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fault("write", tmp, err)
	}
	fail := func(err error) (*packWriter, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fault("write", s.packPath(name), err)
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(packHeader); err != nil {
		return fail(err)
	}
	if err := renameFile(tmp, s.packPath(name)); err != nil {
		if !errors.Is(err, fs.ErrNotExist) || os.MkdirAll(dir, 0o777) != nil {
			return fail(err)
		}
		if err := renameFile(tmp, s.packPath(name)); err != nil {
			return fail(err)
		}
	}
	pf := &packFile{name: name, f: f, end: int64(len(packHeader))}
	s.packs.packs[name] = pf
	s.packs.w = &packWriter{pf: pf, f: f}
	s.added += int64(len(packHeader))
	return s.packs.w, nil
}

// sealLocked writes the index of s's own pack and releases it: the pack
// no longer grows, and maintenance may merge it. Caller holds s.mu.
func (s *Store) sealLocked() error {
	w := s.packs.w
	if w == nil {
		return nil
	}
	s.packs.w = nil
	err := s.writeIndex(w.pf.name, w.pf.end, w.recs)
	w.pf.sealed = err == nil
	// Releasing the lock lets maintenance merge the pack; this Store
	// keeps reading it through its descriptor.
	flock(w.f, syscall.LOCK_UN)
	return fault("write", s.indexPath(w.pf.name), err)
}

// seal seals s's own pack, if it has one.
func (s *Store) seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

// Close seals the Store's pack (see RecordBuild) and closes the packs it
// has open. The Store can still be used: it opens them again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.sealLocked()
	for _, p := range s.packs.packs {
		p.f.Close()
		if p.idx != nil && p.idx.f != nil {
			p.idx.f.Close()
		}
	}
	s.packs = packState{}
	s.put.close()
	return err
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// A packInfo is a pack found by maintenance, and whether it is idle (no
// writer holds it: it can be merged or rewritten).
type packInfo struct {
	name  string
	path  string
	size  int64
	mtime time.Time
}

// listPacks lists the packs in packs/, and the non-files (directories,
// FIFOs) in place of packs.
func (s *Store) listPacks() (packs []packInfo, notFiles []string, err error) {
	dir := filepath.Join(s.dir, packDir)
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), packExt)
		if !ok {
			continue
		}
		if !de.Type().IsRegular() {
			notFiles = append(notFiles, filepath.Join(dir, de.Name()))
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		packs = append(packs, packInfo{name: name, path: filepath.Join(dir, de.Name()), size: fi.Size(), mtime: fi.ModTime()})
	}
	return packs, notFiles, nil
}

// lockIdle opens the pack p and takes its lock if no writer holds it; ok
// is false for a pack being written. The lock is held until f is closed.
func lockIdle(p packInfo) (f *os.File, ok bool) {
	f, _, err := openStoreFile(p.path)
	if err != nil {
		return nil, false
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// A packedEntry is a record of an idle pack, as maintenance sees it.
type packedEntry struct {
	pack int // index in the idle packs; -1 in a pack being written
	key  [32]byte
	used int64
	size int64
	refs []string // hashes of the blobs it refers to
	rec  []byte
	bad  bool // did not verify (or its entry body did not decode)
}

// idlePacks is the idle packs maintenance holds locked, and the records of
// every pack (those being written included).
type idlePacks struct {
	packs   []packInfo
	files   []*os.File
	entries []*packedEntry
	size    int64 // of the idle packs and their indexes
	live    int   // packs being written
}

func (ip *idlePacks) close() {
	for _, f := range ip.files {
		f.Close()
	}
}

// readPacks locks and reads every idle pack, and reads the packs being
// written as far as they are. Records whose framing fails are lost with
// what follows them (as a reader would); records that frame but do not
// verify are listed as bad.
func (s *Store) readPacks() (*idlePacks, error) {
	list, _, err := s.listPacks()
	if err != nil {
		return nil, err
	}
	ip := &idlePacks{}
	for _, p := range list {
		f, idle := lockIdle(p)
		i := -1
		if idle {
			i = len(ip.packs)
			ip.packs = append(ip.packs, p)
			ip.files = append(ip.files, f)
			ip.size += p.size
			if fi, err := os.Stat(s.indexPath(p.name)); err == nil {
				ip.size += fi.Size()
			}
		} else if f, _, err = openStoreFile(p.path); err != nil {
			continue // gone since
		} else {
			ip.live++
		}
		_, err := scanPack(f, 0, true, func(r indexRec, rec []byte) {
			pe := &packedEntry{pack: i, key: r.key, used: r.used, size: r.n, rec: rec}
			_, _, body, _ := decodeRecord(rec)
			if e, err := decodeEntryBody(body); err == nil {
				for _, d := range e.Refs {
					pe.refs = append(pe.refs, d.Hash)
				}
			} else {
				pe.bad = true
			}
			ip.entries = append(ip.entries, pe)
		}, func(off int64) {
			ip.entries = append(ip.entries, &packedEntry{pack: i, bad: true})
		})
		if !idle {
			f.Close()
		}
		if err != nil {
			ip.close()
			return nil, err
		}
	}
	return ip, nil
}

// superseded marks, among the records of ip, those of a key with a more
// recent record (in any pack): they are dropped by the next rewrite.
func (ip *idlePacks) superseded() map[*packedEntry]bool {
	newest := map[[32]byte]*packedEntry{}
	old := map[*packedEntry]bool{}
	for _, pe := range ip.entries {
		if pe.bad {
			continue
		}
		if n := newest[pe.key]; n == nil || n.used <= pe.used {
			if n != nil {
				old[n] = true
			}
			newest[pe.key] = pe
		} else {
			old[pe] = true
		}
	}
	return old
}

// rewrite replaces the idle packs with one pack holding the newest
// record of each key among those keep accepts (nil keeps every good
// one), and its index; with nothing to keep, the packs just go. It
// returns the size of what it wrote. A reader holding an old pack open
// still reads it; one that lists the directory meanwhile may index both
// the old packs and the new one, whose records are the same.
func (s *Store) rewrite(ip *idlePacks, keep func(*packedEntry) bool) (int64, error) {
	newest := map[[32]byte]*packedEntry{}
	for _, pe := range ip.entries {
		if pe.bad || pe.pack < 0 || keep != nil && !keep(pe) {
			continue
		}
		if old := newest[pe.key]; old == nil || old.used <= pe.used {
			newest[pe.key] = pe
		}
	}
	var out []*packedEntry
	for _, pe := range newest {
		out = append(out, pe)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].used != out[j].used {
			return out[i].used < out[j].used
		}
		return bytes.Compare(out[i].key[:], out[j].key[:]) < 0
	})
	var written int64
	if len(out) > 0 {
		var buf bytes.Buffer
		buf.WriteString(packHeader)
		recs := make([]indexRec, 0, len(out))
		for _, pe := range out {
			recs = append(recs, indexRec{key: pe.key, off: int64(buf.Len()), n: int64(len(pe.rec)), used: pe.used})
			buf.Write(pe.rec)
		}
		name := fmt.Sprintf("%d-%s", os.Getpid(), strconv.FormatUint(rand.Uint64(), 36))
		// The index first: a pack without one is only scanned.
		if err := s.writeIndex(name, int64(buf.Len()), recs); err != nil {
			return 0, err
		}
		if err := WriteFileVia(s.packPath(name), s.tempDir(), buf.Bytes(), 0o644); err != nil {
			os.Remove(s.indexPath(name))
			return 0, err
		}
		written = int64(buf.Len())
		if fi, err := os.Stat(s.indexPath(name)); err == nil {
			written += fi.Size()
		}
	}
	var errs []error
	for _, p := range ip.packs {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		os.Remove(s.indexPath(p.name))
	}
	return written, errors.Join(errs...)
}

// tidyPacks writes the index of idle packs that have none (their
// writer was killed), and merges the idle packs into one when there are
// more than maxPacks, or when s found a damaged record (the merge drops
// it). Caller holds the stats lock. It returns the change
// in the store's size.
func (s *Store) tidyPacks() (int64, error) {
	list, _, err := s.listPacks()
	if err != nil {
		return 0, err
	}
	idle := 0
	for _, p := range list {
		f, ok := lockIdle(p)
		if !ok {
			continue
		}
		idle++
		// An index of this version is taken as valid here (readers
		// check it): reading every index at every build costs more than
		// an occasional scan by readers of a damaged one. One of an
		// older version is written again.
		if !hasIndex(s.indexPath(p.name)) {
			var recs []indexRec
			// Indexed with the pack's whole size, a torn record at its
			// end is never read again.
			if _, err := scanPack(f, 0, true, func(r indexRec, _ []byte) { recs = append(recs, r) }, nil); err == nil {
				s.writeIndex(p.name, p.size, recs)
			}
		}
		f.Close()
	}
	s.mu.Lock()
	damaged := s.packs.damaged
	s.packs.damaged = false
	s.mu.Unlock()
	if idle <= maxPacks && !damaged {
		return 0, nil
	}
	ip, err := s.readPacks()
	if err != nil {
		return 0, err
	}
	defer ip.close()
	written, err := s.rewrite(ip, nil)
	return written - ip.size, err
}

// hasIndex reports whether the index file path exists and has this
// version's header.
func hasIndex(path string) bool {
	f, _, err := openStoreFile(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [len(indexHeader)]byte
	_, err = io.ReadFull(f, h[:])
	return err == nil && string(h[:]) == indexHeader
}

// hasPacks reports whether the store may hold packs (for a Store that
// writes none itself: Options.PackMax < 0).
func (s *Store) hasPacks() bool {
	_, err := os.Stat(filepath.Join(s.dir, packDir))
	return err == nil
}
