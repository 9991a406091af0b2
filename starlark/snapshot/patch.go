package snapshot

import (
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"

	"bld/exec/graph"
	"bld/exec/store"
	"bld/starlark/workspace"
)

// A snapshot file is a base (a snapshot, Encode) and, after it, at most
// one patch: what incremental analyses changed since the base was
// written, each change as its value now. Saving an incremental analysis
// whose targets kept their shape (Patch) writes the base again as it was
// read, byte for byte, and a new patch after it (the earlier patch's
// changes and the new ones), in place of encoding every action again; the
// file is written atomically, as a whole, as any snapshot is. A patch is a
// section of its own:
//
//	magic      8 bytes, patchMagic
//	length     uint64, little endian: the length of body
//	checksum   uint32, little endian: CRC-32 (IEEE) of body
//	body       fields length (uint64), fields, strings (as a base's)
//
// whose fields are, each list in increasing order of its index or key:
// the actions replaced (index, action, its 32-byte FieldsDigest), the goals (index, string), the
// index's packages (index, path, files, roots); then the reads: the
// files (path, digest), the existence answers (path, bool), the package
// searches (directory, packages), and the packages whose globs are
// replaced (sorted) followed by all their globs now, in order.
//
// A file whose patch is damaged is not a snapshot (Load ignores it all).
// The bytes of a patched file depend on the edits that led to it; what it
// loads to does not: the snapshot that a whole encoding of the same
// analysis would give (TestPatchLoadsAsWhole).
const patchMagic = "bldpatc3" // bldpatc2: each action followed by its FieldsDigest; bldpatc3: CRC-32 (IEEE), as bldsnap8

// maxPatchShare and minPatchLimit bound a patch: one that would be more
// than 1/maxPatchShare of its base, and more than minPatchLimit bytes, is
// not written; the snapshot is encoded whole instead (a new base), so that
// a file is at most 1+1/maxPatchShare times a fresh one (or minPatchLimit
// more, for small ones, whose encoding is cheap anyway) and a load never
// applies more.
const (
	maxPatchShare = 4
	minPatchLimit = 64 << 10
)

// A Loaded is a snapshot as Load read it from its file, with what the next
// save needs to write a patch to it (SaveNext).
type Loaded struct {
	*Snapshot
	// base is the bytes of the file's base, as read.
	base []byte
	// patch is the patch the file held, applied to Snapshot; nil if none.
	patch *patch
	// digests are the FieldsDigests of the base's actions, in order,
	// those of the actions the patch replaced in patch.digests
	// (KeptDigests).
	digests [][32]byte
}

// KeptDigests returns the FieldsDigests of l's actions, as the file kept
// them, for graph.Graph.UseKeptDigests: l's Actions are never changed
// after Open (Patch and Reassemble make new lists).
func (l *Loaded) KeptDigests() graph.KeptDigests {
	k := graph.KeptDigests{Actions: l.Actions, Digests: l.digests}
	if l.patch != nil {
		k.Replaced = l.patch.digests
	}
	return k
}

// A patch is what incremental analyses changed in a snapshot, each change
// as its value now.
type patch struct {
	actions map[int]*graph.Action
	// digests are the FieldsDigests of actions, as the patch read kept
	// them; nil in a patch being written.
	digests  map[int][32]byte
	goals    map[int]string
	packages map[int]Package
	// files, exists and dirs are Reads' Files, Exists and Packages.
	files  map[string]string
	exists map[string]bool
	dirs   map[string][]string
	// globPkgs are the packages whose globs are globs: the Reads' globs
	// of those packages, in the Reads' order.
	globPkgs map[string]bool
	globs    []workspace.GlobRead
}

// Open is Load, and keeps what SaveNext needs to save a patch to the file.
func Open(path, key string) (*Loaded, error) {
	data, err := readFile(path)
	if data == nil || err != nil {
		return nil, err
	}
	l, err := decodeFile(data, true)
	if err != nil || l.Key != key || l.Reads == nil {
		return nil, nil
	}
	if l.Index != nil && !l.Index.valid(len(l.Actions), len(l.Goals)) {
		l.Index = nil
	}
	return l, nil
}

