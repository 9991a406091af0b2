package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"bld/exec/crash"
	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/reapi"
	"bld/exec/store"
	"bld/exec/toolchain"
)

// The action record is this workspace's memory of the actions whose
// outputs are in place, so that a no-op build decides each action with a
// stat per file, without computing its key or reading the shared cache
// (ninja's semantics, locally). It maps an action's identity (its sorted
// outputs, as explain records do) to:
//
//   - the digest of its description, everything its key depends on but the
//     content of files: argv, environment, content and executable bit of a
//     file-writing action, the input, candidate and output lists, the
//     depfile, where it runs, the platform, the path argv[0] resolves
//     to in the action's PATH, and for a compiler driver the paths its
//     programs resolve to (the toolchain memo's answers for the action's
//     toolchain arguments and environment, resolved in its PATH: a fast
//     check without such an answer takes the slow path);
//   - the paths of the other files its key covers: the read set its depfile
//     gave (readset.go), and the programs of a compiler driver;
//   - the stamp (size, modification time, status-change time, inode,
//     executable bit) of each keyed input, of those other files, of each
//     output and of the tool, each taken from a file-digest memo entry
//     whose digest is the one the key was computed from (inputs, tool) or
//     the cached result names (outputs), and which was not racy;
//   - the action key, and when the record last refreshed the recency of
//     the key's action result.
//
// A record therefore says: "while these files have these stamps, the
// action's key is KEY and its outputs are those of KEY's result". Check
// trusts it when the description digest and every stamp match (and the
// unsettled files below have their recorded content); anything
// else (a file edited, chmodded, replaced, touched, or restamped with
// Chtimes, which changes the status-change time; a changed command line,
// environment or input list; the tool resolving elsewhere or changing)
// falls back to the full key and the shared cache, after which the record
// is refreshed. The trust is that of the file-digest memo, and no more: on
// systems without inodes and status-change times nothing is recorded at
// all, and a stamp taken from a racy memo entry (a file hashed within the
// timestamp granularity of its modification, as every output is when its
// action has just run, unless its file system's stamps are exact after a
// stat: see memo) is recorded unsettled, with the digest of the
// content it was keyed with: its stamp alone proves nothing, since the
// file may have changed again within the same tick. Check trusts an
// unsettled stamp only after hashing the file again and finding that
// content, and settles it (the stamp alone will do from then on) when
// that hash was not racy itself. Close settles what it can of the
// stamps recorded during the build, so that the first no-op build after
// a build that ran every action is as cheap as the next ones: most of
// the files were hashed again by the checks of the actions that read
// them (the memo then vouches for them without a read), and the others
// are hashed once, in parallel.
//
// The record lives in the workspace (by default bld-out/.bld/actions),
// is loaded once at Open and written at Close, atomically, if it changed;
// `bld clean` removes it with bld-out/. A missing, torn or garbage file
// (its checksum is verified) is ignored: the build takes the slow path.
// Actions with a directory among their inputs, or paths that cannot be
// written on one line, are not recorded.
//
// Its format is the header line, the SHA-256 of the body (32 bytes), then
// the body: one entry after another, each the uvarint-prefixed identity
// (outputs joined by NUL), the uvarint-prefixed key, the 32-byte
// description digest, the varint recency time (Unix ns), the uvarint
// number of other paths and each uvarint-prefixed path, the uvarint
// number of stamps, and each stamp as varint size, mtime, ctime, uvarint
// inode and one byte for the executable bit, then the uvarint number of
// unsettled stamps and each as its uvarint-prefixed path, the uvarint
// index of its stamp and the 32-byte SHA-256 of the content. Stamps are
// in the order keyed inputs, other paths, outputs, tool.

const (
	actionsHeader = "bld-actions 3\n"
	// descVersion starts every description digest: change it when what
	// a key covers changes, so that records of the old keys are not used.
	descVersion = "bld-fast-5"
)

// A fastEntry is the record of one action. It is never modified once in
// the map: updates replace it.
type fastEntry struct {
	key     string
	desc    [32]byte
	touched int64    // Unix ns: when the action result's recency was last refreshed
	paths   []string // the read set, then the toolchain's programs
	stamps  []stamp
	// unsettled are the stamps taken from racy memo entries, which
	// Check trusts only once the file is found to have that content.
	unsettled []unsettledStamp
}

// An unsettledStamp is a stamp of a fastEntry taken from a racy memo
// entry: stamps[i] is the stamp of path (a memo key) when its content had
// the SHA-256 hash.
type unsettledStamp struct {
	path string
	i    int
	hash [sha256.Size]byte
}

