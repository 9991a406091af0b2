package executor

import (
	"os/exec"
	"syscall"
	"testing"
)

// exitedUnreaped returns once the child has ended and leaves it unreaped:
// its pid still names it (a zombie) until Wait reaps it, which then gets
// its exit status.
func TestExitedUnreaped(t *testing.T) {
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"sleep 0.1", 0},
		{"exit 3", 3},
		{"kill -9 $$", -1},
	} {
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !exitedUnreaped(cmd.Process.Pid) {
			t.Errorf("%q: exitedUnreaped = false", tc.script)
		}
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			t.Errorf("%q: the child was reaped: kill 0 says %v", tc.script, err)
		}
		cmd.Wait()
		if got := cmd.ProcessState.ExitCode(); got != tc.code {
			t.Errorf("%q: exit code %d, want %d", tc.script, got, tc.code)
		}
	}
}
