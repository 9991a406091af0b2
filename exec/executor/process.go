package executor

import (
	"io"
	"os"
	"syscall"
	"time"

	"bld/exec/crash"
)

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
