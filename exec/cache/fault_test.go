package cache

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bld/exec/store"
)

// A store that fails (here: directories in place of every entry and blob
// the build needs) makes Check miss and Store store nothing, with one
// warning for the whole build; outputs stay in place.
func TestStoreFaultsWarnOnce(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	// Entries as files, to put directories in their place.
	c := openCacheWith(t, dir, root, Options{InlineMax: -1}, store.Options{PackMax: -1})
	r := build(t, c, root, actions)
	closeCache(t, c)
	entries, _ := filepath.Glob(filepath.Join(dir, "ac", "*", "*"))
	blobs := blobFiles(t, dir)
	for _, p := range append(entries, blobs...) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var warnings []string
	warn := func(msg string) {
		mu.Lock()
		warnings = append(warnings, msg)
		mu.Unlock()
	}
	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{Warn: warn, InlineMax: -1})
	r2 := build(t, c, root, actions) // fails the test on any Check or Store error
	closeCache(t, c)
	if len(r2.ran) != len(actions) {
		t.Errorf("ran %v, want all", r2.ran)
	}
	for owner, why := range r2.reasons {
		if why != "the cached result could not be read" {
			t.Errorf("%s: reason %q", owner, why)
		}
		if r2.keys[owner] != r.keys[owner] {
			t.Errorf("%s: key changed", owner)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not a regular file") {
		t.Errorf("warnings %q, want one about a non-file in the cache", warnings)
	}
	expectOutputs(t, root, actions, sampleFiles)

	// Blobs alone: the results are read, their outputs cannot be
	// restored, the actions run.
	for _, p := range entries {
		os.RemoveAll(p)
	}
	st := openStore(t, dir)
	if rep, err := st.Verify(); err != nil || len(rep.BadBlobs) != len(blobs) {
		t.Fatalf("Verify = %+v, %v; want the %d blob directories removed", rep, err, len(blobs))
	}
	// Without the action record (which would find the outputs in place
	// from stats alone), the checks take the slow path, which finds the
	// outputs of the last run in place and stores them again.
	os.Remove(filepath.Join(root, "bld-out", ".bld", "actions"))
	c = openCache(t, dir, root, Options{InlineMax: -1})
	build(t, c, root, actions)
	closeCache(t, c)
	os.RemoveAll(filepath.Join(root, "bld-out"))
	for _, p := range blobs {
		os.Remove(p)
		os.MkdirAll(filepath.Join(p, "x"), 0o755)
	}
	warnings = nil
	c = openCache(t, dir, root, Options{Warn: warn, InlineMax: -1})
	r3 := build(t, c, root, actions)
	closeCache(t, c)
	if len(r3.ran) != len(actions) {
		t.Errorf("ran %v, want all", r3.ran)
	}
	for owner, why := range r3.reasons {
		if !strings.HasPrefix(why, "could not restore") {
			t.Errorf("%s: reason %q, want could not restore", owner, why)
		}
	}
	if len(warnings) != 1 {
		t.Errorf("warnings %q, want one", warnings)
	}
	expectOutputs(t, root, actions, sampleFiles)
}
