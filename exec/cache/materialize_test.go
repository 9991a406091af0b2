package cache

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/exec/store"
)

// hostileGraph builds outputs whose names hold spaces, quotes, ';' and
// '$', in a directory whose name holds a space, one of them executable.
func hostileGraph() []*graph.Action {
	env := []string{"LANG=C", "PATH=/usr/bin:/bin"}
	obj, obj2 := "bld-out/p q/out 'q' ;x.o", `bld-out/p q/"dq" $(x)`+"\t.o"
	return []*graph.Action{
		{Owner: "//p q:a", Mnemonic: "CcCompile", Argv: []string{"tools/cc", "-c", "src/a.c"}, Env: env,
			Inputs: []string{"src/a.c", "tools/cc"}, Outputs: []string{obj, obj2}},
		{Owner: "//p q:app", Mnemonic: "CcLink", Argv: []string{"tools/cc", "-o", "app"}, Env: env,
			Inputs: []string{obj, obj2, "tools/cc"}, Outputs: []string{"bld-out/p q/app;rm -rf z", "bld-out/p q/app.map"}},
	}
}

// tempsBelow lists the files named like a restore's temporary files below
// dir.
func tempsBelow(t testing.TB, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), store.OutputTempPrefix) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// modes returns the permission bits of the outputs of actions under root.
func modes(t testing.TB, root string, actions []*graph.Action) map[string]fs.FileMode {
	t.Helper()
	m := map[string]fs.FileMode{}
	for _, a := range actions {
		for _, out := range a.Outputs {
			fi, err := os.Stat(filepath.Join(root, out))
			if err != nil {
				t.Fatal(err)
			}
			m[out] = fi.Mode().Perm()
		}
	}
	return m
}

