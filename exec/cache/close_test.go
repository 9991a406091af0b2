package cache

import (
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
