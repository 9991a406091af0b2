package executor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bld/exec/sandbox"
)

// startSh starts sh -c script through startProcess, its output on a new
// pipe; it returns the process and the pipe's reading end.
func startSh(t *testing.T, ctx context.Context, null int, script string) (*process, int) {
	t.Helper()
	rd, w, err := outputPipe(false)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: testEnv, Dir: t.TempDir(),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	p, err := startProcess(ctx, cmd, null, w)
	syscall.Close(w)
	if err != nil {
		syscall.Close(rd)
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(rd) })
	return p, rd
}

// The reaper waits for many commands at once: each gets its own output
// whole (also one far larger than a pipe holds, read as it is written) and
// its own exit status, and the reaper's loop ends with close.
func TestReaperWaitsForManyCommands(t *testing.T) {
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(null)
	var r reaper
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		// Command 0 writes 1 MiB (16 pipes' worth); the others a line
		// and their number as exit status.
		script := fmt.Sprintf("echo out%d; echo err%d >&2; exit %d", i, i, i)
		want := fmt.Sprintf("out%d\nerr%d\n", i, i)
		if i == 0 {
			script = "head -c 1048576 /dev/zero | tr '\\0' x"
			want = strings.Repeat("x", 1<<20)
		}
		p, rd := startSh(t, context.Background(), null, script)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			ws, ru, err, ok := r.wait(p, rd, &out, make([]byte, 32<<10))
			if !ok {
				t.Errorf("command %d: the reaper did not take it", i)
				return
			}
			if err != nil || ru == nil {
				t.Errorf("command %d: wait: %v (rusage %v)", i, err, ru)
				return
			}
			if ws.ExitStatus() != i {
				t.Errorf("command %d: exit status %d", i, ws.ExitStatus())
			}
			if out.String() != want {
				t.Errorf("command %d: output of %d bytes, want %d (%.40q)", i, out.Len(), len(want), out.String())
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	left := len(r.waits)
	r.mu.Unlock()
	if left != 0 {
		t.Errorf("%d commands left in the reaper after their waits", left)
	}
	r.close()
	if r.ended != nil {
		t.Error("the loop did not end with close")
	}
}

// A process that left the command's group and keeps its output pipe open
// does not hold the action: once the command has ended, its output is read
// for waitDelay at most, and what it printed is kept.
func TestReaperOutputHeldByDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("waits waitDelay")
	}
	t.Parallel()
	took := buildWithDaemon(t, sandbox.ModeOff, false)
	if took < waitDelay || took > waitDelay+20*time.Second {
		t.Errorf("the action took %v with a daemon holding its output, want waitDelay (%v) and a little more", took, waitDelay)
	}
}

// A Run's commands are waited for by its runner's reaper (not by a thread
// each in ppoll): after a Run of several commands, the reaper was started
// and its loop ended with the Run.
func TestRunnerUsesReaper(t *testing.T) {
	root := t.TempDir()
	j := &groupJournal{}
	r := newRunner(root, j, "", nil)
	ctx := context.Background()
	for i := range 3 {
		a := sh(fmt.Sprintf("//p:%d", i), fmt.Sprintf("echo %d", i), nil, nil)
		res := r.run(ctx, a, nil, nil)
		if res.err != nil || string(res.output) != fmt.Sprintf("%d\n", i) {
			t.Fatalf("command %d: %v, output %q", i, res.err, res.output)
		}
	}
	if r.reaper.epfd < 0 || r.reaper.ended == nil {
		t.Fatalf("the reaper did not start (epfd %d)", r.reaper.epfd)
	}
	if r.reaper.next != 3 {
		t.Errorf("the reaper took %d commands, want 3", r.reaper.next)
	}
	r.close()
	if r.reaper.ended != nil {
		t.Error("the runner's close did not end the reaper's loop")
	}
}