// A fastRecord holds the entries of the record. Those loaded from its file
// are slots, in the file's order, which is the order of the actions of the
// graph of the build that saved it (save's order): a build of the same
// graph finds action i's entry in slot i by comparing one identity (getAt's
// hint), with no lookup by name, no lock and no allocation per action.
// Slots are replaced atomically; identities not among them (actions new to
// the record) live in extra. An entry is never modified once in the
// record: updates replace it.
type fastRecord struct {
	file string
	tmp  string // where save writes its temporary file ("": beside file)
	// data is the file as loaded: the strings of the loaded entries are
	// pieces of it, so it is never written to.
	data  []byte
	slots []fastSlot
	// loaded are the entries parsed from data: slot i held &loaded[i]
	// (or nothing) when the file was read. ahead, if not nil, are stats
	// of their outputs taken ahead of the checks.
	loaded []fastEntry
	ahead  *aheadStats

	mu sync.Mutex
	// index maps the identity of each slot to its position, built on the
	// first lookup without a matching hint.
	index map[string]int32
	extra map[string]*fastEntry // by identity: entries not in slots

	dirty atomic.Bool
	// misplaced counts lookups with a hint whose identity was in another
	// slot or none: save then rewrites the record in the order it is given.
	misplaced atomic.Int64
}

// A fastSlot is an entry loaded from the record's file: its identity, and
// its entry as it is now (nil once removed).
type fastSlot struct {
	id string
	e  atomic.Pointer[fastEntry]
}

// loadFastRecord reads the record in file; a missing, unreadable or
// corrupt one is empty.
func loadFastRecord(file string) *fastRecord {
	r, _, _ := readFastRecord(file)
	return r
}

