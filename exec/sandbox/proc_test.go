//go:build linux

package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bld/exec/graph"
)

// findPid returns the host pid of the process whose command line holds
// marker, waiting a little for it to appear; 0 if none does.
func findPid(t *testing.T, marker string) int {
	t.Helper()
	for try := 0; try < 200; try++ {
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
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// A command sees a /proc of its own pid namespace only: not bld, not the
// zygote, not another action's command running at the same time, so no
// /proc/<pid>/cwd, root or environ leads to the workspace or to another
// exec root's inputs; /proc/self still works (exe, fd, cwd). Through the
// zygote and through the per-action helper alike.
func TestProcIsPrivate(t *testing.T) {
	for _, helper := range []bool{false, true} {
		t.Run(map[bool]string{false: "zygote", true: "helper"}[helper], func(t *testing.T) {
			root := t.TempDir()
			m := namespaceManager(t, root)
			if ok, why := m.KillsDescendants(); !ok {
				t.Skipf("no pid namespaces: %s", why)
			}
			os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
			os.WriteFile(filepath.Join(root, "in.txt"), []byte("declared\n"), 0o644)
			os.WriteFile(filepath.Join(root, "secret.txt"), []byte("SECRET-WORKSPACE\n"), 0o644)
			os.WriteFile(filepath.Join(root, "other.txt"), []byte("SECRET-OTHER-INPUT\n"), 0o644)
			t.Setenv("BLD_TEST_ENV_MARK", "SECRET-ENVIRON")
			env := []string{"PATH=/usr/bin:/bin"}

			// Another action's command, running meanwhile, with an input
			// the first one does not declare.
			marker := "sibling-" + strconv.Itoa(os.Getpid())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sib := &graph.Action{Argv: []string{"sh", "-c", "sleep 30; : " + marker}, Env: env, Inputs: []string{"other.txt"}}
			s, r, _ := zygoteRun(t, ctx, m, sib)
			defer func() {
				cancel()
				r.Close()
				s.Wait()
			}()
			sibPid := findPid(t, marker)
			if sibPid == 0 {
				t.Fatal("the other command did not start")
			}
			zpid := m.zygote.pidRunning()
			pids := []string{strconv.Itoa(os.Getpid()), strconv.Itoa(zpid), strconv.Itoa(sibPid)}
			// Every /proc path to another process's files, for every pid
			// the command can see and for the host pids of bld, the
			// zygote and the other command.
			script := `
for p in /proc/[0-9]* /proc/[0-9]*/task/[0-9]* ` + strings.Join(func() []string {
				var ps []string
				for _, p := range pids {
					ps = append(ps, "/proc/"+p, "/proc/"+p+"/task/"+p)
				}
				return ps
			}(), " ") + `; do
	for f in cwd/secret.txt root` + root + `/secret.txt root` + FixedExecRoot + `/other.txt cwd/other.txt environ; do
		cat $p/$f 2>/dev/null
	done
	ls $p/cwd/ $p/root` + root + `/ 2>/dev/null
done
echo pids: $(ls -d /proc/[0-9]* | sed 's,/proc/,,' | sort -n | head -3 | tr '\n' ' ')
echo exe: $(readlink /proc/self/exe)
echo fd: $(ls /proc/self/fd/ | sort -n | head -3 | tr '\n' ' ')
echo cwd: $(cat /proc/self/cwd/in.txt)
echo 1: $(head -c 2 /proc/1/cmdline)
`
			a := &graph.Action{Argv: []string{"sh", "-c", script}, Env: env, Inputs: []string{"in.txt"}}
			// Twice: the zygote's second command reuses a mount namespace
			// (a slot), whose /proc is the first one's.
			for run := 0; run < 2; run++ {
				checkProc(t, runNamespace(t, m, a, helper), marker, pids)
			}
		})
	}
}

// checkProc checks the output of TestProcIsPrivate's command.
func checkProc(t *testing.T, out, marker string, pids []string) {
	t.Helper()
	for _, secret := range []string{"SECRET", "secret.txt", "other.txt"} {
		if strings.Contains(out, secret) {
			t.Errorf("the command reached %s through /proc:\n%s", secret, out)
		}
	}
	if strings.Contains(out, marker) {
		t.Errorf("the command saw the other command in /proc:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("output %q", out)
	}
	tail := lines[len(lines)-5:]
	pidsLine, exe, fd, cwd, init := tail[0], tail[1], tail[2], tail[3], tail[4]
	// pid 1 is the command itself (or, under the helper, its
	// init); the next are its own children.
	if !strings.HasPrefix(pidsLine, "pids: 1 ") {
		t.Errorf("%q: want the namespace's pids, from 1", pidsLine)
	}
	for _, p := range pids {
		if n, _ := strconv.Atoi(p); n > 50 && strings.Contains(" "+pidsLine+" ", " "+p+" ") {
			t.Errorf("%q: the host pid %s is visible", pidsLine, p)
		}
	}
	if !strings.HasSuffix(exe, "/readlink") {
		t.Errorf("%q: /proc/self/exe does not name the program", exe)
	}
	if !strings.HasPrefix(fd, "fd: 0 1 2") {
		t.Errorf("%q: /proc/self/fd does not list the descriptors", fd)
	}
	if cwd != "cwd: declared" {
		t.Errorf("%q: /proc/self/cwd does not lead to the exec root", cwd)
	}
	if init != "1: sh" {
		t.Errorf("%q: /proc/1 is not the command (or its init)", init)
	}
}
