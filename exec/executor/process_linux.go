package executor

import (
	"context"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A process is a command the runner started itself (not through the
// zygote). It costs less per command than os/exec's Start and Wait, whose
// costs the runner does not need: Start opens /dev/null, copies and
// dedups the environment, puts both ends of an os.Pipe in the runtime's
// poller (and the command's end back in blocking mode) and starts a
// goroutine for the context; Wait blocks a thread in waitid(2), while the
// output is copied by another goroutine woken through the poller: two
// hand-offs between threads per command, each a futex wake-up and a
// context switch, which on a build of trivial commands cost more than
// the fork.
//
// Here the command is forked with syscall.ForkExec and CLONE_PIDFD. The
// runner's reaper (reaper_linux.go) waits for it with all the others, as
// ninja does: one goroutine, parked in the runtime's poller on an epoll set
// of every command's output pipe and pidfd. Where the reaper cannot take
// it, wait does the same for this command alone: the goroutine that waits
// for it copies its output too, blocked in poll(2) on the output pipe and
// the pidfd (readable once the process has ended); the context kills
// the command's process group through context.AfterFunc, without a
// goroutine; stdin is the runner's one /dev/null descriptor. Without a
// pidfd (Linux before 5.3), wait is os/exec's way: a goroutine copies the
// output and this one blocks in waitid(2).
type process struct {
	pid   int
	pidfd int // -1 without one

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
	pid, err := forkExec(ctx, cmd.Path, cmd.Args, &syscall.ProcAttr{Dir: cmd.Dir, Env: dedupEnv(cmd.Env), Files: files, Sys: &sys})
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err}
	}
	if pidfd < 0 {
		// A kernel without CLONE_PIDFD (before 5.2): pidfd_open (5.3).
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			pidfd = -1
		}
	}
	p := &process{pid: pid, pidfd: pidfd}
	p.stop = context.AfterFunc(ctx, p.kill)
	return p, nil
}

// wait copies the command's output from rd (the reading end of its output
// pipe, blocking or not; wait does not close it) to out, and waits for
// the command's main process to end; then, before reaping it (so that its
// process group ID cannot have been reused), it kills what the command
// left running in its group (an action is over when its command is, as
// in Bazel), reaps it, and reads what is left in the pipe until EOF or
// for waitDelay at most (a descendant that left the group may hold it).
// It returns the command's wait status and resource usage.
//
// buf is the buffer to read with.
func (p *process) wait(rd int, out io.Writer, buf []byte) (syscall.WaitStatus, *syscall.Rusage, error) {
	if p.pidfd < 0 {
		if err := syscall.SetNonblock(rd, true); err != nil {
			return 0, nil, os.NewSyscallError("fcntl", err)
		}
		return p.waitBlocking(rd, out)
	}
	defer unix.Close(p.pidfd)
	fds := []unix.PollFd{{Fd: int32(rd), Events: unix.POLLIN}, {Fd: int32(p.pidfd), Events: unix.POLLIN}}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	var werr error
	exited, eof := false, false
	var deadline time.Time
	for !exited || !eof {
		timeout := -1
		if exited {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			timeout = int(left/time.Millisecond) + 1
		}
		if _, err := unix.Poll(fds, timeout); err != nil && err != unix.EINTR {
			// Out of memory, say: wait the blocking way, without
			// the rest of the output.
			if !exited {
				exitedUnreaped(p.pid)
				ws, werr = p.reap(&ru)
			}
			break
		}
		if fds[0].Revents != 0 {
			// One read per wake-up: poll said it will not block.
			n, err := unix.Read(rd, buf)
			switch {
			case n > 0:
				out.Write(buf[:n])
			case err == unix.EINTR || err == unix.EAGAIN:
			default:
				eof = true // EOF, or an error no read will mend
				fds[0].Fd = -1
			}
		}
		if fds[1].Revents != 0 && !exited {
			exited = true
			fds[1].Fd = -1
			ws, werr = p.reap(&ru)
			deadline = time.Now().Add(waitDelay)
		}
	}
	if werr != nil {
		return 0, nil, werr
	}
	return ws, &ru, nil
}

// reap kills the group of the command, which has ended, and reaps it.
func (p *process) reap(ru *syscall.Rusage) (syscall.WaitStatus, error) {
	p.stop()
	p.mu.Lock()
	syscall.Kill(-p.pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(p.pid, &ws, 0, ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("wait", err)
		}
		return ws, nil
	}
}

// waitExited waits for the command's main process to end, without
// reading its output (another goroutine does), kills what it left in its
// process group and reaps it.
func (p *process) waitExited() (syscall.WaitStatus, *syscall.Rusage, error) {
	if p.pidfd >= 0 {
		defer unix.Close(p.pidfd)
		fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
	} else {
		exitedUnreaped(p.pid)
	}
	var ru syscall.Rusage
	ws, err := p.reap(&ru)
	if err != nil {
		return 0, nil, err
	}
	return ws, &ru, nil
}

// outputPipe returns a pipe for a command's output, both ends
// close-on-exec, the command's writing end blocking, as the command
// expects; bld's reading end is non-blocking if nonblock (to read it
// through the runtime's poller), else blocking: wait reads it only when
// poll(2) says a read will not block (which saves a system call per
// command).
func outputPipe(nonblock bool) (rd, w int, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	if !nonblock {
		return p[0], p[1], nil
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return -1, -1, os.NewSyscallError("fcntl", err)
	}
	return p[0], p[1], nil
}
