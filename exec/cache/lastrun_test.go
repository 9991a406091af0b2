package cache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Outputs in place from this workspace's last run under the same key are
// up to date even when the store lost the result; the result is stored
// again. An output that differs from the last run's is not.
func TestUpToDateByLastRun(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	r := build(t, c, root, actions)
	closeCache(t, c)

	for _, tc := range []struct {
		name string
		lose func()
		ran  []string
	}{
		{"store emptied", func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"store emptied, an output edited", func() {
			os.RemoveAll(dir)
			writeFiles(t, root, map[string]string{"bld-out/a.o": "edited"})
		}, []string{"//:a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.lose()
			// Without the action record, every action takes the full
			// path (the record would otherwise answer alone).
			os.Remove(filepath.Join(root, "bld-out", ".bld", "actions"))
			c := openCache(t, dir, root, Options{})
			got := build(t, c, root, actions)
			closeCache(t, c)
			if diff := cmp.Diff(tc.ran, got.ran); diff != "" {
				t.Errorf("ran (-want +got):\n%s", diff)
			}
			expectOutputs(t, root, actions, sampleFiles)
			for _, a := range actions {
				if _, err := openStore(t, dir).GetEntry(r.keys[a.Owner]); err != nil {
					t.Errorf("%s: result not stored again: %v", a.Owner, err)
				}
			}
			if rep, err := openStore(t, dir).Verify(); err != nil || !rep.OK() {
				t.Errorf("Verify = %+v, %v", rep, err)
			}
		})
	}
	// And the store alone, after bld clean, restores everything.
	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{})
	if got := build(t, c, root, actions); len(got.ran) != 0 || len(got.restored) != len(actions) {
		t.Errorf("after clean: ran %v, restored %v", got.ran, got.restored)
	}
	closeCache(t, c)
}
