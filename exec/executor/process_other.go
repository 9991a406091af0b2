//go:build !linux

package executor

import (
	"context"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// A process is a command the runner started itself (not through the
// zygote); see process_linux.go. Here a goroutine copies the output while
// wait blocks in wait4(2).
type process struct {
	pid int

	mu     sync.Mutex
	reaped bool
	stop   func() bool
}

// startProcess starts cmd with stdin as its descriptor 0 and out as 1 and
// 2; see process_linux.go.
func startProcess(ctx context.Context, cmd *exec.Cmd, stdin, out int) (*process, error) {
	files := make([]uintptr, 0, 3+len(cmd.ExtraFiles))
	files = append(files, uintptr(stdin), uintptr(out), uintptr(out))
	for _, f := range cmd.ExtraFiles {
		files = append(files, f.Fd())
	}
	pid, err := forkExec(ctx, cmd.Path, cmd.Args, &syscall.ProcAttr{Dir: cmd.Dir, Env: dedupEnv(cmd.Env), Files: files, Sys: cmd.SysProcAttr})
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err}
	}
	p := &process{pid: pid}
	p.stop = context.AfterFunc(ctx, p.kill)
	return p, nil
}

// wait copies the command's output from rd to out while it waits for the
// command (waitExited), then reads what is left for waitDelay at most.
func (p *process) wait(rd int, out io.Writer, _ []byte) (syscall.WaitStatus, *syscall.Rusage, error) {
	return p.waitBlocking(rd, out)
}

// waitExited reaps the command, then kills what it left in its process
// group (best effort: without waitid's WNOWAIT the group ID may have been
// reused meanwhile).
func (p *process) waitExited() (syscall.WaitStatus, *syscall.Rusage, error) {
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	var err error
	for {
		_, err = syscall.Wait4(p.pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	p.stop()
	p.mu.Lock()
	syscall.Kill(-p.pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	if err != nil {
		return 0, nil, os.NewSyscallError("wait", err)
	}
	return ws, &ru, nil
}

// outputPipe returns a pipe for a command's output, both ends
// close-on-exec: bld's reading end non-blocking (whatever nonblock says:
// wait reads it through the runtime's poller), the command's writing end
// blocking.
func outputPipe(nonblock bool) (rd, w int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, os.NewSyscallError("pipe", err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, -1, os.NewSyscallError("fcntl", err)
	}
	return p[0], p[1], nil
}