// A ReadsUpdate is how an incremental analysis updates the reads of the
// snapshot it started from (UpdateReads's arguments).
type ReadsUpdate struct {
	// Diff is Changes' diff.
	Diff *workspace.Diff
	// Reloaded are the packages loaded again, whose globs are Fresh's.
	Reloaded map[string]bool
	// Fresh are the incremental analysis's reads.
	Fresh *workspace.Reads
}

// SaveNext saves next, the snapshot of an incremental analysis of l, to
// path atomically. next's Reads are l's updated by upd (UpdateReads);
// next.Reads is not read. With patch, when next differs from l only in
// actions replaced one for one, goals and index packages (as Patch makes
// it), the file is l's base as read followed by a patch of every change
// from that base (the patch l held, and this analysis's), unless that
// patch would be too large (maxPatchShare); else, and without patch,
// next is encoded whole. Either way, Load then gives next with those
// Reads.
func (l *Loaded) SaveNext(path string, next *Snapshot, upd ReadsUpdate, patch bool) error {
	if patch {
		if p, ok := l.patchTo(next, upd); ok {
			data, err := encodePatch(p)
			if err == nil && len(data) <= max(len(l.base)/maxPatchShare, minPatchLimit) {
				err := store.WriteFileFrom(path, "", 0o644, func(w io.Writer) error {
					if _, err := w.Write(l.base); err != nil {
						return err
					}
					_, err := w.Write(data)
					return err
				})
				if err != nil {
					return fmt.Errorf("saving the analysis snapshot: %w", err)
				}
				return nil
			}
		}
	}
	whole := *next
	whole.Reads = l.UpdateReads(upd.Diff, upd.Reloaded, upd.Fresh)
	return Save(path, &whole)
}

// patchTo returns the patch from l's base to next (see SaveNext), and
// whether next is l's base patched.
func (l *Loaded) patchTo(next *Snapshot, upd ReadsUpdate) (*patch, bool) {
	if l.base == nil || next.Key != l.Key || !maps.Equal(next.Env, l.Env) || len(next.Actions) != len(l.Actions) ||
		len(next.Goals) != len(l.Goals) || next.Index == nil || l.Index == nil || !sameTargets(next.Index, l.Index) {
		return nil, false
	}
	old := l.patch
	if old == nil {
		old = &patch{}
	}
	p := &patch{actions: map[int]*graph.Action{}, goals: map[int]string{}, packages: map[int]Package{},
		files: map[string]string{}, exists: map[string]bool{}, dirs: map[string][]string{}, globPkgs: map[string]bool{}}
	for i := range old.actions {
		p.actions[i] = next.Actions[i]
	}
	for i, a := range next.Actions {
		// An action analyzed again is a new one, mostly equal to the
		// old (a comment edited, or a target its package's edit left
		// alone).
		if a != l.Actions[i] && !reflect.DeepEqual(a, l.Actions[i]) {
			p.actions[i] = a
		}
	}
	for i := range old.goals {
		p.goals[i] = next.Goals[i]
	}
	for i, g := range next.Goals {
		if g != l.Goals[i] {
			p.goals[i] = g
		}
	}
	for i := range old.packages {
		p.packages[i] = next.Index.Packages[i]
	}
	for i, pkg := range next.Index.Packages {
		if !samePackage(pkg, l.Index.Packages[i]) {
			p.packages[i] = pkg
		}
	}
	// The reads: UpdateReads takes l's, then the diff's, then fresh's.
	fresh := upd.Fresh
	for _, m := range []map[string]string{old.files, upd.Diff.Files, fresh.Files} {
		for k := range m {
			p.files[k] = latest(k, l.Reads.Files, upd.Diff.Files, fresh.Files)
		}
	}
	for _, m := range []map[string]bool{old.exists, upd.Diff.Exists, fresh.Exists} {
		for k := range m {
			p.exists[k] = latest(k, l.Reads.Exists, upd.Diff.Exists, fresh.Exists)
		}
	}
	for k := range old.dirs {
		p.dirs[k] = l.Reads.Packages[k]
	}
	for k, v := range fresh.Packages {
		p.dirs[k] = v
	}
	for _, m := range []map[string]bool{old.globPkgs, upd.Reloaded} {
		for k := range m {
			p.globPkgs[k] = true
		}
	}
	for _, g := range fresh.Globs {
		p.globPkgs[g.Pkg] = true
	}
	for _, g := range l.Reads.Globs {
		if p.globPkgs[g.Pkg] && !upd.Reloaded[g.Pkg] {
			p.globs = append(p.globs, g)
		}
	}
	p.globs = append(p.globs, fresh.Globs...)
	workspace.SortGlobs(p.globs)
	return p, true
}

