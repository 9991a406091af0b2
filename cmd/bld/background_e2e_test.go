package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// processesRunning returns the pids whose command line is exactly argv.
func processesRunning(t *testing.T, argv ...string) []string {
	t.Helper()
	want := []byte(string(bytes.Join(func() [][]byte {
		var b [][]byte
		for _, a := range argv {
			b = append(b, []byte(a))
		}
		return b
	}(), []byte{0})) + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, "cmdline")); err == nil && bytes.Equal(data, want) {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

// An action that leaves a process running in the background: the build
// does not wait for it, and it does not outlive the action.
func TestBackgroundProcessKilled(t *testing.T) {
	for _, mode := range []string{"auto", "off"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				"bg/BUILD.star": `genrule(name = "bg", outs = ["o.txt"], cmd = "sleep 987.654 & echo hi > $@")
`,
			})
			r := w.mustBuild("build", "--sandbox="+mode, "//bg:bg")
			if r.elapsed > 3*time.Second {
				t.Errorf("the build took %v: it waited for the background process", r.elapsed)
			}
			deadline := time.Now().Add(30 * time.Second)
			for len(processesRunning(t, "sleep", "987.654")) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the background process survived the build: pids %v", processesRunning(t, "sleep", "987.654"))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// An action that prints 20 MB and fails: bld prints its FAILED block with
// the first and last 512 KiB and where the whole output is, once; the file
// holds all of it.
func TestHugeOutputBounded(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"big/BUILD.star": `genrule(name = "big", outs = ["o.txt"], cmd = "seq 1 2600000; exit 1")
`,
	})
	r := w.bld("build", "//big:big")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%.2000s", exitFailed, r.String())
	}
	if n := len(r.stderr); n > 2<<20 {
		t.Errorf("bld printed %d bytes, want at most about 1 MiB", n)
	}
	wantContains(t, r.stderr, "FAILED: //big:big (Genrule)", "\n1\n2\n3\n", "\n2600000\n",
		"bytes of output left out here; the whole output is in "+w.path("bld-out/.bld/logs/bld-out_big_o.txt.log"))
	data, err := os.ReadFile(w.path("bld-out/.bld/logs/bld-out_big_o.txt.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("1\n2\n")) || !bytes.HasSuffix(data, []byte("\n2599999\n2600000\n")) {
		t.Errorf("the log does not hold the whole output (%d bytes)", len(data))
	}
}

// Processes that left the action's process group (setsid, a double fork
// whose middle process exited) are killed when the command exits too, and
// the build does not wait for them; an action tagged allow-daemon may leave
// such a daemon running (once it has left the group: the daemon says when).
func TestEscapedDescendantsKilled(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"bg/BUILD.star": `genrule(
    name = "escape",
    outs = ["o.txt"],
    cmd = "setsid sleep 876.1 & (setsid sh -c 'sleep 876.2 </dev/null >/dev/null 2>&1 &') ; sleep 0.2; echo hi > $@",
)
genrule(
    name = "daemon",
    outs = ["d.txt"],
    cmd = "(setsid sh -c 'echo > ready; exec sleep 876.3' </dev/null >/dev/null 2>&1 &); while [ ! -e ready ]; do sleep 0.01; done; echo hi > $@",
    tags = ["allow-daemon"],
)
`,
	})
	gone := func(argv ...string) bool {
		deadline := time.Now().Add(30 * time.Second)
		for len(processesRunning(t, argv...)) > 0 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	// The escaped sleeps last 876 s: a build that waited for them would
	// take that long. The bound is far from both, so a loaded machine does
	// not fail the test.
	r := w.mustBuild("build", "--sandbox=namespace", "//bg:escape")
	if r.elapsed > 120*time.Second {
		t.Errorf("the build took %v: it waited for the escaped processes", r.elapsed)
	}
	for _, arg := range []string{"876.1", "876.2"} {
		if !gone("sleep", arg) {
			pids := processesRunning(t, "sleep", arg)
			killAll(pids)
			t.Errorf("sleep %s left the action's process group and survived the build: pids %v", arg, pids)
		}
	}

	w.mustBuild("build", "--sandbox=namespace", "//bg:daemon")
	// The daemon says it is ready just before it execs sleep: wait for the
	// exec, then for any kill the build's end would have sent.
	var pids []string
	for deadline := time.Now().Add(30 * time.Second); len(pids) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		pids = processesRunning(t, "sleep", "876.3")
	}
	time.Sleep(300 * time.Millisecond)
	pids = processesRunning(t, "sleep", "876.3")
	if len(pids) != 1 {
		t.Errorf("the daemon of the allow-daemon action: want 1 running, got pids %v", pids)
	}
	killAll(pids)
}

// killAll kills the processes whose pids are given, as processesRunning
// returns them.
func killAll(pids []string) {
	for _, p := range pids {
		if pid, err := strconv.Atoi(p); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
