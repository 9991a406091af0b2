package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"bld/exec/graph"
)

// TestCollectRejectsNonRegular runs commands that leave a non-regular file
// as one of two declared outputs: Collect fails naming the output and its
// kind, and moves nothing (not even the good output) into the workspace.
func TestCollectRejectsNonRegular(t *testing.T) {
	modes := []Mode{ModeSymlinks}
	if runtime.GOOS == "linux" {
		if _, _, err := NewManager(t.TempDir(), ModeNamespace).Mode(context.Background()); err == nil {
			modes = append(modes, ModeNamespace)
		}
	}
	for _, mode := range modes {
		for _, tc := range []struct {
			name, script, want string
		}{
			{"cp -a of an input", "cp -a in.txt bld-out/o", "output bld-out/o is a symbolic link to /"},
			{"symlink", "ln -s in.txt bld-out/o", "output bld-out/o is a symbolic link to in.txt; an action must write regular files (cp -L instead of cp -a)"},
			{"FIFO", "mkfifo bld-out/o", "output bld-out/o is not a regular file (a FIFO); an action must write regular files"},
			{"directory", "mkdir bld-out/o", "output bld-out/o is not a regular file (a directory); an action must write regular files"},
		} {
			if mode == ModeNamespace && tc.name == "cp -a of an input" {
				continue // inputs are regular files there: cp -a copies the file
			}
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				root := t.TempDir()
				os.WriteFile(filepath.Join(root, "in.txt"), []byte("in\n"), 0o644)
				os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
				m := NewManager(root, mode)
				ctx := context.Background()
				a := &graph.Action{
					Argv: []string{"sh", "-c", "echo good > bld-out/good && " + tc.script},
					Env:  []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"in.txt"},
					Outputs: []string{"bld-out/good", "bld-out/o"},
				}
				xr, err := m.Prepare(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				defer xr.Remove()
				cmd, err := xr.Command(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				err = xr.Collect(a)
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("Collect: %v; want an error starting %q", err, tc.want)
				}
				for _, out := range a.Outputs {
					if _, err := os.Lstat(filepath.Join(root, out)); err == nil {
						t.Errorf("Collect moved %s into the workspace", out)
					}
				}
			})
		}
	}
}

// TestCheckOutput checks the kinds CheckOutput accepts without opening
// anything: a regular file and nothing at all.
func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, nil, 0o644)
	if err := CheckOutput(f, "bld-out/f"); err != nil {
		t.Errorf("regular file: %v", err)
	}
	if err := CheckOutput(filepath.Join(dir, "none"), "bld-out/none"); err != nil {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckOutput("/dev/null", "bld-out/null"); err == nil || !strings.Contains(err.Error(), "(a character device)") {
		t.Errorf("device: %v", err)
	}
}