// sameTargets reports whether x and y index the same targets, packages
// aside but for their paths.
func sameTargets(x, y *Index) bool {
	if len(x.Packages) != len(y.Packages) || len(x.Env) != len(y.Env) {
		return false
	}
	for i := range x.Packages {
		if x.Packages[i].Path != y.Packages[i].Path {
			return false
		}
	}
	for i := range x.Env {
		if x.Env[i].Target != y.Env[i].Target || !slices.Equal(x.Env[i].Values, y.Env[i].Values) {
			return false
		}
	}
	return slices.Equal(x.Names, y.Names) && slices.Equal(x.Pkgs, y.Pkgs) && slices.Equal(x.Actions, y.Actions) &&
		slices.Equal(x.ChildEnd, y.ChildEnd) && slices.Equal(x.Children, y.Children) &&
		slices.Equal(x.DepEnd, y.DepEnd) && slices.Equal(x.Deps, y.Deps) && slices.Equal(x.RootGoalEnd, y.RootGoalEnd) &&
		(x.Children == nil) == (y.Children == nil) && (x.Deps == nil) == (y.Deps == nil)
}

// samePackage reports whether p and q are the same, nil and empty lists
// told apart (as the encoding tells them).
func samePackage(p, q Package) bool {
	return p.Path == q.Path && slices.Equal(p.Files, q.Files) && slices.Equal(p.Roots, q.Roots) &&
		(p.Files == nil) == (q.Files == nil) && (p.Roots == nil) == (q.Roots == nil)
}

// encodePatch returns the section of p. It fails on a nil action.
func encodePatch(p *patch) ([]byte, error) {
	e := newEncoder(16 * (len(p.actions) + len(p.files) + len(p.exists) + 1))
	e.uint(uint64(len(p.actions)))
	for _, i := range slices.Sorted(maps.Keys(p.actions)) {
		a := p.actions[i]
		if a == nil {
			return nil, fmt.Errorf("encoding the analysis snapshot: action %d is nil", i)
		}
		e.uint(uint64(i))
		e.action(a)
		d := a.FieldsDigest()
		e.bytes(d[:])
	}
	e.uint(uint64(len(p.goals)))
	for _, i := range slices.Sorted(maps.Keys(p.goals)) {
		e.uint(uint64(i))
		e.str(p.goals[i])
	}
	e.uint(uint64(len(p.packages)))
	for _, i := range slices.Sorted(maps.Keys(p.packages)) {
		e.uint(uint64(i))
		pkg := p.packages[i]
		e.str(pkg.Path)
		e.strings(pkg.Files)
		e.strings(pkg.Roots)
	}
	e.uint(uint64(len(p.files)))
	for _, k := range sortedKeys(p.files) {
		e.str(k)
		e.str(p.files[k])
	}
	e.uint(uint64(len(p.exists)))
	for _, k := range sortedKeys(p.exists) {
		e.str(k)
		e.bool(p.exists[k])
	}
	e.uint(uint64(len(p.dirs)))
	for _, k := range sortedKeys(p.dirs) {
		e.str(k)
		e.strings(p.dirs[k])
	}
	e.strings(sortedKeys(p.globPkgs))
	e.uint(uint64(len(p.globs)))
	for _, g := range p.globs {
		e.str(g.Pkg)
		e.strings(g.Include)
		e.strings(g.Exclude)
		e.strings(g.Result)
	}
	return e.finish(patchMagic), nil
}

