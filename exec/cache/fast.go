package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"bld/exec/crash"
	"bld/exec/digest"
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
// action has just run) is recorded unsettled, with the digest of the
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
	descVersion = "bld-fast-4"
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

type fastRecord struct {
	file  string
	tmp   string // where save writes its temporary file ("": beside file)
	mu    sync.Mutex
	m     map[string]*fastEntry // by identity
	dirty bool
	// unsettled are the identities of entries with unsettled stamps.
	unsettled map[string]bool
}

// loadFastRecord reads the record in file; a missing, unreadable or
// corrupt one is empty.
func loadFastRecord(file string) *fastRecord {
	r := &fastRecord{file: file, m: map[string]*fastEntry{}, unsettled: map[string]bool{}}
	data, err := os.ReadFile(file)
	if err != nil {
		return r
	}
	if m, err := parseFastRecord(data); err == nil {
		r.m = m
		for id, e := range m {
			if len(e.unsettled) > 0 {
				r.unsettled[id] = true
			}
		}
	}
	return r
}

var errBadRecord = errors.New("bad action record")

func parseFastRecord(data []byte) (map[string]*fastEntry, error) {
	if !bytes.HasPrefix(data, []byte(actionsHeader)) || len(data) < len(actionsHeader)+sha256.Size {
		return nil, errBadRecord
	}
	data = data[len(actionsHeader):]
	sum, body := data[:sha256.Size], data[sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, errBadRecord
	}
	// Sized ahead (an entry takes ~180 bytes: its identity, its 64-byte
	// key, its 32-byte description digest, a stamp or two): at 100k
	// actions, growing it entry by entry rehashes it a dozen times.
	m := make(map[string]*fastEntry, len(body)/160)
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
		s := string(p[:n])
		p = p[n:]
		return s
	}
	for len(p) > 0 {
		id := str()
		e := &fastEntry{key: str()}
		if fail || len(p) < len(e.desc) {
			return nil, errBadRecord
		}
		copy(e.desc[:], p)
		p = p[len(e.desc):]
		e.touched = sv()
		np := uv()
		if fail || np > uint64(len(p)) {
			return nil, errBadRecord
		}
		e.paths = make([]string, np)
		for i := range e.paths {
			e.paths[i] = str()
		}
		n := uv()
		if fail || n > uint64(len(p)) { // each stamp takes bytes
			return nil, errBadRecord
		}
		e.stamps = make([]stamp, n)
		for i := range e.stamps {
			st := &e.stamps[i]
			st.size, st.mtime, st.ctime, st.ino = sv(), sv(), sv(), uv()
			if fail || len(p) < 1 || p[0] > 1 {
				return nil, errBadRecord
			}
			st.exec = p[0] == 1
			p = p[1:]
		}
		nu := uv()
		if fail || nu > uint64(len(e.stamps)) {
			return nil, errBadRecord
		}
		if nu > 0 {
			e.unsettled = make([]unsettledStamp, nu)
		}
		for i := range e.unsettled {
			u := &e.unsettled[i]
			u.path = str()
			idx := uv()
			if fail || idx >= uint64(len(e.stamps)) || len(p) < len(u.hash) {
				return nil, errBadRecord
			}
			u.i = int(idx)
			copy(u.hash[:], p)
			p = p[len(u.hash):]
		}
		if fail {
			return nil, errBadRecord
		}
		m[id] = e
	}
	return m, nil
}

func (r *fastRecord) get(id string) *fastEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

func (r *fastRecord) set(id string, e *fastEntry) {
	r.mu.Lock()
	r.setLocked(id, e)
	r.mu.Unlock()
}

func (r *fastRecord) setLocked(id string, e *fastEntry) {
	r.m[id] = e
	r.dirty = true
	if len(e.unsettled) > 0 {
		r.unsettled[id] = true
	} else {
		delete(r.unsettled, id)
	}
}

func (r *fastRecord) remove(id string) {
	r.mu.Lock()
	r.removeLocked(id)
	r.mu.Unlock()
}

func (r *fastRecord) removeLocked(id string) {
	if _, ok := r.m[id]; ok {
		delete(r.m, id)
		delete(r.unsettled, id)
		r.dirty = true
	}
}

// replace sets id's entry to e (e nil: removes it) if it is still old,
// and reports whether it was.
func (r *fastRecord) replace(id string, old, e *fastEntry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[id] != old {
		return false
	}
	if e == nil {
		r.removeLocked(id)
	} else {
		r.setLocked(id, e)
	}
	return true
}

// save writes the record atomically if it changed.
func (r *fastRecord) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty {
		return nil
	}
	var body []byte
	for id, e := range r.m {
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
	}
	sum := sha256.Sum256(body)
	data := make([]byte, 0, len(actionsHeader)+len(sum)+len(body))
	data = append(append(append(data, actionsHeader...), sum[:]...), body...)
	if err := os.MkdirAll(filepath.Dir(r.file), 0o777); err != nil {
		return err
	}
	if err := store.WriteFileVia(r.file, r.tmp, data, 0o644); err != nil {
		return err
	}
	r.dirty = false
	return nil
}

// actionID is the identity of a in the record: its sorted outputs.
func actionID(outputs []string) string {
	if !sort.StringsAreSorted(outputs) {
		outputs = append([]string(nil), outputs...)
		sort.Strings(outputs)
	}
	return strings.Join(outputs, "\x00")
}