// readFastRecord is loadFastRecord, which also returns the stamp of the
// file it read (ok false if it read none).
func readFastRecord(file string) (r *fastRecord, st stamp, ok bool) {
	r = &fastRecord{file: file, extra: map[string]*fastEntry{}}
	f, err := os.Open(file)
	if err != nil {
		return r, stamp{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return r, stamp{}, false
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return r, stamp{}, false
	}
	if ids, entries, err := parseFastRecord(data); err == nil {
		r.data = data
		r.loaded = entries
		r.slots = make([]fastSlot, len(ids))
		for i := range ids {
			r.slots[i].id = ids[i]
			if entries[i].key != "" { // else a placeholder (save)
				r.slots[i].e.Store(&entries[i])
			}
		}
	}
	return r, stampOf(fi), true
}

// A Preload is a workspace's action record read ahead of Open, while the
// build does something else (loads the analysis snapshot): see
// PreloadRecord.
type Preload struct {
	file string
	done chan struct{}
	r    *fastRecord
	st   stamp
	ok   bool
	// dropped says that Drop let go of what was read.
	dropped bool
}

// PreloadRecord starts reading the action record in file (where
// Options.ActionsFile, or its default, says it is) in the background.
// Open, given it in Options.Preload, uses what it read if the file has not
// changed since (another build may have replaced it meanwhile, before this
// one took the workspace lock); otherwise Open reads the file again.
//
// With root (the workspace's), it then stats the outputs of the actions
// the record holds, in the background until Open, for the up-to-date
// checks to use rather than stat'ing them on the way to the first command
// (aheadStats). Pass root only when the caller holds the workspace lock
// from before this call to the end of the build, and no command of an
// earlier build is left running (build.Prepare killed them): then nothing
// but the actions of this build writes the outputs, and each action's own
// are stat'ed before it runs.
func PreloadRecord(file, root string) *Preload {
	p := &Preload{file: file, done: make(chan struct{})}
	crash.Go(func() {
		r, st, ok := readFastRecord(file)
		p.r, p.st, p.ok = r, st, ok
		if root == "" || len(r.slots) == 0 {
			close(p.done)
			return
		}
		a := newAheadStats(r)
		r.ahead = a
		close(p.done) // p.r is Drop's and Open's from now on
		d := openRootDir(root)
		defer d.close()
		a.fill(r, d)
	})
	return p
}

// Drop lets go of what p read, once the read is over (it waits for it),
// for a build that will not open the cache before long and has better use
// for the memory: one that loads and analyzes first (at 100,000 actions,
// the record is ~60 MB of live data, which analysis' own would come on
// top of). Open then reads the file again. It reports whether what it let
// go of held any entry. Drop must not be called concurrently with Open;
// it does nothing on a nil Preload.
func (p *Preload) Drop() (had bool) {
	if p == nil {
		return false
	}
	<-p.done
	had = p.r != nil && (len(p.r.slots) > 0 || len(p.r.extra) > 0)
	if p.r != nil && p.r.ahead != nil {
		p.r.ahead.stop.Store(true)
	}
	p.r, p.ok, p.dropped = nil, false, true
	return had
}

// record returns the record p read of file, if that is p's file, p was
// not dropped and the file is still as p read it; else it reads file.
func (p *Preload) record(file string) *fastRecord {
	if p == nil || p.file != file {
		return loadFastRecord(file)
	}
	<-p.done
	if p.dropped {
		return loadFastRecord(file)
	}
	if p.r.ahead != nil {
		// The checks begin: each stats for itself what was not
		// stat'ed ahead yet.
		p.r.ahead.stop.Store(true)
	}
	fi, err := os.Stat(file)
	switch {
	case !p.ok && err != nil:
		return p.r // none then, none now
	case p.ok && err == nil && stampOf(fi) == p.st:
		return p.r
	}
	return loadFastRecord(file)
}

var errBadRecord = errors.New("bad action record")

// parseFastRecord returns the identities and entries of the record data,
// in its order. Their strings are pieces of data (which must not change
// afterwards), and their slices pieces of a few large arrays: a record of
// 100,000 actions takes a handful of allocations, not half a million
// objects for the garbage collector to trace.
func parseFastRecord(data []byte) ([]string, []fastEntry, error) {
	if !bytes.HasPrefix(data, []byte(actionsHeader)) || len(data) < len(actionsHeader)+sha256.Size {
		return nil, nil, errBadRecord
	}
	all := unsafe.String(unsafe.SliceData(data), len(data))
	off := len(actionsHeader)
	sum, body := data[off:off+sha256.Size], data[off+sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, nil, errBadRecord
	}
	off += sha256.Size
	// Sized ahead (an entry takes ~180 bytes: its identity, its 64-byte
	// key, its 32-byte description digest, a stamp or two).
	n := len(body)/160 + 1
	ids := make([]string, 0, n)
	entries := make([]fastEntry, 0, n)
	stamps := make([]stamp, 0, 3*n)
	var paths []string
	p := body
	fail := false
	uv := func() uint64 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			fail = true
			return 0
		}
		p = p[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(p)
		if n <= 0 {
			fail = true
			return 0
		}
		p = p[n:]
		return v
	}
	str := func() string {
		n := uv()
		if fail || n > uint64(len(p)) {
			fail = true
			return ""
		}
		at := len(data) - len(p)
		p = p[n:]
		return all[at : at+int(n)]
	}
	for len(p) > 0 {
		id := str()
		e := fastEntry{key: str()}
		if fail || len(p) < len(e.desc) {
			return nil, nil, errBadRecord
		}
		copy(e.desc[:], p)
		p = p[len(e.desc):]
		e.touched = sv()
		np := uv()
		if fail || np > uint64(len(p)) {
			return nil, nil, errBadRecord
		}
		if np > 0 {
			start := len(paths)
			for range np {
				paths = append(paths, str())
			}
			e.paths = paths[start:len(paths):len(paths)]
		}
		ns := uv()
		if fail || ns > uint64(len(p)) { // each stamp takes bytes
			return nil, nil, errBadRecord
		}
		start := len(stamps)
		for range ns {
			var st stamp
			st.size, st.mtime, st.ctime, st.ino = sv(), sv(), sv(), uv()
			if fail || len(p) < 1 || p[0] > 1 {
				return nil, nil, errBadRecord
			}
			st.exec = p[0] == 1
			p = p[1:]
			stamps = append(stamps, st)
		}
		e.stamps = stamps[start:len(stamps):len(stamps)]
		nu := uv()
		if fail || nu > uint64(len(e.stamps)) {
			return nil, nil, errBadRecord
		}
		if nu > 0 {
			e.unsettled = make([]unsettledStamp, nu)
		}
		for i := range e.unsettled {
			u := &e.unsettled[i]
			u.path = str()
			idx := uv()
			if fail || idx >= uint64(len(e.stamps)) || len(p) < len(u.hash) {
				return nil, nil, errBadRecord
			}
			u.i = int(idx)
			copy(u.hash[:], p)
			p = p[len(u.hash):]
		}
		if fail {
			return nil, nil, errBadRecord
		}
		ids = append(ids, id)
		entries = append(entries, e)
	}
	return ids, entries, nil
}