// patch reads a patch's fields (encodePatch).
func (d *decoder) patch() *patch {
	p := &patch{actions: map[int]*graph.Action{}, goals: map[int]string{}, packages: map[int]Package{},
		files: map[string]string{}, exists: map[string]bool{}, dirs: map[string][]string{}, globPkgs: map[string]bool{}}
	// index reads an index of a list, which must increase.
	last := -1
	index := func() int {
		i := d.uint()
		if i > math.MaxInt32 || int(i) <= last {
			d.fail()
			return 0
		}
		last = int(i)
		return last
	}
	n := d.len()
	acts := make([]graph.Action, n)
	p.digests = make(map[int][32]byte, n)
	for j := range acts {
		i := index()
		d.action(&acts[j])
		p.actions[i] = &acts[j]
		if dg := d.digestList(1); dg != nil {
			p.digests[i] = dg[0]
		}
	}
	last = -1
	for range d.len() {
		i := index()
		p.goals[i] = d.str()
	}
	last = -1
	for range d.len() {
		i := index()
		p.packages[i] = Package{Path: d.str(), Files: d.strings(), Roots: d.strings()}
	}
	for range d.len() {
		k := d.str()
		p.files[k] = d.str()
	}
	for range d.len() {
		k := d.str()
		p.exists[k] = d.bool()
	}
	for range d.len() {
		k := d.str()
		p.dirs[k] = d.strings()
	}
	for _, pkg := range d.strings() {
		p.globPkgs[pkg] = true
	}
	if n := d.len(); n > 0 {
		p.globs = make([]workspace.GlobRead, n)
		for i := range p.globs {
			p.globs[i] = workspace.GlobRead{Pkg: d.str(), Include: d.strings(), Exclude: d.strings(), Result: d.strings()}
			if !p.globPkgs[p.globs[i].Pkg] {
				d.fail()
			}
		}
	}
	if d.err != nil {
		return nil
	}
	return p
}

// len reads the length of a list that is never nil; every element takes
// at least a byte.
func (d *decoder) len() int {
	v := d.uint()
	if v > uint64(len(d.data)-d.pos) {
		d.fail()
		return 0
	}
	return int(v)
}

// apply applies p to s, or reports that it does not fit s.
// The base's Links stay when they hold for the patched actions and goals
// (SameLinks); else they are dropped, and the build links the graph by
// path.
func (p *patch) apply(s *Snapshot) bool {
	for i, a := range p.actions {
		if i >= len(s.Actions) {
			return false
		}
		if !SameLinks(s.Actions[i], a) {
			s.Links = nil
		}
		s.Actions[i] = a
	}
	for i, g := range p.goals {
		if i >= len(s.Goals) {
			return false
		}
		if s.Goals[i] != g {
			s.Links = nil
		}
		s.Goals[i] = g
	}
	if len(p.packages) > 0 && s.Index == nil {
		return false
	}
	for i, pkg := range p.packages {
		if i >= len(s.Index.Packages) {
			return false
		}
		s.Index.Packages[i] = pkg
	}
	r := s.Reads
	if r == nil {
		return false
	}
	if len(p.files) > 0 && r.Files == nil {
		r.Files = make(map[string]string, len(p.files))
	}
	maps.Copy(r.Files, p.files)
	if len(p.exists) > 0 && r.Exists == nil {
		r.Exists = make(map[string]bool, len(p.exists))
	}
	maps.Copy(r.Exists, p.exists)
	if len(p.dirs) > 0 && r.Packages == nil {
		r.Packages = make(map[string][]string, len(p.dirs))
	}
	maps.Copy(r.Packages, p.dirs)
	if len(p.globPkgs) > 0 {
		var globs []workspace.GlobRead
		for _, g := range r.Globs {
			if !p.globPkgs[g.Pkg] {
				globs = append(globs, g)
			}
		}
		globs = append(globs, p.globs...)
		workspace.SortGlobs(globs)
		r.Globs = globs
	}
	return true
}

// SameLinks reports whether an action graph's links (Links) that hold for
// a, among the same other actions and goals, hold with b at a's place:
// b reads and writes the very paths a does, in the same order.
func SameLinks(a, b *graph.Action) bool {
	return a == b || slices.Equal(a.Inputs, b.Inputs) && slices.Equal(a.Outputs, b.Outputs) &&
		slices.Equal(a.Discoverable(), b.Discoverable())
}

// Patched reports whether the file held a patch after its base.
func (l *Loaded) Patched() bool { return l.patch != nil }

// latest returns k's value in the last of layers that has it (the zero
// value if none has).
func latest[V any](k string, layers ...map[string]V) V {
	for i := len(layers) - 1; i >= 0; i-- {
		if v, ok := layers[i][k]; ok {
			return v
		}
	}
	var zero V
	return zero
}
