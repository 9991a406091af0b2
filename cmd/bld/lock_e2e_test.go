package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSlowBuild starts a build whose one action signals (by creating
// marker, outside the workspace) that it runs, then sleeps; it returns
// once the action runs.
func startSlowBuild(t *testing.T, w *testWorkspace, marker string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := w.command(".", "build", "//slow:s")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			return cmd, &out
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the slow action never started:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func slowWorkspace(t *testing.T) (*testWorkspace, string) {
	marker := filepath.Join(t.TempDir(), "started")
	w := newWorkspace(t, map[string]string{
		"slow/BUILD.star": fmt.Sprintf(`genrule(name = "s", outs = ["s.txt"], cmd = "touch %s; sleep 2; echo done > $@")
`, marker),
	})
	return w, marker
}

// bld clean while a build runs waits for it, says who it waits for, and
// then removes bld-out/.
func TestCleanWaitsForBuild(t *testing.T) {
	w, marker := slowWorkspace(t)
	build, out := startSlowBuild(t, w, marker)
	r := w.bld("clean")
	if err := build.Wait(); err != nil {
		t.Fatalf("the build failed: %v\n%s", err, out.String())
	}
	if r.code != 0 {
		t.Fatalf("clean: %s", r)
	}
	wantContains(t, r.stderr, fmt.Sprintf("another bld (pid %d) is using this workspace; waiting", build.Process.Pid))
	if w.exists("bld-out") {
		t.Errorf("clean left bld-out/ behind")
	}
}

// Ctrl-C while waiting for another build ends bld at once, with 130.
func TestInterruptWhileWaitingForLock(t *testing.T) {
	w, marker := slowWorkspace(t)
	build, _ := startSlowBuild(t, w, marker)
	defer build.Wait()
	second := w.command(".", "build", "//slow:s")
	var out bytes.Buffer
	second.Stdout, second.Stderr = &out, &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "waiting") {
		if time.Now().After(deadline) {
			second.Process.Kill()
			t.Fatalf("the second build does not say it waits:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	second.Process.Signal(syscall.SIGINT)
	err := second.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Errorf("second build: %v, want exit %d:\n%s", err, exitInterrupted, out.String())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the second build took %v to stop after Ctrl-C", d)
	}
}

// The workspace's own files are not writable by others.
func TestWorkspaceStateModes(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"])
`,
		"app/main.c": "int main(void) { return 0; }\n",
	})
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	w.mustBuild("build", "//app")
	w.mustBuild("build", "//app")
	time.Sleep(200 * time.Millisecond) // outputs no longer racy: the action record is written
	w.mustBuild("build", "//app")
	for _, name := range []string{"actions", "filedigests", "toolchains", "analysis", "lock"} {
		fi, err := os.Stat(w.path("bld-out/.bld/" + name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("bld-out/.bld/%s has mode %v: writable by others", name, fi.Mode().Perm())
		}
	}
}

// A build that waited for another reports its own time, not the wait.
func TestElapsedExcludesLockWait(t *testing.T) {
	w, marker := slowWorkspace(t)
	w.write("other/BUILD.star", `genrule(name = "o", outs = ["o.txt"], cmd = "echo o > $@")
`)
	build, _ := startSlowBuild(t, w, marker)
	start := time.Now()
	r := w.bld("build", "//other:o")
	wall := time.Since(start).Seconds()
	build.Wait()
	if r.code != 0 {
		t.Fatalf("second build: %s", r)
	}
	wantContains(t, r.stderr, "waiting")
	m := regexp.MustCompile(`\((\d+\.\d+)s\)\n`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no elapsed time in:\n%s", r.stderr)
	}
	// The slow action sleeps 2 s after the marker, so the second build
	// waits well over half a second for the lock: a report that included
	// the wait would be within a few milliseconds of the process's wall
	// time. (Compared with the wall time, not a fixed bound, so that a
	// loaded machine does not fail the test.)
	if secs, _ := strconv.ParseFloat(m[1], 64); secs > wall-0.5 {
		t.Errorf("the second build reports %ss of its %.2fs, which includes the wait:\n%s", m[1], wall, r.stderr)
	}
}

// A relative XDG_CACHE_HOME is ignored, as the XDG spec says, and bld says so.
func TestRelativeXDGCacheHome(t *testing.T) {
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")
`})
	env := []string{}
	for _, kv := range w.env {
		if !strings.HasPrefix(kv, "BLD_CACHE_DIR=") && !strings.HasPrefix(kv, "XDG_CACHE_HOME=") {
			env = append(env, kv)
		}
	}
	w.env = append(env, "XDG_CACHE_HOME=relative/cache")
	r := w.mustBuild("build", "//p:g")
	wantContains(t, r.stderr, "XDG_CACHE_HOME=relative/cache is not an absolute path, so it is ignored")
}
