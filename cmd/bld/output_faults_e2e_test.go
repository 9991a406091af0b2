package main

// End-to-end tests of files that are not regular files where bld expects
// one: a FIFO, a symbolic link or a directory as an action's output, a
// FIFO in place of a cache blob or action result, and a stale directory
// where an output goes. Opening a FIFO for reading blocks until a writer
// comes, so each bld run here has a deadline: a bld still running after
// 20 s fails the test (and is killed).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bldDeadline is how long a bld run of these tests may take.
const bldDeadline = 20 * time.Second

// bldWithin runs bld with args at the workspace root, killing it and
// failing the test if it has not exited within bldDeadline.
func (w *testWorkspace) bldWithin(args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bldDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bldBinary, args...)
	cmd.Dir = w.path(".")
	cmd.Env = w.env
	cmd.WaitDelay = 2 * time.Second // a child holding the pipes must not hold us
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		w.t.Fatalf("bld %s did not exit within %v (it hangs):\n%s", strings.Join(args, " "), bldDeadline, r)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("running bld %v: %v", args, err)
	}
	return r
}

// mustReplaceWithFIFO replaces the file p by a FIFO, which blocks whoever
// opens it for reading.
func mustReplaceWithFIFO(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A genrule whose output is a FIFO fails at once, with and without a
// sandbox, saying so, and leaves nothing in bld-out.
func TestOutputFIFO(t *testing.T) {
	for _, mode := range []string{"off", "auto", "symlinks"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				"g/BUILD.star": `genrule(name = "fifo", outs = ["f"], cmd = "mkfifo $@")` + "\n",
			})
			r := w.bldWithin("build", "--sandbox="+mode, "//g:fifo")
			if r.code != exitFailed {
				t.Fatalf("want exit %d:\n%s", exitFailed, r)
			}
			wantContains(t, r.stderr, "FAILED: //g:fifo (Genrule)",
				"output bld-out/g/f is not a regular file (a FIFO); an action must write regular files")
			if _, err := os.Lstat(w.path("bld-out/g/f")); err == nil {
				t.Error("the FIFO is still in bld-out")
			}
		})
	}
}

// In the symlinks sandbox, cp -a of an input copies the exec root's
// symbolic link: the build fails saying what to do, and leaves no dangling
// link in bld-out. (In the namespace sandbox inputs are regular files, and
// cp -a copies the file: TestCpAInSandboxFails in exec/executor.)
func TestOutputSymlinkFromSandbox(t *testing.T) {
	for _, mode := range []string{"symlinks"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				"g/BUILD.star": `genrule(name = "out", srcs = ["in.txt"], outs = ["out.txt"], cmd = "cp -a $< $@")` + "\n",
				"g/in.txt":     "in\n",
			})
			r := w.bldWithin("build", "--sandbox="+mode, "//g:out")
			if r.code != exitFailed {
				t.Fatalf("want exit %d:\n%s", exitFailed, r)
			}
			wantContains(t, r.stderr, "FAILED: //g:out (Genrule)", "output bld-out/g/out.txt is a symbolic link to ",
				"; an action must write regular files (cp -L instead of cp -a)")
			if _, err := os.Lstat(w.path("bld-out/g/out.txt")); err == nil {
				t.Error("the link is still in bld-out")
			}
		})
	}
}

// A stale directory where an output goes (left by an earlier rule) is
// replaced by the output.
func TestOutputStaleDirectory(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"g/BUILD.star": `genrule(name = "out", outs = ["out.txt"], cmd = "echo new > $@")` + "\n",
	})
	if err := os.MkdirAll(w.path("bld-out/g/out.txt/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.write("bld-out/g/out.txt/sub/x", "stale\n")
	if r := w.bldWithin("build", "//g:out"); r.code != 0 {
		t.Fatalf("want success:\n%s", r)
	}
	if got := w.read("bld-out/g/out.txt"); got != "new\n" {
		t.Errorf("out.txt = %q", got)
	}
}

// A FIFO in place of a cache blob, or of every action result, is a fault
// of the cache: the build warns, runs what it cannot restore and succeeds
// without hanging, and bld cache verify removes the FIFOs.
func TestCacheFIFOInPlace(t *testing.T) {
	for _, what := range []string{"blob", "results"} {
		t.Run(what, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				// Larger than what results hold inline, so that
				// it is a blob.
				"g/BUILD.star": `genrule(name = "out", outs = ["out.txt"], cmd = "seq 1 3000 > $@")` + "\n",
			})
			if r := w.bldWithin("build", "//g:out"); r.code != 0 {
				t.Fatalf("first build:\n%s", r)
			}
			var fifos []string
			if what == "blob" {
				fifos = []string{w.cacheBlobOf("bld-out/g/out.txt")}
			} else {
				fifos = w.cacheListFiles("packs")
				for len(fifos) > 0 && !strings.HasSuffix(fifos[0], ".pack") {
					fifos = fifos[1:] // an index
				}
				fifos = fifos[:1]
			}
			for _, p := range fifos {
				mustReplaceWithFIFO(t, p)
			}
			if err := os.RemoveAll(w.path("bld-out")); err != nil {
				t.Fatal(err)
			}
			r := w.bldWithin("build", "//g:out")
			if r.code != 0 {
				t.Fatalf("build with a FIFO in the cache:\n%s", r)
			}
			wantOneFaultWarning(t, r, "not a regular file")
			if got := w.read("bld-out/g/out.txt"); !strings.HasPrefix(got, "1\n2\n") || !strings.HasSuffix(got, "\n3000\n") {
				t.Errorf("out.txt = %.40q...", got)
			}
			// The build stored the result again, over the FIFOs (a
			// pack, in a new pack); bld cache verify removes FIFOs put
			// back.
			for _, p := range fifos {
				if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() && what == "blob" {
					t.Errorf("the build left %s (%v)", filepath.Base(p), fi.Mode())
				}
				mustReplaceWithFIFO(t, p)
			}
			r = w.bldWithin("cache", "verify")
			if r.code == 0 || !strings.Contains(r.stdout, "removed: ") {
				t.Errorf("verify did not report the FIFOs:\n%s", r)
			}
			for _, p := range fifos {
				if fi, err := os.Lstat(p); err == nil {
					t.Errorf("verify left %s (%v)", filepath.Base(p), fi.Mode())
				}
			}
		})
	}
}
