package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bld/exec/graph"
)

// includeDirs is the search order of the fake compiler of discoverAction.
var includeDirs = []string{"inc0", "inc1", "inc2"}

// discoverAction compiles src/a.c, with candidates among include
// directories, writing a depfile.
func discoverAction(candidates ...string) *graph.Action {
	slices.Sort(candidates)
	return &graph.Action{
		Owner: "//:a", Mnemonic: "CcCompile",
		Argv:    []string{"tools/cc", "src/a.c"},
		Env:     []string{"PATH=/usr/bin:/bin"},
		Inputs:  []string{"src/a.c", "tools/cc"},
		More:    &graph.More{Depfile: "bld-out/a.d", Discoverable: candidates},
		Outputs: []string{"bld-out/a.d", "bld-out/a.o"},
	}
}

// compileFake does what a compiler would: each line "include NAME" of
// src/a.c is replaced by the first candidate inc*/NAME, and every file it
// read is listed in the depfile.
func compileFake(t testing.TB, root string, a *graph.Action) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "src/a.c"))
	if err != nil {
		t.Fatal(err)
	}
	var obj bytes.Buffer
	read := []string{"src/a.c"}
	for _, line := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
		name, ok := strings.CutPrefix(line, "include ")
		if !ok {
			obj.WriteString(line + "\n")
			continue
		}
		found := false
		for _, dir := range includeDirs {
			p := dir + "/" + name
			if !slices.Contains(a.Discoverable(), p) {
				continue // the sandbox would hide it
			}
			data, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				continue
			}
			obj.Write(data)
			read = append(read, "./"+p) // as gcc may spell it
			found = true
			break
		}
		if !found {
			t.Fatalf("fake compiler: %s not found", name)
		}
	}
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o777)
	for out, data := range map[string]string{
		"bld-out/a.o": obj.String(),
		"bld-out/a.d": "bld-out/a.o: " + strings.Join(read, " \\\n ") + "\n",
	} {
		p := filepath.Join(root, out)
		os.Remove(p)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRun checks a, runs it if it must, and reports whether it ran.
func checkRun(t testing.TB, c *Cache, root string, a *graph.Action) bool {
	t.Helper()
	ctx := context.Background()
	chk, err := c.Check(ctx, a)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if chk.UpToDate {
		return false
	}
	compileFake(t, root, a)
	if err := c.Store(ctx, a, chk.Key, nil); err != nil {
		t.Fatalf("Store: %v", err)
	}
	return true
}

// An action with a depfile is keyed on what it read: candidates it did not
// read change nothing, new candidates change nothing unless they could
// shadow a file it read, and a second checkout with one store reuses the
// result.
func TestDiscoveredInputs(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"src/a.c":   "int a;\ninclude x.h\n",
		"inc1/x.h":  "int x;\n",
		"inc1/y.h":  "int y;\n",
		"inc0/z.h":  "int z;\n",
		"inc0/x.h":  "int shadowing_x;\n",
		"tools/cc":  "#!/bin/sh\n",
		"other/w.h": "int w;\n",
	}
	roots := []string{t.TempDir(), t.TempDir()}
	for _, r := range roots {
		writeFiles(t, r, files)
	}
	root := roots[0]
	steps := []struct {
		name       string
		edit       map[string]string
		candidates []string
		wantRun    bool
		wantObj    string
	}{
		{name: "first build", candidates: []string{"inc1/x.h", "inc1/y.h"}, wantRun: true, wantObj: "int a;\nint x;\n"},
		{name: "nothing changed", candidates: []string{"inc1/x.h", "inc1/y.h"}},
		{name: "an unread candidate edited", edit: map[string]string{"inc1/y.h": "int y2;\n"}, candidates: []string{"inc1/x.h", "inc1/y.h"}},
		{name: "the read header edited", edit: map[string]string{"inc1/x.h": "int x2;\n"}, candidates: []string{"inc1/x.h", "inc1/y.h"}, wantRun: true, wantObj: "int a;\nint x2;\n"},
		{name: "an unrelated candidate added", candidates: []string{"inc0/z.h", "inc1/x.h", "inc1/y.h"}},
		{name: "a shadowing candidate added", candidates: []string{"inc0/x.h", "inc0/z.h", "inc1/x.h", "inc1/y.h"}, wantRun: true, wantObj: "int a;\nint shadowing_x;\n"},
		{name: "the shadowing candidate removed", candidates: []string{"inc0/z.h", "inc1/x.h", "inc1/y.h"}, wantObj: "int a;\nint x2;\n"},
	}
	for _, s := range steps {
		writeFiles(t, root, s.edit)
		c := openCache(t, dir, root, Options{Explain: true, Sandboxed: true})
		ran := checkRun(t, c, root, discoverAction(s.candidates...))
		closeCache(t, c)
		if ran != s.wantRun {
			t.Errorf("%s: ran = %v, want %v", s.name, ran, s.wantRun)
		}
		if s.wantObj != "" {
			if got, _ := os.ReadFile(filepath.Join(root, "bld-out/a.o")); string(got) != s.wantObj {
				t.Errorf("%s: a.o = %q, want %q", s.name, got, s.wantObj)
			}
		}
		if data, _ := os.ReadFile(filepath.Join(root, "bld-out/a.d")); bytes.Contains(data, []byte("./")) == false && s.wantRun {
			// The depfile is stored as the command wrote it; the
			// sandbox (not the cache) rewrites its paths.
			t.Errorf("%s: depfile rewritten by the cache: %q", s.name, data)
		}
	}

	// A second checkout, same files as the first's now: restored, not run.
	other := roots[1]
	writeFiles(t, other, map[string]string{"inc1/x.h": "int x2;\n", "inc1/y.h": "int y2;\n"})
	c := openCache(t, dir, other, Options{Sandboxed: true})
	if checkRun(t, c, other, discoverAction("inc0/z.h", "inc1/x.h", "inc1/y.h")) {
		t.Errorf("second checkout: ran, want the result of the first")
	}
	closeCache(t, c)
	if got, _ := os.ReadFile(filepath.Join(other, "bld-out/a.o")); string(got) != "int a;\nint x2;\n" {
		t.Errorf("second checkout: a.o = %q", got)
	}

	// The header it read deleted: no read set applies, so it runs (and
	// here fails to find it, as a real compile would).
	os.Remove(filepath.Join(root, "inc1/x.h"))
	c = openCache(t, dir, root, Options{Explain: true, Sandboxed: true})
	defer closeCache(t, c)
	chk, err := c.Check(context.Background(), discoverAction("inc0/z.h", "inc1/x.h", "inc1/y.h"))
	if err != nil {
		t.Fatal(err)
	}
	if chk.UpToDate {
		t.Errorf("read header deleted: up to date")
	}
	if !strings.Contains(chk.Reason, "inc1/x.h") {
		t.Errorf("read header deleted: reason %q does not name it", chk.Reason)
	}
}
