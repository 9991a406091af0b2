package executor

import (
	"context"
	"io"
	"os"
	"syscall"
	"time"

	"bld/exec/crash"
)

// forkExec is syscall.ForkExec, tried again for a while when it fails
// with ETXTBSY. A program written moments ago (a tool the cache restored,
// a script a test wrote) is "busy" as long as any process holds a
// descriptor that writes it, and a process forked while its writer had it
// open holds a copy until its own exec closes it: microseconds, but any
// fork of this process, or of another, can be in that window. The retries
// wait 1, 2, 4 ... 256 ms (about 0.5 s in all), and stop when ctx is done.
func forkExec(ctx context.Context, path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	delay := time.Millisecond
	for {
		pid, err := syscall.ForkExec(path, argv, attr)
		if err != syscall.ETXTBSY || delay > 256*time.Millisecond {
			return pid, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return pid, err
		case <-t.C:
		}
		delay *= 2
	}
}

// kill kills the command's process group with SIGKILL, unless its leader
// was reaped (its group ID may then belong to another process). It runs
// when the build's context is done (startProcess arranges it).
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// waitBlocking copies the command's output from rd (which it does not
// close) to out from another goroutine, through the runtime's poller,
// while this one waits for the command (waitExited); then it reads what
// is left for waitDelay at most. It is wait where there is no pidfd.
func (p *process) waitBlocking(rd int, out io.Writer) (syscall.WaitStatus, *syscall.Rusage, error) {
	fd, err := syscall.Dup(rd)
	if err != nil {
		return 0, nil, os.NewSyscallError("dup", err)
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "|0") // non-blocking: in the poller
	defer f.Close()
	copied := make(chan struct{})
	crash.Go(func() {
		defer close(copied)
		io.Copy(out, f)
	})
	ws, ru, werr := p.waitExited()
	f.SetReadDeadline(time.Now().Add(waitDelay))
	<-copied
	return ws, ru, werr
}
