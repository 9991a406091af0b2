//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bld/exec/graph"
)

// hostPidOf returns the host pid of a process whose command line holds
// marker, now (no wait); 0 if none.
func hostPidOf(marker string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), marker) && !strings.Contains(string(b), "-test.") {
			return pid
		}
	}
	return 0
}

// A box (a pid namespace the zygote reuses) is emptied between commands:
// what a command left running, even out of its process group (setsid, a
// double fork), is gone when its end is reported, the next command of the
// box sees in /proc only the box's init and its own processes, and each
// command has the same pid, whatever ran before it.
func TestBoxEmptiedBetweenCommands(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	if ok, why := m.KillsDescendants(); !ok {
		t.Skipf("no pid namespaces: %s", why)
	}
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	env := []string{"PATH=/usr/bin:/bin"}
	marker := "left-" + strconv.Itoa(os.Getpid())
	// Leaves a session leader, a double-forked orphan and a plain child.
	left := &graph.Action{Argv: []string{"sh", "-c", `setsid sh -c 'sleep 30; : ` + marker + `' </dev/null >/dev/null 2>&1 &
(sh -c 'sleep 30; : ` + marker + `' </dev/null >/dev/null 2>&1 &)
sh -c 'sleep 30; : ` + marker + `' </dev/null >/dev/null 2>&1 &
echo $$`}, Env: env}
	look := &graph.Action{Argv: []string{"sh", "-c", `echo $$; for p in /proc/[0-9]*; do echo "${p#/proc/} $(tr '\0' ' ' < $p/cmdline)"; done`}, Env: env}
	for run := 0; run < 3; run++ {
		out := runNamespace(t, m, left, false)
		if out != strconv.Itoa(boxLastPid+1)+"\n" {
			t.Errorf("run %d: the command's pid: %q, want %d", run, out, boxLastPid+1)
		}
		if pid := hostPidOf(marker); pid != 0 {
			t.Fatalf("run %d: process %d, left by the command, still runs after its end was reported", run, pid)
		}
		out = runNamespace(t, m, look, false)
		if strings.Contains(out, marker) {
			t.Errorf("run %d: the next command sees what the last one left:\n%s", run, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if lines[0] != strconv.Itoa(boxLastPid+1) {
			t.Errorf("run %d: the next command's pid: %q, want %d", run, lines[0], boxLastPid+1)
		}
		for _, l := range lines[1:] {
			pid, _ := strconv.Atoi(strings.Fields(l)[0])
			if pid != 1 && pid <= boxLastPid {
				t.Errorf("run %d: /proc lists %q: a process that is not the init, the command or its own", run, l)
			}
		}
		if !strings.HasPrefix(lines[1], "1 bld-sandbox-init ") {
			t.Errorf("run %d: /proc/1 is not the box's init: %q", run, lines[1])
		}
	}
}
