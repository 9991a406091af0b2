package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"bld/exec/executor"
	"bld/exec/graph"
)

// StoreRan checks the outputs as executor.CheckOutputs does, by the open
// that reads each: for every state an action can leave them in, its error
// is CheckOutputs' (the same text, an *executor.OutputsError), and
// nothing is stored (a later Check misses); with regular outputs, it
// stores what Store stores (a later Check restores them). Whether the
// outputs are inlined, stored as blobs, or not read at all (the result
// declined because an input changed after the check) makes no difference.
func TestStoreRanChecksOutputs(t *testing.T) {
	a := &graph.Action{Owner: "//:two", Mnemonic: "Gen", Argv: []string{"tools/cc", "src/a.c"},
		Env: []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"src/a.c", "tools/cc"},
		Outputs: []string{"bld-out/o1", "bld-out/sub/o2"}}
	regular := func(t *testing.T, root, out string) {
		writeFiles(t, root, map[string]string{out: "content of " + out + "\n"})
	}
	large := func(t *testing.T, root, out string) {
		writeFiles(t, root, map[string]string{out: string(make([]byte, 20<<10))})
	}
	symlink := func(t *testing.T, root, out string) {
		if err := os.Symlink("../src/a.c", filepath.Join(root, out)); err != nil {
			t.Fatal(err)
		}
	}
	danglingLink := func(t *testing.T, root, out string) {
		if err := os.Symlink("nowhere", filepath.Join(root, out)); err != nil {
			t.Fatal(err)
		}
	}
	fifo := func(t *testing.T, root, out string) {
		if err := syscall.Mkfifo(filepath.Join(root, out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := func(t *testing.T, root, out string) {
		writeFiles(t, root, map[string]string{out + "/x": "x\n"})
	}
	missing := func(t *testing.T, root, out string) {}
	type leave func(t *testing.T, root, out string)
	for _, tc := range []struct {
		name   string
		o1, o2 leave
		ok     bool
	}{
		{"regular", regular, regular, true},
		{"large", large, regular, true},
		{"one missing", regular, missing, false},
		{"first missing", missing, regular, false},
		{"both missing", missing, missing, false},
		{"symlink", symlink, regular, false},
		{"dangling symlink", regular, danglingLink, false},
		{"FIFO", regular, fifo, false},
		{"directory", dir, regular, false},
		{"directory and missing", dir, missing, false},
	} {
		for _, opts := range []struct {
			name      string
			inlineMax int64
			decline   bool // an input changes between Check and StoreRan
		}{{"inline", 0, false}, {"blobs", -1, false}, {"declined", 0, true}} {
			t.Run(tc.name+"/"+opts.name, func(t *testing.T) {
				ctx := context.Background()
				root, cdir := t.TempDir(), t.TempDir()
				writeFiles(t, root, sampleFiles)
				c := openCache(t, cdir, root, Options{InlineMax: opts.inlineMax})
				chk, err := c.Check(ctx, a)
				if err != nil || chk.UpToDate {
					t.Fatalf("Check = %+v, %v; want a miss", chk, err)
				}
				if err := os.MkdirAll(filepath.Join(root, "bld-out/sub"), 0o755); err != nil {
					t.Fatal(err)
				}
				tc.o1(t, root, a.Outputs[0])
				tc.o2(t, root, a.Outputs[1])
				if opts.decline {
					writeFiles(t, root, map[string]string{"src/a.c": "int a() { return 42; }\n"})
				}
				want := executor.CheckOutputs(root, a, nil)
				if (want == nil) != tc.ok {
					t.Fatalf("CheckOutputs = %v; the case is wrong", want)
				}
				err = c.StoreRan(ctx, a, chk.Key, []byte("a warning\n"))
				var oe *executor.OutputsError
				switch {
				case tc.ok && err != nil:
					t.Fatalf("StoreRan = %v, want nil", err)
				case !tc.ok && (err == nil || err.Error() != want.Error() || !errors.As(err, &oe)):
					t.Fatalf("StoreRan = %v; want CheckOutputs' %q, an *OutputsError", err, want)
				}
				closeCache(t, c)

				// Restored from the cache, or missed: what was stored.
				os.RemoveAll(filepath.Join(root, "bld-out"))
				if opts.decline {
					writeFiles(t, root, sampleFiles)
				}
				c = openCache(t, cdir, root, Options{InlineMax: opts.inlineMax})
				defer closeCache(t, c)
				chk, err = c.Check(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if stored := tc.ok && !opts.decline; chk.UpToDate != stored {
					t.Fatalf("Check after StoreRan = %+v; want a restore: %v", chk, stored)
				}
				if chk.UpToDate {
					for _, out := range a.Outputs {
						if fi, err := os.Lstat(filepath.Join(root, out)); err != nil || !fi.Mode().IsRegular() {
							t.Errorf("restored %s: %v, %v", out, fi, err)
						}
					}
				}
			})
		}
	}
}