// slot returns the position of id among the slots: hint if that slot is
// id's (no lock), else the one the index says. r.mu must not be held.
func (r *fastRecord) slot(id string, hint int) (int, bool) {
	if hint >= 0 && hint < len(r.slots) && r.slots[hint].id == id {
		return hint, true
	}
	if len(r.slots) == 0 {
		return 0, false
	}
	if hint >= 0 {
		r.misplaced.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slotLocked(id)
}

func (r *fastRecord) slotLocked(id string) (int, bool) {
	if r.index == nil {
		r.index = make(map[string]int32, len(r.slots))
		for i := range r.slots {
			if _, dup := r.index[r.slots[i].id]; !dup {
				r.index[r.slots[i].id] = int32(i)
			}
		}
	}
	i, ok := r.index[id]
	return int(i), ok
}

// get returns the entry of id, nil if none.
func (r *fastRecord) get(id string) *fastEntry { return r.getAt(id, -1) }

// getAt returns the entry of id, which is likely in slot hint (-1: no
// idea), nil if none.
func (r *fastRecord) getAt(id string, hint int) *fastEntry {
	e, _ := r.getSlotAt(id, hint)
	return e
}

// getSlotAt is getAt, which also returns the slot of the entry (-1: none).
func (r *fastRecord) getSlotAt(id string, hint int) (*fastEntry, int) {
	if i, ok := r.slot(id, hint); ok {
		return r.slots[i].e.Load(), i
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.extra[id], -1
}

func (r *fastRecord) set(id string, e *fastEntry) { r.setAt(id, e, -1) }

// setAt sets the entry of id, likely in slot hint, to e (nil: removes it).
func (r *fastRecord) setAt(id string, e *fastEntry, hint int) {
	if i, ok := r.slot(id, hint); ok {
		if old := r.slots[i].e.Swap(e); old != nil || e != nil {
			r.dirty.Store(true)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, had := r.extra[id]; had || e != nil {
		r.dirty.Store(true)
	}
	if e == nil {
		delete(r.extra, id)
	} else {
		r.extra[id] = e
	}
}

func (r *fastRecord) remove(id string) { r.setAt(id, nil, -1) }

// replace sets id's entry to e (e nil: removes it) if it is still old,
// and reports whether it was.
func (r *fastRecord) replace(id string, old, e *fastEntry) bool { return r.replaceAt(id, old, e, -1) }

// replaceAt is replace, with id's entry likely in slot hint.
func (r *fastRecord) replaceAt(id string, old, e *fastEntry, hint int) bool {
	if i, ok := r.slot(id, hint); ok {
		if r.slots[i].e.CompareAndSwap(old, e) {
			r.dirty.Store(true)
			return true
		}
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.extra[id] != old {
		return false
	}
	if e == nil {
		delete(r.extra, id)
	} else {
		r.extra[id] = e
	}
	r.dirty.Store(true)
	return true
}

// each calls f with the identity, slot (-1 for none) and entry of every
// action recorded: the slots' in order, then the others in identity
// order.
func (r *fastRecord) each(f func(id string, slot int, e *fastEntry)) {
	for i := range r.slots {
		if e := r.slots[i].e.Load(); e != nil {
			f(r.slots[i].id, i, e)
		}
	}
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.extra))
	extra := make([]*fastEntry, len(ids))
	for i, id := range ids {
		extra[i] = r.extra[id]
	}
	r.mu.Unlock()
	for i, id := range ids {
		f(id, -1, extra[i])
	}
}

// save writes the record atomically if it changed, or if lookups found
// entries out of order: first the entries of the identities of order, in
// that order (the graph's actions: the next build of that graph finds
// each in its slot), then the others, in a deterministic order.
func (r *fastRecord) save(order []string) error {
	if !r.dirty.Load() && r.misplaced.Load() == 0 {
		return nil
	}
	// The checksum, after the header, covers the entries that follow it.
	// They are encoded twice, once for the checksum and once into the
	// file, one entry at a time: at the end of a build, when the heap is
	// at its largest, the whole file in one buffer (~200 bytes an action:
	// 20 MB at 100,000) raised the peak.
	h := sha256.New()
	r.encode(order, func(b []byte) { h.Write(b) })
	sum := h.Sum(nil)
	if err := os.MkdirAll(filepath.Dir(r.file), 0o777); err != nil {
		return err
	}
	err := store.WriteFileFrom(r.file, r.tmp, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		bw.WriteString(actionsHeader)
		bw.Write(sum)
		r.encode(order, func(b []byte) { bw.Write(b) })
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	r.dirty.Store(false)
	r.misplaced.Store(0)
	return nil
}

// encode calls emit with the encoding of each entry of the record, in
// save's order; the bytes are valid only during the call. Two calls give
// the same bytes while the record does not change.
func (r *fastRecord) encode(order []string, emit func([]byte)) {
	var buf []byte
	done := make([]bool, len(r.slots))
	doneExtra := map[string]bool{}
	add := func(id string, e *fastEntry) {
		body := buf[:0]
		body = binary.AppendUvarint(body, uint64(len(id)))
		body = append(body, id...)
		body = binary.AppendUvarint(body, uint64(len(e.key)))
		body = append(body, e.key...)
		body = append(body, e.desc[:]...)
		body = binary.AppendVarint(body, e.touched)
		body = binary.AppendUvarint(body, uint64(len(e.paths)))
		for _, p := range e.paths {
			body = binary.AppendUvarint(body, uint64(len(p)))
			body = append(body, p...)
		}
		body = binary.AppendUvarint(body, uint64(len(e.stamps)))
		for _, st := range e.stamps {
			body = binary.AppendVarint(body, st.size)
			body = binary.AppendVarint(body, st.mtime)
			body = binary.AppendVarint(body, st.ctime)
			body = binary.AppendUvarint(body, st.ino)
			if st.exec {
				body = append(body, 1)
			} else {
				body = append(body, 0)
			}
		}
		body = binary.AppendUvarint(body, uint64(len(e.unsettled)))
		for _, u := range e.unsettled {
			body = binary.AppendUvarint(body, uint64(len(u.path)))
			body = append(body, u.path...)
			body = binary.AppendUvarint(body, uint64(u.i))
			body = append(body, u.hash[:]...)
		}
		emit(body)
		buf = body
	}
	for k, id := range order {
		// An action of order without an entry (not recorded, or
		// removed) keeps its place with an empty one (no key: loaded as
		// none), so that the next build finds every entry at its index.
		var e *fastEntry
		if i, ok := r.slot(id, k); ok {
			if !done[i] {
				done[i] = true
				e = r.slots[i].e.Load()
			}
		} else if !doneExtra[id] {
			doneExtra[id] = true
			r.mu.Lock()
			e = r.extra[id]
			r.mu.Unlock()
		}
		if e == nil {
			e = &fastEntry{}
		}
		add(id, e)
	}
	r.each(func(id string, slot int, e *fastEntry) {
		if slot >= 0 && !done[slot] || slot < 0 && !doneExtra[id] {
			add(id, e)
		}
	})
}

// actionID is the identity of a in the record: its sorted outputs.
func actionID(outputs []string) string {
	if !sort.StringsAreSorted(outputs) {
		outputs = append([]string(nil), outputs...)
		sort.Strings(outputs)
	}
	return strings.Join(outputs, "\x00")
}

// descDigest digests what a's key depends on besides file contents: its
// own fields (graph's FieldsDigest, kept in the analysis snapshot, so a
// no-op hashes no action's description), and what the cache adds to run
// it; fields is a's FieldsDigest, tool the (memo) path argv[0] resolves
// to, and programs the paths of the programs a compiler driver runs
// (hashTool's, in its order; nil for another tool).
func (c *Cache) descDigest(a *graph.Action, fields [32]byte, tool string, programs []string) [32]byte {
	var arr [512]byte
	buf := arr[:0]
	add := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	add(descVersion)
	buf = append(buf, fields[:]...)
	if len(a.Argv) > 0 {
		add(tool)
		buf = binary.AppendUvarint(buf, uint64(len(programs)))
		for _, p := range programs {
			add(p)
		}
		if c.opts.FixedExecRoot && !a.NoSandbox {
			add(graph.SandboxExecRoot)
		} else {
			add(execRootUnfixed)
		}
		// Whether it runs sandboxed: a record made without the sandbox
		// may rest on a file the sandbox would hide.
		if c.opts.Sandboxed && !a.NoSandbox {
			add("sandboxed")
		} else {
			add("unsandboxed")
		}
	}
	return sha256.Sum256(buf)
}

// keyedInputs are the inputs of a that its key covers by content, in the
// order the record stamps them: with a depfile, its mandatory inputs (what
// it read of the rest is in the record's paths); else all of them.
func keyedInputs(a *graph.Action) []string {
	if a.Depfile() != "" {
		return a.Inputs
	}
	return a.AllInputs()
}

// fastCheck reports a's recorded key if its record proves its outputs in
// place and up to date (see the comment at the top of this file). gs, if
// not nil, is the state of the graph whose action aid a is (CheckIn).
//
// Within a build, it stats each file once where it can: the outputs of an
// action it found up to date are not written by this build (only actions
// that run write their outputs), so their stamps serve the actions that
// read them (seenStamp); and a tool outside the workspace is looked up
// once per name and PATH (findTool).
func (c *Cache) fastCheck(a *graph.Action, gs *graphState, aid int) (string, bool) {
	if c.fast == nil || len(a.Outputs) == 0 {
		return "", false
	}
	slot := -1
	if gs != nil {
		slot = aid
	}
	id := actionID(a.Outputs)
	e, at := c.fast.getSlotAt(id, slot)
	if gs == nil || !sort.StringsAreSorted(a.Outputs) {
		at = -1 // the stats taken ahead are in identity order
	}
	if e == nil {
		return "", false
	}
	var tool string
	var toolSt stamp
	var programs []string
	if len(a.Argv) > 0 {
		prog, st, ok := c.findTool(a)
		if !ok {
			return "", false
		}
		tool, toolSt = prog.Name, st
		if toolchain.IsDriver(a.Argv[0]) {
			// The driver's programs as hashTool would find them now: a
			// new one in a PATH or -B directory changes the description.
			id, ok := c.toolchains.lookup(c.root, prog, toolchain.Flags(a.Argv), a.Env, c.now())
			if !ok {
				return "", false
			}
			programs = c.resolvedPrograms(id, a.Env)
		}
	}
	inputs := keyedInputs(a)
	n := len(inputs) + len(e.paths) + len(a.Outputs)
	if tool != "" {
		n++
	}
	if len(e.stamps) != n {
		return "", false
	}
	var fields [32]byte
	if gs != nil {
		fields = gs.g.FieldsDigest(aid) // kept in the analysis snapshot: no hashing
	} else {
		fields = a.FieldsDigest()
	}
	if c.descDigest(a, fields, tool, programs) != e.desc {
		return "", false
	}
	i := 0
	for k, list := range [][]string{inputs, e.paths, a.Outputs} {
		for j, p := range list {
			var st stamp
			// source: the graph says no action writes p, so a stat of
			// it taken earlier in this build (Options.Stats) is its
			// stat now. Outputs (k 2) are this action's own.
			ok, source := false, false
			switch {
			case gs == nil:
				st, ok = c.seenStamp(p, nil)
			case k == 0:
				// keyedInputs is a prefix of AllInputs: the graph
				// knows each one's producer.
				if pid, isOut := gs.g.InputProducer(aid, j); isOut {
					st, ok = gs.outputStamp(pid, p)
				} else {
					source = true
				}
			case k == 1:
				// A file the depfile named: an output of another
				// action (a generated header), or a source.
				if pid, isOut := gs.g.Producer(p); isOut {
					st, ok = gs.outputStamp(pid, p)
				} else {
					source = true
				}
			default:
				var regular bool
				if st, regular, ok = c.fast.aheadOutput(at, j, e); ok && !regular {
					return "", false
				}
			}
			if !ok && source && !filepath.IsAbs(p) {
				var fst filestat.Stat
				if fst, ok = c.opts.Stats.Lookup(p); ok {
					if !fst.Mode.IsRegular() {
						return "", false
					}
					st = stampOfFilestat(fst)
				}
			}
			if !ok {
				var regular bool
				var err error
				st, regular, err = c.statFile(p)
				if err != nil || !regular {
					return "", false
				}
			}
			if st != e.stamps[i] {
				return "", false
			}
			i++
		}
	}
	if tool != "" {
		toolSt.exec = e.stamps[i].exec // the tool's mode is not in the key; a chmod changes ctime
		if toolSt != e.stamps[i] {
			return "", false
		}
	}
	if len(e.unsettled) > 0 {
		ne, ok := c.settleEntry(e)
		if !ok {
			return "", false
		}
		if ne != e {
			c.fast.replaceAt(id, e, ne, slot)
			e = ne
		}
	}
	c.mu.Lock()
	c.fastHits++
	c.mu.Unlock()
	if now := c.now(); now.Sub(time.Unix(0, e.touched)) >= store.TouchInterval {
		// Keep the action result recent in the shared store, as a hit
		// through the slow path would (it may be gone: no matter).
		c.store.MarkUsed(e.key, time.Unix(0, e.touched))
		ne := *e
		ne.touched = now.UnixNano()
		c.fast.setAt(id, &ne, slot)
		e = &ne
	}
	// Its outputs stay as they are for the rest of the build.
	if gs != nil {
		gs.upToDate[aid].Store(e)
	} else {
		c.seenMu.Lock()
		if c.seen == nil {
			c.seen = map[string]stamp{}
		}
		for j, p := range a.Outputs {
			c.seen[p] = e.stamps[len(inputs)+len(e.paths)+j]
		}
		c.seenMu.Unlock()
	}
	return e.key, true
}

// statFile is statStamp of p, a memo key: an absolute path or one
// relative to the workspace root.
func (c *Cache) statFile(p string) (stamp, bool, error) {
	if filepath.IsAbs(p) {
		return statStamp(p)
	}
	return c.rootDir.stat(p)
}

// A graphState is what the cache knows, within a build, of the graph whose
// actions it checks through CheckIn.
type graphState struct {
	g *graph.Graph
	// upToDate holds, per action, its record once fastCheck found it up
	// to date in this build: its stamps end with its outputs'.
	upToDate []atomic.Pointer[fastEntry]
}

// graphFor returns the state of g, new if g is not the graph of the last
// CheckIn.
func (c *Cache) graphFor(g *graph.Graph) *graphState {
	if gs := c.graph.Load(); gs != nil && gs.g == g {
		return gs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gs := c.graph.Load(); gs != nil && gs.g == g {
		return gs
	}
	gs := &graphState{g: g, upToDate: make([]atomic.Pointer[fastEntry], len(g.Actions))}
	c.graph.Store(gs)
	return gs
}

// seenStamp returns the stamp of p if it is an output of an action that
// fastCheck found up to date in this build; gs, if not nil, is the state
// of the graph being checked.
func (c *Cache) seenStamp(p string, gs *graphState) (stamp, bool) {
	if gs != nil {
		pid, ok := gs.g.Producer(p)
		if !ok {
			return stamp{}, false
		}
		return gs.outputStamp(pid, p)
	}
	c.seenMu.Lock()
	st, ok := c.seen[p]
	c.seenMu.Unlock()
	return st, ok
}

// outputStamp returns the stamp of p, an output of action pid, if
// fastCheck found pid up to date in this build.
func (gs *graphState) outputStamp(pid int, p string) (stamp, bool) {
	e := gs.upToDate[pid].Load()
	if e == nil {
		return stamp{}, false
	}
	pa := gs.g.Actions[pid]
	j := slices.Index(pa.Outputs, p)
	if j < 0 {
		return stamp{}, false
	}
	first := len(e.stamps) - len(pa.Outputs)
	if len(pa.Argv) > 0 {
		first-- // the tool's stamp is last
	}
	return e.stamps[first+j], true
}

// A toolKey is a command name and a PATH, what findTool finds a tool by.
type toolKey struct{ name, path string }

// A foundTool is what findTool found for a command name and PATH.
type foundTool struct {
	prog program.Program
	st   stamp
}

// findTool returns the program argv[0] of a resolves to, as program.Find
// finds it, and its stamp (a regular file). A program outside the
// workspace (its real path too, links followed) is found once per build
// for each name and PATH: nothing the build runs writes it.
func (c *Cache) findTool(a *graph.Action) (program.Program, stamp, bool) {
	pathVar, _ := program.PathOf(a.Env)
	key := toolKey{a.Argv[0], pathVar} // not a concatenation: no garbage per action
	if f, ok := c.tools.Load(key); ok {
		ft := f.(foundTool)
		return ft.prog, ft.st, true
	}
	prog, err := program.Find(c.root, a.Argv[0], a.Env)
	if err != nil || !prog.Info.Mode().IsRegular() {
		return program.Program{}, stamp{}, false
	}
	ft := foundTool{prog: prog, st: stampOf(prog.Info)}
	if !prog.InWorkspace() && !within(prog.Path, c.root) {
		real, err := filepath.EvalSymlinks(prog.Path)
		realRoot, rerr := c.realRoot()
		if err == nil && rerr == nil && !within(real, realRoot) {
			c.tools.Store(key, ft)
		}
	}
	return prog, ft.st, true
}

// realRoot returns the workspace root with symbolic links resolved.
func (c *Cache) realRoot() (string, error) {
	c.realRootOnce.Do(func() { c.realRootPath, c.realRootErr = filepath.EvalSymlinks(c.root) })
	return c.realRootPath, c.realRootErr
}

// within reports whether the absolute path p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// fastRemember records a, whose key and inputs ki describes, as having
// the outputs outs in place (as Check found or restored them, or Store
// stored them). When the file-digest memo cannot vouch for every file (an
// entry missing, racy, or with another digest), the action's record is
// removed instead.
func (c *Cache) fastRemember(a *graph.Action, ki *keyInfo, outs []outputFile) {
	if c.fast == nil || len(a.Outputs) == 0 {
		return
	}
	id := actionID(a.Outputs)
	e, ok := c.fastEntryFor(a, ki, outs)
	if !ok {
		c.fast.remove(id)
		return
	}
	c.fast.set(id, e)
}

func (c *Cache) fastEntryFor(a *graph.Action, ki *keyInfo, outs []outputFile) (*fastEntry, bool) {
	if a.NoCache || strings.ContainsAny(strings.Join(a.Outputs, ""), "\n\r") {
		return nil, false
	}
	inputs := keyedInputs(a)
	// A directory input stands for the files below it, which the record
	// could not watch: those actions always take the slow path.
	readInWorkspace := 0
	for _, p := range ki.readSet {
		if !filepath.IsAbs(p) {
			readInWorkspace++
		}
	}
	if len(ki.inputs) != len(inputs)+readInWorkspace || len(outs) != len(a.Outputs) {
		return nil, false
	}
	keyed := make(map[string]reapi.InputFile, len(ki.inputs)+len(ki.external)+len(ki.toolchain))
	for _, list := range [][]reapi.InputFile{ki.inputs, ki.external, ki.toolchain} {
		for _, f := range list {
			keyed[f.Path] = f
		}
	}
	e := &fastEntry{key: ki.key, touched: c.now().UnixNano()}
	e.paths = make([]string, 0, len(ki.readSet)+len(ki.toolchain))
	e.paths = append(e.paths, ki.readSet...)
	for _, f := range ki.toolchain {
		e.paths = append(e.paths, f.Path)
	}
	e.stamps = make([]stamp, 0, len(inputs)+len(e.paths)+len(a.Outputs)+1)
	vouch := func(path string, want reapi.InputFile) bool {
		me, ok := c.memo.get(path)
		if !ok || !me.has(want.Digest) || me.st.ctime == 0 {
			return false
		}
		if me.racy() {
			e.unsettled = append(e.unsettled, unsettledStamp{path: path, i: len(e.stamps), hash: me.hash})
		}
		st := me.st
		st.exec = want.IsExecutable
		e.stamps = append(e.stamps, st)
		return true
	}
	for _, list := range [][]string{inputs, e.paths} {
		for _, p := range list {
			f, ok := keyed[p]
			if !ok || !vouch(p, f) {
				return nil, false
			}
		}
	}
	for i, of := range outs {
		if of.Path != a.Outputs[i] || !vouch(of.Path, reapi.InputFile{Digest: of.Digest, IsExecutable: of.IsExecutable}) {
			return nil, false
		}
	}
	var tool string
	if !ki.isWrite {
		if ki.toolPath == "" || !vouch(ki.toolPath, reapi.InputFile{Digest: ki.toolDigest}) {
			return nil, false
		}
		tool = ki.toolPath
	}
	var programs []string
	if !ki.isWrite && toolchain.IsDriver(a.Argv[0]) {
		programs = make([]string, 0, len(ki.toolchain))
		for _, f := range ki.toolchain {
			programs = append(programs, f.Path)
		}
	}
	e.desc = c.descDigest(a, a.FieldsDigest(), tool, programs)
	return e, true
}

// settleEntry checks the unsettled stamps of e, whose stamps the files
// have: it reports whether each file has the content it was keyed with,
// and returns e with the stamps that are now settled no longer
// unsettled (e itself if none is).
func (c *Cache) settleEntry(e *fastEntry) (*fastEntry, bool) {
	var left []unsettledStamp
	for _, u := range e.unsettled {
		ok, settled := c.settleFile(u, e.stamps[u.i])
		if !ok {
			return nil, false
		}
		if !settled {
			left = append(left, u)
		}
	}
	if len(left) == len(e.unsettled) {
		return e, true
	}
	ne := *e
	ne.unsettled = left
	return &ne, true
}

// settleFile reports whether the file of u has the content u.hash with
// stamp want (ok), and whether its stamp alone can vouch for that from now
// on (settled): when the file-digest memo has a settled entry for it with
// that stamp and content, or else when hashing it again found that
// content and was not racy itself (the memo, if loaded, learns that hash).
func (c *Cache) settleFile(u unsettledStamp, want stamp) (ok, settled bool) {
	sameFile := func(st stamp) bool {
		st.exec = want.exec // the memo keeps no exec bit; a chmod changes ctime
		return st == want
	}
	if me, ok := c.memo.peek(u.path); ok && sameFile(me.st) && me.hash == u.hash && !me.racy() {
		return true, true
	}
	abs := u.path
	if !filepath.IsAbs(abs) {
		abs = c.abs(abs)
	}
	// No stat before: readHashed's fstat of the opened file says as
	// much, before anything is read.
	start := c.now()
	h, err := readHashed(abs, -1)
	if err != nil || !sameFile(h.before) || !sameFile(h.after) || h.d.Size != want.size {
		return false, false
	}
	me, ok := newMemoEntry(want, h.d, start.UnixNano())
	if !ok || me.hash != u.hash {
		return false, false
	}
	me.st.exec = false
	c.memo.rememberIfLoaded(u.path, me)
	return true, !me.racy()
}

// settleWorkers is how many files settleRecord hashes at once.
const settleWorkers = 8

// settleRecord settles what it can of the unsettled stamps of the record
// (Close calls it): an entry whose file no longer has the content it was
// keyed with is removed, one whose stamps are all settled loses its
// unsettled list. Stamps of files modified within the racy window of now
// stay unsettled, for the next Check to settle.
func (c *Cache) settleRecord() {
	type job struct {
		id string
		e  *fastEntry
	}
	var jobs []job
	c.fast.each(func(id string, _ int, e *fastEntry) {
		if len(e.unsettled) > 0 {
			jobs = append(jobs, job{id, e})
		}
	})
	if len(jobs) == 0 {
		return
	}
	var wg sync.WaitGroup
	next := make(chan job)
	for range min(settleWorkers, len(jobs)) {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			for j := range next {
				ne, ok := c.settleEntry(j.e)
				switch {
				case !ok:
					c.fast.replace(j.id, j.e, nil)
				case ne != j.e:
					c.fast.replace(j.id, j.e, ne)
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}
