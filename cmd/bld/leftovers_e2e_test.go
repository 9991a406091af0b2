package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A build killed with SIGKILL cannot kill its actions' process groups; the
// next build in the workspace kills what it left running before it starts.
func TestLeftoversOfKilledBuildAreKilled(t *testing.T) {
	pidDir := t.TempDir()
	pidFile := filepath.Join(pidDir, "sleeper.pid")
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": `genrule(
    name = "slow",
    outs = ["slow.txt"],
    cmd = "sleep 60 & echo $$! > ` + pidFile + `; wait; echo done > $@",
)
genrule(name = "quick", outs = ["quick.txt"], cmd = "echo quick > $@")
`,
	})
	cmd := w.command(".", "build", "//p:slow")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); ; {
		if data, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(data), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the action did not start within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if processGone(pid) {
		t.Fatalf("sleep %d died with bld; this test needs it to outlive a SIGKILLed bld", pid)
	}

	r := w.mustBuild("build", "//p:quick")
	wantContains(t, r.stderr, "killed 1 command(s) left running")
	for deadline := time.Now().Add(5 * time.Second); !processGone(pid); {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the next build left the killed build's action (sleep %d) running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing is recorded as running any more.
	if left, _ := os.ReadDir(w.path("bld-out/.bld/running")); len(left) != 0 {
		t.Errorf("bld-out/.bld/running still lists %d groups", len(left))
	}
}

// An action that rewrites its own input gets a warning, and is not cached
// (its outputs may not be those of the inputs it was keyed by). The
// namespace sandbox shows inputs read-only, so only an unsandboxed action
// can do this: the test runs with --sandbox=off.
func TestActionModifyingItsInputIsNotCached(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"BUILD.star": `genrule(name = "g", srcs = ["in.txt"], outs = ["o.txt"], cmd = "cp $< $@; echo more >> $<")` + "\n",
		"in.txt":     "a\n",
	})
	r := w.mustBuild("build", "--sandbox=off", "//:g")
	wantContains(t, r.stderr, "in.txt changed while //:g (Genrule) ran")
	r = w.mustBuild("build", "--sandbox=off", "--explain", "//:g")
	wantContains(t, r.stderr, "1 ran")
}
