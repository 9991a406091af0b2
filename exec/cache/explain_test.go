package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bld/exec/graph"
)

// --explain compares with this workspace's own last run, not with another
// checkout's that shares the cache.
func TestExplainComparesWithOwnWorkspace(t *testing.T) {
	dir, rootA, rootB := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, rootA, sampleFiles)
	writeFiles(t, rootB, sampleFiles)
	withFlags := func(flags ...string) []*graph.Action {
		a := sampleGraph()[0]
		a.Argv = append(append([]string{"tools/cc"}, flags...), a.Argv[1:]...)
		return []*graph.Action{a}
	}
	reason := func(root string, actions []*graph.Action) string {
		t.Helper()
		c := openCache(t, dir, root, Options{Explain: true})
		defer closeCache(t, c)
		r := build(t, c, root, actions)
		if len(r.ran) != 1 {
			t.Fatalf("ran %v, want the one action", r.ran)
		}
		return r.reasons[actions[0].Owner]
	}
	reason(rootA, withFlags("-O1"))
	if got := reason(rootB, withFlags("-O2")); got != "no previous entry" {
		t.Errorf("other checkout: reason %q, want no previous entry (A's run is not B's)", got)
	}
	if got, want := reason(rootA, withFlags("-O3")), "argv -O1 deleted; argv -O3 inserted"; got != want {
		t.Errorf("reason %q, want %q (against A's own last run)", got, want)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "explain")); len(files) != 0 {
		t.Errorf("explain records in the shared cache: %v", files)
	}
	if files, _ := filepath.Glob(filepath.Join(rootA, "bld-out", ".bld", "explain", "records")); len(files) != 1 {
		t.Errorf("explain record log of A: %v, want one", files)
	}
}

// A PATH under which argv[0] resolves to another file is named as such.
func TestExplainToolPathChanged(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, map[string]string{
		"src/a.c":   "int a;\n",
		"bin1/mycc": "#!/bin/sh\n# one compiler\n",
		"bin2/mycc": "#!/bin/sh\n# another compiler\n",
	})
	action := func(path string) []*graph.Action {
		return []*graph.Action{{Owner: "//:a", Mnemonic: "CcCompile", Argv: []string{"mycc", "-c", "src/a.c"},
			Env: []string{"PATH=" + path}, Inputs: []string{"src/a.c"}, Outputs: []string{"bld-out/a.o"}}}
	}
	bin1, bin2 := filepath.Join(root, "bin1"), filepath.Join(root, "bin2")
	c := openCache(t, dir, root, Options{Explain: true})
	defer closeCache(t, c)
	build(t, c, root, action(bin1))
	r := build(t, c, root, action(bin2+":"+bin1))
	want := "tool path changed " + filepath.Join(bin1, "mycc") + " -> " + filepath.Join(bin2, "mycc")
	if !strings.Contains(r.reasons["//:a"], want) {
		t.Errorf("reason %q, want it to contain %q", r.reasons["//:a"], want)
	}
	// The same file found through another PATH is not a tool change; an
	// edit of it is.
	if err := os.WriteFile(filepath.Join(bin2, "mycc"), []byte("#!/bin/sh\n# better\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = build(t, c, root, action(bin2))
	if got := r.reasons["//:a"]; strings.Contains(got, "tool path") || !strings.Contains(got, "tool "+filepath.Join(bin2, "mycc")+" changed: ") {
		t.Errorf("reason %q, want the content of the tool changed, not its path", got)
	}
}
