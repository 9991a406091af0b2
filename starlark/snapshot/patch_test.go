package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

// next returns the snapshot an incremental analysis of s gives when it
// replaces the action at act (with one that runs cmd), the goal at goal
// (with g) and the files of the index's package at pkg (with files); a
// negative index changes nothing there.
func next(s *Snapshot, act int, cmd string, goal int, g string, pkg int, files []string) *Snapshot {
	n := *s
	n.Reads = nil
	n.Actions = slices.Clone(s.Actions)
	if act >= 0 {
		a := *s.Actions[act]
		a.Argv = []string{"sh", "-c", cmd}
		n.Actions[act] = &a
	}
	n.Goals = slices.Clone(s.Goals)
	if goal >= 0 {
		n.Goals[goal] = g
	}
	x := *s.Index
	x.Packages = slices.Clone(s.Index.Packages)
	if pkg >= 0 {
		x.Packages[pkg].Files = files
	}
	n.Index = &x
	return &n
}

// TestPatchLoadsAsWhole saves a chain of incremental analyses as patches:
// each file loads as the snapshot encoded whole would (the patches of the
// chain add up, one reverting another included), a base changed otherwise
// is encoded whole, and a patch that is too large is not written.
func TestPatchLoadsAsWhole(t *testing.T) {
	s := sampleSnapshot(t)
	s.Index.Packages = append(s.Index.Packages, Package{Path: "q", Files: []string{"q/BUILD.star"}})
	s.Reads.Globs = append(s.Reads.Globs, workspace.GlobRead{Pkg: "p", Include: []string{"*.h"}, Result: []string{"p/a.h"}})
	workspace.SortGlobs(s.Reads.Globs)
	dir := t.TempDir()
	path, wholePath := filepath.Join(dir, "analysis"), filepath.Join(dir, "whole")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		next  func(s *Snapshot) *Snapshot
		upd   ReadsUpdate
		patch bool // whether the file is a patch
	}{
		{name: "an action and a file", patch: true,
			next: func(s *Snapshot) *Snapshot { return next(s, 1, "y", -1, "", -1, nil) },
			upd: ReadsUpdate{Diff: &workspace.Diff{Files: map[string]string{"p/BUILD.star": "d2"}},
				Reloaded: map[string]bool{"p": true},
				Fresh: &workspace.Reads{Files: map[string]string{"p/BUILD.star": "d2"}, Exists: map[string]bool{"p/a.c": true, "p/new.c": false},
					Globs: []workspace.GlobRead{{Pkg: "p", Include: []string{"*.c"}, Result: []string{"p/a.c", "p/z.c"}}}}}},
		{name: "another action, a goal, a package's files, a package search", patch: true,
			next: func(s *Snapshot) *Snapshot {
				return next(s, 2, "w", 1, "bld-out/p/w2", 1, []string{"q/BUILD.star", "defs.star"})
			},
			upd: ReadsUpdate{Diff: &workspace.Diff{Files: map[string]string{"q/BUILD.star": "q2"}, Exists: map[string]bool{"p/b.c": true}},
				Reloaded: map[string]bool{"q": true},
				Fresh: &workspace.Reads{Files: map[string]string{"q/BUILD.star": "q2", "defs.star": "x"}, Packages: map[string][]string{"q": {"q"}},
					Globs: []workspace.GlobRead{{Pkg: "q", Include: []string{"*.x"}}}}}},
		{name: "the first action back, globs of a package gone", patch: true,
			next: func(s *Snapshot) *Snapshot { return next(s, 1, "x", -1, "", -1, nil) },
			upd: ReadsUpdate{Diff: &workspace.Diff{Files: map[string]string{"p/BUILD.star": "def"}},
				Reloaded: map[string]bool{"p": true},
				Fresh:    &workspace.Reads{Files: map[string]string{"p/BUILD.star": "def"}}}},
		{name: "an action more", patch: false,
			next: func(s *Snapshot) *Snapshot {
				n := next(s, -1, "", -1, "", -1, nil)
				n.Actions = append(n.Actions, &graph.Action{Owner: "//q:n", Outputs: []string{"bld-out/q/n"}})
				n.Index = nil
				return n
			},
			upd: ReadsUpdate{Diff: &workspace.Diff{}, Fresh: &workspace.Reads{}}},
	}
	for _, st := range steps {
		l, err := Open(path, s.Key)
		if err != nil || l == nil {
			t.Fatalf("%s: Open = %v, %v", st.name, l, err)
		}
		w, err := Open(path, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		// The snapshot encoded whole: next with the reads updated.
		want := st.next(l.Snapshot)
		if err := w.SaveNext(wholePath, want, st.upd, false); err != nil {
			t.Fatal(err)
		}
		if err := l.SaveNext(path, want, st.upd, true); err != nil {
			t.Fatal(err)
		}
		wantLoaded, err := Open(wholePath, s.Key)
		if err != nil || wantLoaded == nil || wantLoaded.Patched() {
			t.Fatalf("%s: the whole snapshot: %v, %v", st.name, wantLoaded, err)
		}
		got, err := Open(path, s.Key)
		if err != nil || got == nil {
			t.Fatalf("%s: the patched snapshot does not load: %v, %v", st.name, got, err)
		}
		if got.Patched() != st.patch {
			t.Errorf("%s: patched %v, want %v", st.name, got.Patched(), st.patch)
		}
		if diff := cmp.Diff(wantLoaded.Snapshot, got.Snapshot); diff != "" {
			t.Errorf("%s: the patched snapshot differs from the whole one (-whole +patched):\n%s", st.name, diff)
		}
		checkKeptDigests(t, st.name+", patched", got)
		checkKeptDigests(t, st.name+", whole", wantLoaded)
		data, _ := os.ReadFile(path)
		if st.patch && !bytes.HasPrefix(data, base) {
			t.Errorf("%s: a patched file does not start with its base's bytes", st.name)
		}
	}

	// A patch larger than a quarter of its base (and the small limit)
	// is not written: the snapshot is encoded whole.
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	l, _ := Open(path, s.Key)
	big := next(l.Snapshot, -1, "", -1, "", -1, nil)
	fresh := &workspace.Reads{Files: map[string]string{}}
	for i := range minPatchLimit / 16 {
		fresh.Files[string(rune('a'+i%26))+"/"+string(rune(i))+"/BUILD.star"] = "0123456789abcdef"
	}
	if err := l.SaveNext(path, big, ReadsUpdate{Diff: &workspace.Diff{}, Fresh: fresh}, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := Open(path, s.Key); got == nil || got.Patched() || len(got.Reads.Files) < minPatchLimit/16 {
		t.Errorf("a large patch: loaded %v (patched, or reads missing)", got)
	}
}

// TestDamagedPatch: a file whose patch is cut short or damaged anywhere
// is not a snapshot (never the base without its patch, nor a part of
// it).
func TestDamagedPatch(t *testing.T) {
	s := sampleSnapshot(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "analysis")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	baseLen := func() int { data, _ := os.ReadFile(path); return len(data) }()
	l, _ := Open(path, s.Key)
	upd := ReadsUpdate{Diff: &workspace.Diff{Files: map[string]string{"p/BUILD.star": "d2"}}, Fresh: &workspace.Reads{}}
	if err := l.SaveNext(path, next(l.Snapshot, 1, "y", -1, "", -1, nil), upd, true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Decode(data); got == nil || got.Reads.Files["p/BUILD.star"] != "d2" {
		t.Fatal("the patched file does not decode as patched")
	}
	for n := baseLen + 1; n < len(data); n++ {
		if got, err := Decode(data[:n]); err == nil {
			t.Fatalf("cut at %d of %d: decoded %v", n, len(data), got)
		}
	}
	for i := baseLen; i < len(data); i++ {
		damaged := slices.Clone(data)
		damaged[i] ^= 0x40
		if got, err := Decode(damaged); err == nil {
			t.Fatalf("byte %d damaged: decoded %v", i, got)
		}
	}
	// A patch whose index is out of the base's range is refused even with
	// a right checksum.
	p := &patch{actions: map[int]*graph.Action{7: {Owner: "//p:x"}}}
	section, err := encodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(append(data[:baseLen:baseLen], section...)); err == nil {
		t.Fatalf("a patch of action 7 of 3 decoded: %v", got)
	}
}

// TestPatchFarIndex patches the last action and goal of a large snapshot:
// a patch's indices are those of the base, larger than the patch.
func TestPatchFarIndex(t *testing.T) {
	s := genSnapshot(1000)
	var targets []Target
	var roots []string
	for i, g := range s.Goals {
		name := fmt.Sprintf("t%04d", i)
		roots = append(roots, name)
		targets = append(targets, Target{Label: label.Label{Pkg: "p", Name: name}, Actions: 1, Goals: []string{g}})
	}
	s.Index = NewIndex([]Package{{Path: "p", Files: []string{"p/BUILD.star"}, Roots: roots}}, targets, s.Goals)
	path := filepath.Join(t.TempDir(), "analysis")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, s.Key)
	if err != nil || l == nil {
		t.Fatalf("Open = %v, %v", l, err)
	}
	n := next(l.Snapshot, 999, "z", 999, "bld-out/z", -1, nil)
	upd := ReadsUpdate{Diff: &workspace.Diff{}, Fresh: &workspace.Reads{}}
	if err := l.SaveNext(path, n, upd, true); err != nil {
		t.Fatal(err)
	}
	got, err := Open(path, s.Key)
	if err != nil || got == nil || !got.Patched() {
		t.Fatalf("Open of the patched file = %v, %v", got, err)
	}
	n.Reads = s.Reads
	if diff := cmp.Diff(n, got.Snapshot); diff != "" {
		t.Errorf("the patched snapshot differs (-want +got):\n%s", diff)
	}
}

// checkKeptDigests checks that the digests l kept are those of its
// actions, one for each, as a graph takes them (Digest): they decide
// whether a recorded result is reused.
func checkKeptDigests(t *testing.T, name string, l *Loaded) {
	t.Helper()
	k := l.KeptDigests()
	if len(k.Digests) != len(l.Actions) || len(k.Actions) != len(l.Actions) {
		t.Fatalf("%s: %d digests kept for %d actions", name, len(k.Digests), len(l.Actions))
	}
	if l.Patched() != (len(k.Replaced) > 0) {
		t.Errorf("%s: patched %v, but %d digests replaced", name, l.Patched(), len(k.Replaced))
	}
	for i, a := range l.Actions {
		if d, ok := k.Digest(i, a); !ok || d != a.FieldsDigest() {
			t.Errorf("%s: action %d (%s): the digest kept is not its FieldsDigest", name, i, a.Owner)
		}
	}
}

// TestOldFormatIsStale: a file of the format before the actions' digests
// were kept (bldsnap6), otherwise whole and valid, is not a snapshot:
// Open finds none, so the build analyzes again and saves the new format,
// rather than reading digests that are not there.
func TestOldFormatIsStale(t *testing.T) {
	s := sampleSnapshot(t)
	path := filepath.Join(t.TempDir(), "analysis")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, s.Key)
	if err != nil || l == nil {
		t.Fatalf("Open of the new format = %v, %v", l, err)
	}
	checkKeptDigests(t, "saved", l)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The old format: the same sections without the digests, magic
	// bldsnap6 (the checksum made right, so only the magic tells).
	old := bytes.Clone(data)
	copy(old, "bldsnap6")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(path, s.Key); err != nil || l != nil {
		t.Errorf("Open of a bldsnap6 file = %v, %v; want no snapshot", l, err)
	}
	if _, err := Decode(old); err == nil {
		t.Error("Decode of a bldsnap6 file succeeded")
	}
	// bldsnap7: the same body with a CRC-32C checksum. Read as this
	// format it would fail the checksum anyway; its magic says so first.
	old = bytes.Clone(data)
	copy(old, "bldsnap7")
	binary.LittleEndian.PutUint32(old[len(fileMagic)+8:], crc32.Checksum(old[headerLen:], crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(path, s.Key); err != nil || l != nil {
		t.Errorf("Open of a bldsnap7 file = %v, %v; want no snapshot", l, err)
	}
	// And this format's bytes with the old checksum are damaged.
	copy(old, fileMagic)
	if _, err := Decode(old); err == nil {
		t.Error("Decode of a bldsnap9 file with a CRC-32C checksum succeeded")
	}
	// bldsnap8: no Links after the Index (its checksum made right, so
	// only the magic tells).
	old = bytes.Clone(data)
	copy(old, "bldsnap8")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(path, s.Key); err != nil || l != nil {
		t.Errorf("Open of a bldsnap8 file = %v, %v; want no snapshot", l, err)
	}
}

// TestPatchKeepsLinks: a patched file keeps its base's Links when the
// actions the patch replaced read and write what they did and the goals
// are the same, and has none when an input or a goal changed (the build
// then links the graph by path).
func TestPatchKeepsLinks(t *testing.T) {
	s := sampleSnapshot(t)
	s.Links = &Links{Edges: make([]int32, 0), Goals: []int32{1}}
	for _, a := range s.Actions {
		for range a.AllInputs() {
			s.Links.Edges = append(s.Links.Edges, -1)
		}
	}
	path := filepath.Join(t.TempDir(), "analysis")
	for _, tc := range []struct {
		name string
		next func(s *Snapshot) *Snapshot
		keep bool
	}{
		{"a command changed", func(s *Snapshot) *Snapshot { return next(s, 1, "y", -1, "", -1, nil) }, true},
		{"an input changed", func(s *Snapshot) *Snapshot {
			n := next(s, -1, "", -1, "", -1, nil)
			a := *n.Actions[1]
			a.Inputs = []string{"p/other.c"}
			n.Actions[1] = &a
			return n
		}, false},
		{"a goal changed", func(s *Snapshot) *Snapshot { return next(s, -1, "", 1, "bld-out/p/w2", -1, nil) }, false},
	} {
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		l, err := Open(path, s.Key)
		if err != nil || l == nil {
			t.Fatalf("%s: Open = %v, %v", tc.name, l, err)
		}
		upd := ReadsUpdate{Diff: &workspace.Diff{}, Fresh: &workspace.Reads{}}
		if err := l.SaveNext(path, tc.next(l.Snapshot), upd, true); err != nil {
			t.Fatal(err)
		}
		got, err := Open(path, s.Key)
		if err != nil || got == nil || !got.Patched() {
			t.Fatalf("%s: the patched snapshot: %v, %v (want a patch)", tc.name, got, err)
		}
		if tc.keep && !cmp.Equal(got.Links, s.Links) {
			t.Errorf("%s: links %v, want the base's %v", tc.name, got.Links, s.Links)
		}
		if !tc.keep && got.Links != nil {
			t.Errorf("%s: links %v kept, want none", tc.name, got.Links)
		}
	}
}