// otherFileSystem returns a new directory on another file system than
// dir's, or "" if there is none at hand (/dev/shm is a tmpfs on Linux).
func otherFileSystem(t testing.TB, dir string) string {
	t.Helper()
	other, err := os.MkdirTemp("/dev/shm", "bld-test-")
	if err != nil {
		return ""
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	a, b := mustStat(t, dir).Sys().(*syscall.Stat_t), mustStat(t, other).Sys().(*syscall.Stat_t)
	if a == nil || b == nil || a.Dev == b.Dev {
		return ""
	}
	return other
}

func mustStat(t testing.TB, name string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// Outputs restored from the store, inlined in their result or as blobs,
// are byte-identical to those the actions made, with their modes, whatever
// their names; their temporary files are made beside them, none is left,
// and Close removes the marker. None goes through the staging directory,
// which holds only the marker while the Cache is open: the staging
// directory is on another file system (where there is one), from which a
// rename into bld-out would fail.
func TestRestoreBesideOutputs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inlineMax int64
	}{
		{"inlined", 0},
		{"blobs", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := t.TempDir(), t.TempDir()
			files := map[string]string{"src/a.c": "int a;\n", "tools/cc": "#!/bin/sh\n"}
			writeFiles(t, root, files)
			actions := hostileGraph()
			opts := Options{InlineMax: tc.inlineMax}
			staging := filepath.Join(root, "bld-out", ".bld", "staging")
			if other := otherFileSystem(t, root); other != "" {
				// The cache's own files go through the staging
				// directory: they move with it.
				staging = filepath.Join(other, "staging")
				opts.StagingDir, opts.MemoFile, opts.ActionsFile = staging, filepath.Join(other, "memo"), filepath.Join(other, "actions")
				opts.ExplainDir, opts.ToolchainsFile = filepath.Join(other, "explain"), filepath.Join(other, "toolchains")
			} else {
				t.Log("no second file system: the staging directory is on the outputs'")
			}
			c := openCache(t, dir, root, opts)
			if r := build(t, c, root, actions); len(r.ran) != len(actions) {
				t.Fatalf("first build ran %v", r.ran)
			}
			closeCache(t, c)
			wantModes := modes(t, root, actions)
			if diff := cmp.Diff(map[string]fs.FileMode{
				"bld-out/p q/out 'q' ;x.o": 0o644, `bld-out/p q/"dq" $(x)` + "\t.o": 0o644,
				"bld-out/p q/app;rm -rf z": 0o755, "bld-out/p q/app.map": 0o644,
			}, wantModes); diff != "" {
				t.Fatalf("modes of the outputs as built (-want +got):\n%s", diff)
			}
			blobs := len(blobFiles(t, dir))
			if tc.inlineMax < 0 && blobs < 4 || tc.inlineMax == 0 && blobs != 0 {
				t.Fatalf("%d blobs in the store: not the case this test is for", blobs)
			}

			if err := os.RemoveAll(filepath.Join(root, "bld-out", "p q")); err != nil {
				t.Fatal(err)
			}
			c = openCache(t, dir, root, opts)
			if r := build(t, c, root, actions); len(r.ran) != 0 || len(r.restored) != len(actions) {
				t.Fatalf("build after removing the outputs ran %v, restored %v (%v)", r.ran, r.restored, r.reasons)
			}
			if got := dirNames(t, staging); !cmp.Equal(got, []string{tempMarker}) {
				t.Errorf("staging directory holds %q while restoring, want only the marker", got)
			}
			closeCache(t, c)
			if got := dirNames(t, staging); len(got) != 0 {
				t.Errorf("staging directory holds %q after Close", got)
			}
			if left := tempsBelow(t, root); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
			expectOutputs(t, root, actions, files)
			if diff := cmp.Diff(wantModes, modes(t, root, actions)); diff != "" {
				t.Errorf("modes of the restored outputs (-built +restored):\n%s", diff)
			}

			// Outputs in place but changed (and read-only) are replaced.
			for _, a := range actions {
				for _, out := range a.Outputs {
					p := filepath.Join(root, out)
					os.Remove(p)
					writeFiles(t, root, map[string]string{out: "edited\n"})
					os.Chmod(p, 0o444)
				}
			}
			c = openCache(t, dir, root, opts)
			if r := build(t, c, root, actions); len(r.ran) != 0 || len(r.restored) != len(actions) {
				t.Fatalf("build after editing the outputs ran %v, restored %v (%v)", r.ran, r.restored, r.reasons)
			}
			closeCache(t, c)
			expectOutputs(t, root, actions, files)
			if diff := cmp.Diff(wantModes, modes(t, root, actions)); diff != "" {
				t.Errorf("modes of the outputs restored over edited ones (-built +restored):\n%s", diff)
			}
			if left := tempsBelow(t, root); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

// dirNames lists the names in dir, nil if it is missing.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A process killed between creating a restore's temporary file and
// renaming it leaves the file beside the outputs and the marker in the
// staging directory (made here as such a kill leaves them: a Cache that
// restored and was never closed). RemoveTemps removes them, and nothing
// else; the next build finds every output up to date, and nothing left
// trips it up. Without the marker, RemoveTemps walks nothing.
func TestRemoveTempsAfterKilledRestore(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	files := map[string]string{"src/a.c": "int a;\n", "tools/cc": "#!/bin/sh\n"}
	writeFiles(t, root, files)
	actions := hostileGraph()
	c := openCache(t, dir, root, Options{InlineMax: -1})
	build(t, c, root, actions)
	closeCache(t, c)
	outDir := filepath.Join(root, "bld-out")
	staging := filepath.Join(outDir, ".bld", "staging")

	// Without the marker, nothing is walked.
	keep := filepath.Join(outDir, "p q", store.OutputTempPrefix+"not-ours")
	writeFiles(t, root, map[string]string{"bld-out/p q/" + filepath.Base(keep): "x"})
	if n, err := RemoveTemps(outDir, staging); n != 0 || err != nil {
		t.Errorf("RemoveTemps without the marker = %d, %v; want 0, nil", n, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("RemoveTemps without the marker removed %s: %v", keep, err)
	}
	os.Remove(keep)

	os.RemoveAll(filepath.Join(outDir, "p q"))
	killed := openCache(t, dir, root, Options{InlineMax: -1})
	build(t, killed, root, actions) // and never closed: killed
	left := []string{
		"bld-out/p q/" + store.OutputTempPrefix + "k1",
		"bld-out/" + store.OutputTempPrefix + "k2",
		"bld-out/new dir/" + store.OutputTempPrefix + "k3",
	}
	for _, p := range left {
		writeFiles(t, root, map[string]string{p: "half a restored output"})
	}
	// bld's own state is not walked.
	writeFiles(t, root, map[string]string{"bld-out/.bld/explain/" + store.OutputTempPrefix + "own": "x"})
	if got := dirNames(t, staging); !cmp.Equal(got, []string{tempMarker}) {
		t.Fatalf("staging directory of the killed build holds %q, want the marker", got)
	}

	n, err := RemoveTemps(outDir, staging)
	if err != nil || n != len(left) {
		t.Errorf("RemoveTemps = %d, %v; want %d, nil", n, err, len(left))
	}
	if got := tempsBelow(t, root); !cmp.Equal(got, []string{filepath.Join(outDir, ".bld", "explain", store.OutputTempPrefix+"own")}) {
		t.Errorf("temporary files after RemoveTemps: %q, want only the one in bld's state", got)
	}
	if got := dirNames(t, staging); len(got) != 0 {
		t.Errorf("staging directory holds %q after RemoveTemps", got)
	}

	c = openCache(t, dir, root, Options{InlineMax: -1})
	if r := build(t, c, root, actions); len(r.ran) != 0 {
		t.Errorf("build after the killed one ran %v (%v)", r.ran, r.reasons)
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, files)
}

// If the marker cannot be made (the staging directory cannot be created:
// a file is in the way), nothing is written beside the outputs, where a
// kill would leave it unfound: the restores fail (through the staging
// directory, as before the marker) and the actions run.
func TestNoMarkerNoTempsBeside(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	files := map[string]string{"src/a.c": "int a;\n", "tools/cc": "#!/bin/sh\n"}
	writeFiles(t, root, files)
	actions := hostileGraph()
	c := openCache(t, dir, root, Options{})
	build(t, c, root, actions)
	closeCache(t, c)
	os.RemoveAll(filepath.Join(root, "bld-out", "p q"))

	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{StagingDir: filepath.Join(blocker, "staging")})
	r := build(t, c, root, actions)
	c.Close() // fails: its own files cannot be saved either
	if len(r.restored) != 0 || len(r.ran) != len(actions) {
		t.Errorf("ran %v, restored %v; want every action run", r.ran, r.restored)
	}
	if left := tempsBelow(t, root); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	expectOutputs(t, root, actions, files)
}
