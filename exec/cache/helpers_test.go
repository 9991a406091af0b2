package cache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/store"
)

// A test workspace: real files under t.TempDir(), and a toy build whose
// "compiler" is a function of argv and input contents, so that expected
// outputs are known exactly.

// writeFiles writes files under root; a file whose content starts with
// "#!" is a program, and gets mode 0755 (os.WriteFile keeps the mode of a
// file that exists).
func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleFiles is the source tree the sample graph builds.
var sampleFiles = map[string]string{
	"src/a.c":    "int a() { return 1; }\n",
	"src/b.c":    "int b() { return 2; }\n",
	"src/defs.h": "#define X 1\n",
	"tools/cc":   "#!/bin/sh\n# a compiler\n",
}

// sampleGraph: two compiles, a link producing an executable, a write action.
func sampleGraph() []*graph.Action {
	env := []string{"LANG=C", "PATH=/usr/bin:/bin"}
	return []*graph.Action{
		{Owner: "//:a", Mnemonic: "CcCompile", Argv: []string{"tools/cc", "-c", "src/a.c", "-o", "bld-out/a.o"}, Env: env,
			Inputs: []string{"src/a.c", "src/defs.h", "tools/cc"}, Outputs: []string{"bld-out/a.o"}},
		{Owner: "//:b", Mnemonic: "CcCompile", Argv: []string{"tools/cc", "-c", "src/b.c", "-o", "bld-out/b.o"}, Env: env,
			Inputs: []string{"src/b.c", "src/defs.h", "tools/cc"}, Outputs: []string{"bld-out/b.o"}},
		{Owner: "//:app", Mnemonic: "CcLink", Argv: []string{"tools/cc", "-o", "bld-out/app", "bld-out/a.o", "bld-out/b.o"}, Env: env,
			Inputs: []string{"bld-out/a.o", "bld-out/b.o", "tools/cc"}, Outputs: []string{"bld-out/app", "bld-out/app.map"}},
		{Owner: "//:cfg", Mnemonic: "Write", More: &graph.More{Content: []byte("config=1\n")}, Outputs: []string{"bld-out/cfg.txt"}},
	}
}

