package executor

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A process is a command the runner started itself (not through the
// zygote): os/exec's Start and Wait without what they cost per command and
// the runner does not need. Wait there blocks a thread in waitid(2) for
// the command's whole run, and the Go runtime's monitor, seeing a thread
// blocked in a system call, hands its processor to another thread and
// polls every 20 µs while it is so (about a tenth of bld's CPU time on a
// build of trivial commands); Start opens /dev/null, copies and dedups the
// environment and starts a goroutine per command for the context.
//
// Here the command is forked with syscall.ForkExec and CLONE_PIDFD; its
// pidfd, non-blocking, is waited for in the runtime's poller (a pidfd is
// readable once the process has ended), so no thread blocks; the context
// kills the command's process group through context.AfterFunc, without a
// goroutine; stdin is the runner's one /dev/null descriptor.
type process struct {
	pid   int
	pidfd *os.File // non-blocking, in the poller; nil without pidfds (then wait blocks)

	mu     sync.Mutex
	reaped bool // under mu: the leader was reaped, its group ID may be reused
	stop   func() bool
}

// startProcess starts cmd (Path, Args, Env, Dir, ExtraFiles and
// SysProcAttr are used; Stdin, Stdout, Stderr are ignored) with stdin as
// its descriptor 0 and out as 1 and 2. When ctx is done before the
// command is reaped, its process group is killed with SIGKILL (so
// SysProcAttr must set Setpgid). The error is os/exec's ("fork/exec
// PATH: ...").
func startProcess(ctx context.Context, cmd *exec.Cmd, stdin, out int) (*process, error) {
	files := make([]uintptr, 0, 3+len(cmd.ExtraFiles))
	files = append(files, uintptr(stdin), uintptr(out), uintptr(out))
	for _, f := range cmd.ExtraFiles {
		files = append(files, f.Fd())
	}
	var sys syscall.SysProcAttr
	if cmd.SysProcAttr != nil {
		sys = *cmd.SysProcAttr
	}
	pidfd := -1
	sys.PidFD = &pidfd
	pid, err := syscall.ForkExec(cmd.Path, cmd.Args, &syscall.ProcAttr{Dir: cmd.Dir, Env: dedupEnv(cmd.Env), Files: files, Sys: &sys})
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err}
	}
	p := &process{pid: pid}
	if pidfd < 0 {
		// A kernel without CLONE_PIDFD (before 5.2): pidfd_open (5.3),
		// else wait blocks.
		pidfd, _ = unix.PidfdOpen(pid, 0)
	}
	if pidfd >= 0 {
		if _, err := unix.FcntlInt(uintptr(pidfd), unix.F_SETFL, unix.O_NONBLOCK); err == nil {
			p.pidfd = os.NewFile(uintptr(pidfd), "pidfd")
		} else {
			unix.Close(pidfd)
		}
	}
	p.stop = context.AfterFunc(ctx, p.kill)
	return p, nil
}

// kill kills the command's process group, unless its leader was reaped.
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// wait waits for the command's main process to end; then, before reaping
// it (so that its process group ID cannot have been reused), it kills
// what the command left running in its group (an action is over when its
// command is, as in Bazel), reaps it and returns its wait status and
// resource usage.
func (p *process) wait() (syscall.WaitStatus, *syscall.Rusage, error) {
	p.exited()
	p.stop()
	p.mu.Lock()
	syscall.Kill(-p.pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	var err error
	for {
		_, err = syscall.Wait4(p.pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	if p.pidfd != nil {
		p.pidfd.Close()
	}
	if err != nil {
		return 0, nil, os.NewSyscallError("wait", err)
	}
	return ws, &ru, nil
}

// exited returns once the main process has ended, without reaping it.
func (p *process) exited() {
	if p.pidfd != nil {
		if rc, err := p.pidfd.SyscallConn(); err == nil {
			var werr error
			rerr := rc.Read(func(fd uintptr) bool {
				var info unix.Siginfo
				werr = unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
				if werr == unix.EAGAIN || werr == unix.EINTR || werr == nil && info.Signo == 0 {
					return false // not yet: wait until the pidfd is readable
				}
				return true
			})
			if rerr == nil && werr == nil {
				return
			}
			// Not pollable, or waitid on a pidfd refused: wait by pid.
		}
	}
	exitedUnreaped(p.pid)
}

// outputPipe returns a pipe for a command's output: bld's reading end,
// non-blocking and in the runtime's poller, and the command's writing
// end, a blocking descriptor, both close-on-exec. (os.Pipe would put both
// ends in the poller, and the writing end back in blocking mode when it
// is passed to the command: five more system calls.)
func outputPipe() (*os.File, int, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), p[1], nil
}
