package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"bld/exec/store"
)

// Close records the build with the store, which trims itself to its bound.
func TestCloseTrimsStore(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	actions, files := manyActions(root, 20, 10000)
	writeFiles(t, root, files)
	const max = 60000
	st := openStore(t, dir, store.Options{MaxSize: max})
	c, err := Open(st, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	build(t, c, root, actions)
	closeCache(t, c)
	s, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Size > max || s.Entries == 0 {
		t.Errorf("after Close with MaxSize %d: size %d, %d entries", max, s.Size, s.Entries)
	}
	if n := len(s.Builds); n != 1 || s.Builds[0].Misses != len(actions) || s.Builds[0].Stored == 0 {
		t.Errorf("recorded builds %+v, want one with %d misses and bytes stored", s.Builds, len(actions))
	}
}

// A build whose every Check the action record answered asked nothing of
// the store: Close records no build and leaves stats.json as it was (a
// no-op writes nothing to the shared store). A build that consulted the
// store is recorded, the record's answers among its hits.
func TestCloseRecordsNoNoop(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)
	statsFile := filepath.Join(dir, "stats.json")
	before, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatal(err)
	}
	builds := func() []store.BuildStats {
		t.Helper()
		s, err := openStore(t, dir).Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s.Builds
	}
	n := len(builds())
	if n == 0 {
		t.Fatal("no build recorded before the no-op")
	}

	c = openCache(t, dir, root, Options{})
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("no-op: ran %v, %d fast checks; want none ran, %d fast", r.ran, fast, len(actions))
	}
	closeCache(t, c)
	after, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a no-op rewrote stats.json:\n%s\nwas:\n%s", after, before)
	}

	// One source edited: its compile and the link miss, the other compile
	// is answered by the record; the build is recorded with that hit.
	writeFiles(t, root, map[string]string{"src/a.c": "int a() { return 3; }\n"})
	c = openCache(t, dir, root, Options{})
	r = build(t, c, root, actions)
	closeCache(t, c)
	b := builds()
	if len(r.ran) == 0 || len(b) != n+1 {
		t.Fatalf("after an edit: ran %v, %d builds recorded; want some ran and %d recorded", r.ran, len(b), n+1)
	}
	if last := b[len(b)-1]; last.Misses != len(r.ran) || last.Hits != len(actions)-len(r.ran) {
		t.Errorf("recorded %+v, want %d misses and %d hits", last, len(r.ran), len(actions)-len(r.ran))
	}
}