// runAction does what a's command would: each output gets argv, the
// environment and the content of every input. Link outputs are executable.
func runAction(t testing.TB, root string, a *graph.Action) {
	t.Helper()
	for _, out := range a.Outputs {
		var b bytes.Buffer
		mode := os.FileMode(0o644)
		if len(a.Argv) == 0 {
			b.Write(a.Content())
			if a.Executable {
				mode = 0o755
			}
		} else {
			b.WriteString(out + "\n" + strings.Join(a.Argv, " ") + "\n" + strings.Join(a.Env, " ") + "\n")
			for _, in := range a.Inputs {
				data, err := os.ReadFile(filepath.Join(root, in))
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString(in + ":" + string(data))
			}
			if a.Mnemonic == "CcLink" && !strings.HasSuffix(out, ".map") {
				mode = 0o755
			}
		}
		p := filepath.Join(root, out)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		os.Remove(p) // as a runner would: never write through an old file
		if err := os.WriteFile(p, b.Bytes(), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// buildResult says what a build did.
type buildResult struct {
	ran      []string          // owners of actions that ran
	restored []string          // owners of actions whose outputs Check restored
	reasons  map[string]string // owner -> Check.Reason
	keys     map[string]string // owner -> Check.Key
}

// build runs actions in order through c, as the executor would: through
// CheckIn when they make a graph, else Check.
func build(t testing.TB, c *Cache, root string, actions []*graph.Action) buildResult {
	t.Helper()
	return buildWith(t, c, root, actions, false)
}

// buildWith is build, through Check only if byName.
func buildWith(t testing.TB, c *Cache, root string, actions []*graph.Action, byName bool) buildResult {
	t.Helper()
	c.forgetFiles() // one Cache, several builds
	ctx := context.Background()
	r := buildResult{reasons: map[string]string{}, keys: map[string]string{}}
	g, gerr := graph.New(actions, nil)
	for i, a := range actions {
		var chk executor.Check
		var err error
		if gerr == nil && !byName {
			chk, err = c.CheckIn(ctx, g, i)
		} else {
			chk, err = c.Check(ctx, a)
		}
		if err != nil {
			t.Fatalf("Check %s: %v", a.Owner, err)
		}
		r.keys[a.Owner] = chk.Key
		if chk.Restored && !chk.UpToDate {
			t.Fatalf("Check %s: Restored without UpToDate: %+v", a.Owner, chk)
		}
		if chk.UpToDate {
			if chk.Restored {
				r.restored = append(r.restored, a.Owner)
			}
			continue
		}
		r.ran = append(r.ran, a.Owner)
		r.reasons[a.Owner] = chk.Reason
		runAction(t, root, a)
		if err := c.Store(ctx, a, chk.Key, nil); err != nil {
			t.Fatalf("Store %s: %v", a.Owner, err)
		}
	}
	return r
}

// expectOutputs checks that every output is what running its action gives,
// by running the actions in a scratch copy of the workspace.
func expectOutputs(t testing.TB, root string, actions []*graph.Action, files map[string]string) {
	t.Helper()
	ref := t.TempDir()
	writeFiles(t, ref, files)
	for _, a := range actions {
		runAction(t, ref, a)
	}
	for _, a := range actions {
		for _, out := range a.Outputs {
			want, err := os.ReadFile(filepath.Join(ref, out))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, out))
			if err != nil {
				t.Fatalf("output %s: %v", out, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output %s = %q, want %q", out, got, want)
			}
			wfi, _ := os.Stat(filepath.Join(ref, out))
			gfi, _ := os.Stat(filepath.Join(root, out))
			if wfi.Mode()&0o111 != gfi.Mode()&0o111 {
				t.Errorf("output %s mode %v, want %v", out, gfi.Mode(), wfi.Mode())
			}
		}
	}
}

// openStore opens the store in dir, unbounded unless opts say otherwise.
func openStore(t testing.TB, dir string, opts ...store.Options) *store.Store {
	t.Helper()
	o := store.Options{}
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := store.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openCache opens the checker of root on the store in dir.
func openCache(t testing.TB, dir, root string, opts Options) *Cache {
	t.Helper()
	c, err := Open(openStore(t, dir), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openCacheWith is openCache on a store opened with sopts.
func openCacheWith(t testing.TB, dir, root string, opts Options, sopts store.Options) *Cache {
	t.Helper()
	c, err := Open(openStore(t, dir, sopts), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blobPath and entryPath are where the store in dir keeps a blob and an
// entry (see package store).
func blobPath(dir, hash string) string { return filepath.Join(dir, "cas", hash[:2], hash) }
func entryPath(dir, key string) string { return filepath.Join(dir, "ac", key[:2], key) }

func closeCache(t testing.TB, c *Cache) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// blobFiles lists the paths of every blob in the cache dir.
func blobFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "cas", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// flipByte inverts one byte of the file name in place.
func flipByte(t testing.TB, name string, at int64) {
	t.Helper()
	os.Chmod(name, 0o644)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		t.Skipf("%s is empty", name)
	}
	data[at%int64(len(data))] ^= 0xff
	if err := os.WriteFile(name, data, 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(name, 0o444)
}

// manyActions returns n actions, each compiling a source of its own whose
// content is about size bytes, distinct per i.
func manyActions(root string, n, size int) ([]*graph.Action, map[string]string) {
	files := map[string]string{}
	var actions []*graph.Action
	for i := 0; i < n; i++ {
		src := fmt.Sprintf("src/f%03d.c", i)
		files[src] = fmt.Sprintf("%d%0*d\n", i, size, 0)
		actions = append(actions, &graph.Action{
			Owner: fmt.Sprintf("//:f%d", i), Argv: []string{"cc", src},
			Inputs: []string{src}, Outputs: []string{fmt.Sprintf("bld-out/f%03d.o", i)},
		})
	}
	return actions, files
}