// descDigest digests what a's key depends on besides file contents; tool
// is the (memo) path argv[0] resolves to, and programs the paths of the
// programs a compiler driver runs (hashTool's, in its order; nil for
// another tool).
func (c *Cache) descDigest(a *graph.Action, tool string, programs []string) [32]byte {
	var arr [1024]byte
	buf := arr[:0]
	add := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	list := func(l []string) {
		buf = binary.AppendUvarint(buf, uint64(len(l)))
		for _, s := range l {
			add(s)
		}
	}
	add(descVersion)
	if len(a.Argv) == 0 {
		add("write")
		buf = binary.AppendUvarint(buf, uint64(len(a.Content)))
		buf = append(buf, a.Content...)
		if a.Executable {
			add("0755")
		} else {
			add("0644")
		}
	} else {
		add("run")
		list(a.Argv)
		list(a.Env)
		add(tool)
		list(programs)
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
	list(a.Inputs)
	list(a.Discoverable)
	add(a.Depfile)
	list(a.Outputs)
	buf = binary.AppendUvarint(buf, uint64(len(a.ExecProperties)))
	for _, name := range slices.Sorted(maps.Keys(a.ExecProperties)) {
		add(name)
		add(a.ExecProperties[name])
	}
	return sha256.Sum256(buf)
}

// keyedInputs are the inputs of a that its key covers by content, in the
// order the record stamps them: with a depfile, its mandatory inputs (what
// it read of the rest is in the record's paths); else all of them.
func keyedInputs(a *graph.Action) []string {
	if a.Depfile != "" {
		return a.Inputs
	}
	return a.AllInputs()
}

// fastCheck reports a's recorded key if its record proves its outputs in
// place and up to date (see the comment at the top of this file).
//
// Within a build, it stats each file once where it can: the outputs of an
// action it found up to date are not written by this build (only actions
// that run write their outputs), so their stamps serve the actions that
// read them (seenStamp); and a tool outside the workspace is looked up
// once per name and PATH (findTool).
func (c *Cache) fastCheck(a *graph.Action) (string, bool) {
	if c.fast == nil || len(a.Outputs) == 0 {
		return "", false
	}
	id := actionID(a.Outputs)
	e := c.fast.get(id)
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
	if len(e.stamps) != n || c.descDigest(a, tool, programs) != e.desc {
		return "", false
	}
	i := 0
	for _, list := range [][]string{inputs, e.paths, a.Outputs} {
		for _, p := range list {
			st, ok := c.seenStamp(p)
			if !ok && !filepath.IsAbs(p) {
				var fi fs.FileInfo
				if fi, ok = c.opts.Stats.Lookup(p); ok {
					if !fi.Mode().IsRegular() {
						return "", false
					}
					st = stampOf(fi)
				}
			}
			if !ok {
				abs := p
				if !filepath.IsAbs(p) {
					abs = c.abs(p)
				}
				var regular bool
				var err error
				st, regular, err = statStamp(abs)
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
			c.fast.replace(id, e, ne)
			e = ne
		}
	}
	c.mu.Lock()
	c.fastHits++
	c.mu.Unlock()
	// Its outputs stay as they are for the rest of the build.
	c.seenMu.Lock()
	for j, p := range a.Outputs {
		c.seen[p] = e.stamps[len(inputs)+len(e.paths)+j]
	}
	c.seenMu.Unlock()
	if now := c.now(); now.Sub(time.Unix(0, e.touched)) >= store.TouchInterval {
		// Keep the action result recent in the shared store, as a hit
		// through the slow path would (it may be gone: no matter).
		c.store.MarkUsed(e.key, time.Unix(0, e.touched))
		ne := *e
		ne.touched = now.UnixNano()
		c.fast.set(id, &ne)
	}
	return e.key, true
}

// seenStamp returns the stamp of p if it is an output of an action that
// fastCheck found up to date in this build.
func (c *Cache) seenStamp(p string) (stamp, bool) {
	c.seenMu.Lock()
	st, ok := c.seen[p]
	c.seenMu.Unlock()
	return st, ok
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
		if !ok || me.d != want.Digest || me.st.ctime == 0 {
			return false
		}
		if me.racy() {
			u := unsettledStamp{path: path, i: len(e.stamps)}
			if n, err := hex.Decode(u.hash[:], []byte(me.d.Hash)); err != nil || n != len(u.hash) {
				return false
			}
			e.unsettled = append(e.unsettled, u)
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
	e.desc = c.descDigest(a, tool, programs)
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
	hash := hex.EncodeToString(u.hash[:])
	if me, ok := c.memo.peek(u.path); ok && sameFile(me.st) && me.d.Hash == hash && !me.racy() {
		return true, true
	}
	abs := u.path
	if !filepath.IsAbs(abs) {
		abs = c.abs(abs)
	}
	fi, err := os.Stat(abs)
	if err != nil || !sameFile(stampOf(fi)) {
		return false, false
	}
	start := c.now()
	d, err := digest.OfFile(abs)
	if err != nil || d.Hash != hash || d.Size != want.size {
		return false, false
	}
	if fi, err = os.Stat(abs); err != nil || !sameFile(stampOf(fi)) {
		return false, false
	}
	me := memoEntry{st: want, d: d, hashedAt: start.UnixNano()}
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
	c.fast.mu.Lock()
	jobs := make([]job, 0, len(c.fast.unsettled))
	for id := range c.fast.unsettled {
		jobs = append(jobs, job{id, c.fast.m[id]})
	}
	c.fast.mu.Unlock()
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
