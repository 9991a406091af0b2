package executor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// TestNonRegularOutputFails runs actions that leave a symbolic link, a
// FIFO or a directory as their output, with and without a sandbox: each
// fails within 20 s with an error naming the output and its kind, and
// leaves nothing in bld-out.
func TestNonRegularOutputFails(t *testing.T) {
	t.Parallel()
	modes := append([]sandbox.Mode{sandbox.ModeOff}, sandboxModes(t)...)
	for _, mode := range modes {
		for _, tc := range []struct {
			name, script, want string
		}{
			{"symlink", "ln -s ../p/in.txt bld-out/o", "output bld-out/o is a symbolic link to ../p/in.txt; an action must write regular files (cp -L instead of cp -a)"},
			{"FIFO", "mkfifo bld-out/o", "output bld-out/o is not a regular file (a FIFO); an action must write regular files"},
			{"directory", "mkdir bld-out/o && touch bld-out/o/x", "output bld-out/o is not a regular file (a directory); an action must write regular files"},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				writeFiles(t, root, map[string]string{"p/in.txt": "in\n"})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				a := sh("//p:o", tc.script, []string{"p/in.txt"}, []string{"bld-out/o"})
				_, rec, err := buildSandboxed(t, ctx, root, []*graph.Action{a}, 1, false, newMemCache(), mode)
				if ctx.Err() != nil {
					t.Fatal("the build did not end within 20 s")
				}
				if err == nil {
					t.Fatal("the build succeeded")
				}
				res := rec.results["//p:o"]
				if res.Status != StatusFailed || res.Err == nil || res.Err.Error() != tc.want {
					t.Errorf("result %s, %v; want failed with %q", res.Status, res.Err, tc.want)
				}
				if exists(filepath.Join(root, "bld-out/o")) {
					t.Error("the output is still in bld-out")
				}
			})
		}
	}
}

// TestCpAInSandboxFails copies a declared input with cp -a, which in the
// symlinks sandbox copies the exec root's symbolic link to the input: the
// action fails saying so, and no dangling link is left in bld-out. In the
// namespace sandbox inputs are regular files: cp -a copies the file.
func TestCpAInSandboxFails(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"p/in.txt": "in\n"})
			a := sh("//p:o", "cp -a p/in.txt bld-out/o", []string{"p/in.txt"}, []string{"bld-out/o"})
			_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode)
			if mode == sandbox.ModeNamespace {
				if err != nil {
					t.Fatalf("namespace: %v", err)
				}
				if fi, err := os.Lstat(filepath.Join(root, "bld-out/o")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("namespace: output %v, %v; want a regular file", fi, err)
				}
				return
			}
			if err == nil {
				t.Fatal("the build succeeded")
			}
			res := rec.results["//p:o"]
			if res.Err == nil || !strings.Contains(res.Err.Error(), "output bld-out/o is a symbolic link to ") || !strings.HasSuffix(res.Err.Error(), "(cp -L instead of cp -a)") {
				t.Errorf("error %v; want one about a symbolic link output", res.Err)
			}
			if exists(filepath.Join(root, "bld-out/o")) {
				t.Error("the output is still in bld-out")
			}
		})
	}
}

// TestStaleOutputOfAnyKind leaves a directory (with a subdirectory without
// write permission), a symbolic link to a directory, and a FIFO where
// outputs go: the build replaces them, and never touches what a link
// points to.
func TestStaleOutputOfAnyKind(t *testing.T) {
	t.Parallel()
	for _, mode := range []sandbox.Mode{sandbox.ModeOff, sandbox.ModeSymlinks} {
		t.Run(mode.String(), func(t *testing.T) {
			root, side := t.TempDir(), t.TempDir()
			writeFiles(t, root, map[string]string{"bld-out/d/sub/x": "stale\n"})
			writeFiles(t, side, map[string]string{"keep": "keep\n"})
			os.Chmod(filepath.Join(root, "bld-out/d/sub"), 0o555)
			if err := os.Symlink(side, filepath.Join(root, "bld-out/l")); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(filepath.Join(root, "bld-out/f"), 0o644); err != nil {
				t.Fatal(err)
			}
			var actions []*graph.Action
			for _, name := range []string{"d", "l", "f"} {
				actions = append(actions, sh("//p:"+name, "echo new > bld-out/"+name, nil, []string{"bld-out/" + name}))
			}
			if _, rec, err := buildSandboxed(t, context.Background(), root, actions, 1, true, newMemCache(), mode); err != nil {
				for _, r := range rec.results {
					t.Log(r.Action.Owner, r.Err)
				}
				t.Fatal(err)
			}
			for _, name := range []string{"d", "l", "f"} {
				if got := readFile(t, filepath.Join(root, "bld-out", name)); got != "new\n" {
					t.Errorf("bld-out/%s = %q", name, got)
				}
			}
			if got := readFile(t, filepath.Join(side, "keep")); got != "keep\n" {
				t.Errorf("the stale link's target changed: %q", got)
			}
		})
	}
}

// failingStoreCache is a memCache whose Store always fails.
type failingStoreCache struct{ *memCache }

func (c failingStoreCache) Store(ctx context.Context, a *graph.Action, key string, output []byte) error {
	return errors.New("disk on fire")
}

// TestStoreErrorRemovesOutputs: when the cache cannot record a result
// (an error that is not a fault it can build without), the action fails
// and its outputs, those of a command and of a file-writing action, are
// removed like those of any failed action.
func TestStoreErrorRemovesOutputs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	run := sh("//p:run", "echo x > bld-out/run", nil, []string{"bld-out/run"})
	write := &graph.Action{Owner: "//p:write", Mnemonic: "Write", More: &graph.More{Content: []byte("x\n")}, Outputs: []string{"bld-out/write"}}
	_, rec, err := build(t, context.Background(), root, []*graph.Action{run, write}, 1, true, failingStoreCache{newMemCache()})
	if err == nil {
		t.Fatal("the build succeeded")
	}
	for _, name := range []string{"run", "write"} {
		res := rec.results["//p:"+name]
		if res.Status != StatusFailed || res.Err == nil || !strings.Contains(res.Err.Error(), "recording the result: disk on fire") {
			t.Errorf("%s: %s, %v; want failed recording the result", name, res.Status, res.Err)
		}
		if exists(filepath.Join(root, "bld-out", name)) {
			t.Errorf("bld-out/%s is still there", name)
		}
	}
}

// removeOutput removes whatever is at a path, of any kind, and nothing
// there is no error.
func TestRemoveOutput(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("kept"), 0o644)
	for _, tc := range []struct {
		name string
		make func(p string)
	}{
		{"nothing", func(string) {}},
		{"file", func(p string) { os.WriteFile(p, []byte("x"), 0o644) }},
		{"symlink", func(p string) { os.Symlink(target, p) }},
		{"empty dir", func(p string) { os.Mkdir(p, 0o755) }},
		{"dir", func(p string) {
			os.MkdirAll(filepath.Join(p, "sub"), 0o755)
			os.WriteFile(filepath.Join(p, "sub/f"), nil, 0o644)
			os.Chmod(filepath.Join(p, "sub"), 0o555)
		}},
	} {
		p := filepath.Join(dir, "out")
		tc.make(p)
		if err := removeOutput(p); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: still there (%v)", tc.name, err)
		}
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "kept" {
		t.Errorf("the symbolic link's target: %q, %v", b, err)
	}
}
