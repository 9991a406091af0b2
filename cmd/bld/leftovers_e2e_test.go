package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A build killed with SIGKILL cannot kill its actions' process groups.
// Outside the namespace sandbox the next build in the workspace kills what
// it left running before it starts. In the namespace sandbox each command's
// pid namespace dies with bld, escaped processes included, at once.
func TestLeftoversOfKilledBuildAreKilled(t *testing.T) {
	for _, mode := range []string{"off", "namespace"} {
		t.Run(mode, func(t *testing.T) {
			startedFile := filepath.Join(t.TempDir(), "started")
			w := newWorkspace(t, map[string]string{
				"p/BUILD.star": `genrule(
    name = "slow",
    outs = ["slow.txt"],
    cmd = "sleep 61.25 & (setsid sleep 61.5 </dev/null >/dev/null 2>&1 &); echo > ` + startedFile + `; wait; echo done > $@",
)
genrule(name = "quick", outs = ["quick.txt"], cmd = "echo quick > $@")
`,
			})
			cmd := w.command(".", "build", "--sandbox="+mode, "//p:slow")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				if _, err := os.Stat(startedFile); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the action did not start within 10s")
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			defer killAll(processesRunning(t, "sleep", "61.25"))
			defer killAll(processesRunning(t, "sleep", "61.5"))

			waitGone := func(what string, argv ...string) {
				t.Helper()
				for deadline := time.Now().Add(5 * time.Second); len(processesRunning(t, argv...)) > 0; {
					if time.Now().After(deadline) {
						t.Errorf("%s: %q still runs", what, argv)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if mode == "namespace" {
				waitGone("the killed build's action should die with bld", "sleep", "61.25")
				waitGone("a process that left the killed build's action should die with bld", "sleep", "61.5")
				return
			}
			if len(processesRunning(t, "sleep", "61.25")) == 0 {
				t.Fatal("sleep died with bld; this test needs it to outlive a SIGKILLed bld")
			}
			r := w.mustBuild("build", "--sandbox="+mode, "//p:quick")
			wantContains(t, r.stderr, "killed 1 command(s) left running")
			waitGone("the next build left the killed build's action running", "sleep", "61.25")
			// Nothing is recorded as running any more.
			if left, _ := os.ReadDir(w.path("bld-out/.bld/running")); len(left) != 0 {
				t.Errorf("bld-out/.bld/running still lists %d groups", len(left))
			}
		})
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
