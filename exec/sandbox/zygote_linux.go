package sandbox

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
)

// The zygote. Starting the bld binary as a helper for every action costs
// the Go runtime's start and every package's init (some milliseconds, with
// gRPC linked in). So in ModeNamespace each Manager starts the helper once, as a
// long-lived process (the zygote), with the recipe's user and mount
// namespace (namespaceProcAttr without a pid namespace, and SIGKILL when
// bld dies), and asks it to run each command:
//
//   - bld and the zygote share a control socket (SOCK_SEQPACKET, the
//     zygote's descriptor 3). Per command, bld makes a socket pair and
//     sends one end over the control socket (SCM_RIGHTS). When the
//     control socket reaches EOF (bld exited), the zygote exits.
//   - On that connection bld sends a request: 4 bytes of length (big
//     endian), carrying the command's descriptors (stdout, stderr, then
//     ExtraFiles: the jobserver's) as SCM_RIGHTS, then the request as
//     JSON (zygoteRequest).
//   - The zygote serves each connection on a worker: a goroutine locked
//     to its thread for good (zygoteWorker), idle or made for it:
//     unshare(CLONE_NEWNS) (per thread: the zygote's other threads keep
//     its namespace), steps 2 to 5 of the recipe (the plan is in the
//     request), then dropCapabilities on that thread (the command keeps
//     none) and syscall.ForkExec from it (the child inherits the thread's
//     mount namespace), then setns(2) back to the zygote's namespace:
//     the command's namespace lives as long as the command. The command
//     runs in FixedExecRoot, in a process group of its own, with stdin
//     /dev/null, and with a pid namespace of its own when asked. The
//     command is then that namespace's pid 1: when
//     it ends, the kernel kills whatever it left in the namespace; it
//     gets SIGKILL if the zygote dies; and, unlike under the per-action
//     helper, /proc is the host's (a proc mount shows the pid namespace
//     of the process that mounts it, and no process of ours runs in the
//     command's namespace before the command).
//   - It answers "pid N\n" (the command's pid on the host: the zygote
//     is in the host's pid namespace) or "err MESSAGE\n" when the
//     command could not be started (bld then runs the action with the
//     per-action helper, which reports the failure as it always did).
//   - When the command has ended, but before it is reaped (so its
//     process group ID cannot be reused), the zygote kills what it left
//     in its process group, reaps it and answers "exit STATUS MAXRSS\n"
//     (the wait status and ru_maxrss in KiB).
//   - bld shutting down its side for writing (Ctrl-C, a timeout), or
//     closing it (bld died), makes the zygote kill the command's process
//     group if it has not been reaped yet.
//
// BLD_SANDBOX_ZYGOTE=0 turns the zygote off: every action then starts the
// helper, as does an action whose request the zygote could not serve.

// zygoteRequest is what bld asks the zygote to run: the helper's
// arguments, as namespaceCommand passes them, with the plan itself instead
// of its file.
type zygoteRequest struct {
	Plan      mountPlan
	Path      string
	Argv, Env []string
	Pidns     bool
	Files     int // descriptors sent: stdout, stderr, extra files
}

// A zygote is the bld side of one Manager's zygote, started by the first
// command that needs it and stopped by Manager.Close.
type zygote struct {
	mu    sync.Mutex
	ctl   int    // bld's end of the control socket; -1 when not running
	tries int    // starts that failed, or zygotes that died
	off   string // why the zygote is not used
	pid   int    // the zygote's, while it runs
	gen   int    // zygotes started
	// exited is closed when the running zygote has exited and been
	// reaped.
	exited chan struct{}
}

func newZygote() zygote { return zygote{ctl: -1} }

// maxZygoteTries is how many times bld starts a zygote that fails to start
// or dies before it stops trying.
const maxZygoteTries = 3

// warm starts the zygote if it does not run: Prepare calls it, so that
// the zygote starts before the first command's clock (its Timeout) does.
func (z *zygote) warm() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.running()
}

// running starts the zygote if it does not run, and returns an error when
// it cannot run; z.mu is held.
func (z *zygote) running() error {
	if os.Getenv("BLD_SANDBOX_ZYGOTE") == "0" {
		return errors.New("the zygote is off (BLD_SANDBOX_ZYGOTE=0)")
	}
	if z.off != "" {
		return errors.New(z.off)
	}
	if z.ctl < 0 {
		if err := z.start(); err != nil {
			z.fail(err)
			return err
		}
	}
	return nil
}

// conn returns a new connection to the zygote, starting it first if it
// does not run.
func (z *zygote) conn() (*net.UnixConn, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zygote: socketpair: %w", err)
	}
	defer unix.Close(fds[1])
	// A zygote that died since the last command, before its reaper
	// noticed, refuses the connection: a new one gets it.
	for try := 0; ; try++ {
		if err := z.running(); err != nil {
			unix.Close(fds[0])
			return nil, err
		}
		err = unix.Sendmsg(z.ctl, []byte{'c'}, unix.UnixRights(fds[1]), nil, unix.MSG_NOSIGNAL)
		if err == nil {
			break
		}
		unix.Close(z.ctl)
		z.ctl = -1
		err = fmt.Errorf("zygote: sending a connection: %w", err)
		z.fail(err)
		if try > 0 {
			unix.Close(fds[0])
			return nil, err
		}
	}
	f := os.NewFile(uintptr(fds[0]), "zygote connection")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("zygote: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// fail counts a failure of the zygote; z.mu is held.
func (z *zygote) fail(err error) {
	z.tries++
	if z.tries >= maxZygoteTries {
		z.off = fmt.Sprintf("the zygote failed %d times, last: %v", z.tries, err)
	}
}

// start starts the zygote; z.mu is held.
func (z *zygote) start() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding bld's own binary: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("zygote: socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "zygote control")
	defer theirs.Close()
	cmd := exec.Command(exe, helperArg, verbZygote)
	cmd.Args[0] = "bld-sandbox-zygote"
	cmd.Dir = "/"
	cmd.Env = []string{}
	cmd.Stderr = os.Stderr // a crash of the zygote says why
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = namespaceProcAttr(false)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// setns(2) back to its own mount namespace needs CAP_SYS_CHROOT too
	// (zygoteWorker).
	cmd.SysProcAttr.AmbientCaps = append(cmd.SysProcAttr.AmbientCaps, unix.CAP_SYS_CHROOT)
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("starting the zygote: %w", err)
	}
	z.gen++
	z.ctl, z.pid = fds[0], cmd.Process.Pid
	gen := z.gen
	exited := make(chan struct{})
	z.exited = exited
	crash.Go(func() {
		cmd.Wait()
		close(exited)
		z.mu.Lock()
		defer z.mu.Unlock()
		if z.gen == gen && z.ctl >= 0 { // it died while in use
			unix.Close(z.ctl)
			z.ctl = -1
			z.fail(fmt.Errorf("the zygote exited: %v", cmd.ProcessState))
		}
	})
	return nil
}

// stop ends the zygote, if one runs, and waits a little for it to exit; a
// later command starts a new one.
func (z *zygote) stop() {
	z.mu.Lock()
	if z.ctl < 0 {
		z.mu.Unlock()
		return
	}
	unix.Close(z.ctl) // the zygote sees EOF and exits
	z.ctl = -1
	exited := z.exited
	z.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
	}
}

// pidRunning returns the running zygote's pid, or 0.
func (z *zygote) pidRunning() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ctl < 0 {
		return 0
	}
	return z.pid
}

// A Started is a command the zygote started.
type Started struct {
	Pid   int
	pidns bool
	done  chan struct{}
	// Set when done is closed.
	status syscall.WaitStatus
	maxRSS int64
	err    error
}

// Wait waits for the command to end and returns its exit code (-1 if a
// signal killed it; in a pid namespace, 128+N for signal N, as the
// per-action helper, the namespace's init, reported it), how it ended in
// words, and its peak resident set size in bytes (wait4's ru_maxrss).
func (s *Started) Wait() (exitCode int, state string, maxRSS int64, err error) {
	<-s.done
	if s.err != nil {
		return -1, "", 0, s.err
	}
	ws := s.status
	switch {
	case ws.Exited():
		return ws.ExitStatus(), fmt.Sprintf("exit status %d", ws.ExitStatus()), s.maxRSS, nil
	case ws.Signaled() && s.pidns:
		return 128 + int(ws.Signal()), "signal: " + ws.Signal().String(), s.maxRSS, nil
	case ws.Signaled():
		return -1, "signal: " + ws.Signal().String(), s.maxRSS, nil
	}
	return -1, fmt.Sprintf("wait status %#x", int(ws)), s.maxRSS, nil
}

// StartZygote starts cmd, which Command made (the caller may have added to
// its Env and ExtraFiles, and set Stdout and Stderr to files; Stdin is
// /dev/null), through the zygote. It returns nil, and an error saying why,
// when the zygote is off or could not start the command: the caller then
// starts cmd itself. When ctx is done, the command's process group is
// killed.
func (e *ExecRoot) StartZygote(ctx context.Context, cmd *exec.Cmd) (s *Started, err error) {
	if e.mode != ModeNamespace {
		return nil, errors.New("not in a namespace")
	}
	a := cmd.Args
	if len(a) < 6 || a[1] != helperArg || a[2] != verbExec || cmd.Stdin != nil {
		return nil, errors.New("not a helper command")
	}
	if e.deferPlan {
		// When the zygote cannot start the command, the caller starts
		// the helper's: it needs the plan's file.
		defer func() {
			if s == nil {
				if werr := e.writePlan(); werr != nil {
					err = werr
				}
				a[3] = e.planFile
			}
		}()
	}
	var files []*os.File
	for _, w := range []io.Writer{cmd.Stdout, cmd.Stderr} {
		f, ok := w.(*os.File)
		if !ok {
			return nil, errors.New("the command's output is not a file")
		}
		files = append(files, f)
	}
	files = append(files, cmd.ExtraFiles...)
	req := zygoteRequest{Plan: e.mp, Path: a[4], Argv: a[5:], Env: cmd.Env,
		Pidns: cmd.SysProcAttr != nil && cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWPID != 0, Files: len(files)}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	c, err := e.m.zygote.conn()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Started, error) {
		c.Close()
		return nil, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, _, err := c.WriteMsgUnix(hdr, unix.UnixRights(fds...), nil); err != nil {
		return fail(fmt.Errorf("zygote: sending the request: %w", err))
	}
	runtime.KeepAlive(files)
	if _, err := c.Write(body); err != nil {
		return fail(fmt.Errorf("zygote: sending the request: %w", err))
	}
	r := bufio.NewReader(c)
	// Ctrl-C ends this wait too (a zygote stuck mounting on a hung file
	// system): closing our end makes the zygote kill what it started.
	stopFirst := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	line, err := r.ReadString('\n')
	if !stopFirst() && err == nil {
		c.SetReadDeadline(time.Time{}) // ctx ended after the answer: the kill below handles it
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail(fmt.Errorf("zygote: no answer: %w", err))
	}
	verb, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if verb != "pid" {
		return fail(fmt.Errorf("zygote: %s", arg))
	}
	pid, err := strconv.Atoi(arg)
	if err != nil {
		return fail(fmt.Errorf("zygote: bad answer %q", line))
	}
	s = &Started{Pid: pid, pidns: req.Pidns, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { c.CloseWrite() })
	crash.Go(func() {
		defer close(s.done)
		defer c.Close()
		line, err := r.ReadString('\n')
		stop()
		var status, rss int64
		if err == nil {
			_, err = fmt.Sscanf(line, "exit %d %d\n", &status, &rss)
		}
		if err != nil {
			// The zygote died: its pid-namespace commands die with it
			// (SIGKILL at its death); kill what else runs in the group.
			syscall.Kill(-pid, syscall.SIGKILL)
			s.err = fmt.Errorf("the sandbox's zygote died while the command ran (%v)", err)
			return
		}
		s.status, s.maxRSS = syscall.WaitStatus(status), rss*1024
	})
	return s, nil
}

// zygoteMain is the zygote: it serves the connections bld sends on
// descriptor 3 until that socket reaches EOF.
func zygoteMain() error {
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	// The zygote's own mount namespace, to which a worker thread returns
	// after each command; -1 if it cannot be opened (then every worker
	// serves one command and ends with its thread).
	home, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		home = -1
	}
	ctl := pollable(3, "zygote control") // see serveZygote
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	idle := make(chan int) // connections handed to idle workers
	for {
		n, oobn, err := ctl.recvmsg(buf, oob)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			os.Exit(0) // bld is gone
		}
		fds, err := parseRights(oob[:oobn])
		if err != nil || len(fds) != 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			continue
		}
		fd := fds[0]
		select {
		case idle <- fd:
		default:
			crash.Go(func() { zygoteWorker(fd, idle, home) })
		}
	}
}

// zygoteWorker serves the connection fd, then those it receives from
// idle, on one thread: its goroutine stays locked to the thread for good.
// After each command the thread goes back to the zygote's mount namespace
// (home) and waits for the next; making a thread per command cost a
// clone, the runtime's setup of the thread and, for root, dropping the
// capability bounding set again. If the thread cannot go back, the worker
// ends, and Go ends the thread with it.
func zygoteWorker(fd int, idle chan int, home int) {
	runtime.LockOSThread()
	w := &worker{home: home}
	for {
		serveZygote(fd, w)
		if w.away {
			return
		}
		fd = <-idle
	}
}

// A worker is the state of a zygote's thread.
type worker struct {
	home int // the zygote's mount namespace, or -1
	// away: the thread is not in home (it unshared its mount namespace
	// and could not go back).
	away bool
	// bsetDropped: the thread's capability bounding set is empty
	// (dropCapabilities).
	bsetDropped bool
}

// goHome moves the thread back to the zygote's mount namespace after
// unshare.
func (w *worker) goHome() {
	if w.home < 0 || unix.Setns(w.home, unix.CLONE_NEWNS) != nil {
		w.away = true
	}
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

// serveZygote runs one command for the connection fd on the worker's
// thread, whose goroutine is locked to it.
func serveZygote(fd int, w *worker) {
	pid, err := startForZygote(fd, w)
	if err != nil {
		writeAll(fd, fmt.Sprintf("err %s\n", strings.ReplaceAll(err.Error(), "\n", " ")))
		unix.Close(fd)
		return
	}
	writeAll(fd, fmt.Sprintf("pid %d\n", pid))
	// From now on the goroutines wait on the connection and on the
	// command through the runtime's poller: a thread blocked in a system
	// call makes the runtime's monitor (sysmon) wake every 20 µs, which
	// cost the zygote more CPU than its mounts.
	conn := pollable(fd, "zygote connection")
	// bld shuts its side down to have the command killed, or closes it
	// when done (or dead): kill the group unless the command was reaped.
	var mu sync.Mutex
	reaped := false
	watched := make(chan struct{})
	defer func() {
		<-watched
		conn.close()
	}()
	crash.Go(func() {
		defer close(watched)
		b := make([]byte, 64)
		for {
			n, err := conn.read(b)
			if err == unix.EINTR || (err == nil && n > 0) {
				continue
			}
			break
		}
		mu.Lock()
		if !reaped {
			unix.Kill(-pid, unix.SIGKILL)
		}
		mu.Unlock()
	})
	waitExited(pid)
	mu.Lock()
	unix.Kill(-pid, unix.SIGKILL) // what it left in its group
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err = unix.Wait4(pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	reaped = true
	mu.Unlock()
	if err != nil {
		conn.write(fmt.Sprintf("err waiting: %v\n", err))
		return
	}
	conn.write(fmt.Sprintf("exit %d %d\n", int(ws), ru.Maxrss))
}

// writeAll writes s to the blocking descriptor fd; errors are ignored
// (bld is gone).
func writeAll(fd int, s string) {
	b := []byte(s)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// A pollFD is a descriptor that goroutines wait on through the runtime's
// poller when it could be made non-blocking, else with blocking system
// calls.
type pollFD struct {
	fd int
	f  *os.File        // owns fd when not nil
	rc syscall.RawConn // f's, when not nil
}

// pollable wraps fd, which it then owns.
func pollable(fd int, name string) *pollFD {
	p := &pollFD{fd: fd}
	if unix.SetNonblock(fd, true) != nil {
		return p
	}
	p.f = os.NewFile(uintptr(fd), name)
	rc, err := p.f.SyscallConn()
	if err != nil {
		p.f.Close()
		p.f = nil
		p.fd = -1
		return p
	}
	p.rc = rc
	return p
}

// read is read(2), waiting until there is something to read.
func (p *pollFD) read(b []byte) (n int, err error) {
	if p.rc == nil {
		return unix.Read(p.fd, b)
	}
	cerr := p.rc.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), b)
		return err != unix.EAGAIN
	})
	if err == nil {
		err = cerr
	}
	return n, err
}

// recvmsg is recvmsg(2) with MSG_CMSG_CLOEXEC, waiting until there is a
// message.
func (p *pollFD) recvmsg(b, oob []byte) (n, oobn int, err error) {
	if p.rc == nil {
		n, oobn, _, _, err = unix.Recvmsg(p.fd, b, oob, unix.MSG_CMSG_CLOEXEC)
		return n, oobn, err
	}
	cerr := p.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, err = unix.Recvmsg(int(fd), b, oob, unix.MSG_CMSG_CLOEXEC)
		return err != unix.EAGAIN
	})
	if err == nil {
		err = cerr
	}
	return n, oobn, err
}

// write writes all of s; errors are ignored (bld is gone).
func (p *pollFD) write(s string) {
	if p.rc == nil {
		writeAll(p.fd, s)
		return
	}
	b := []byte(s)
	for len(b) > 0 {
		var n int
		var err error
		cerr := p.rc.Write(func(fd uintptr) bool {
			n, err = unix.Write(int(fd), b)
			return err != unix.EAGAIN
		})
		if err == unix.EINTR {
			continue
		}
		if err != nil || cerr != nil {
			return
		}
		b = b[n:]
	}
}

func (p *pollFD) close() {
	if p.f != nil {
		p.f.Close()
	} else if p.fd >= 0 {
		unix.Close(p.fd)
	}
}

// waitExited returns when the process pid, a child, has ended (it is not
// reaped: its process group ID cannot be reused yet). It waits through
// the poller on a pidfd, or else in waitid(2).
func waitExited(pid int) {
	if pfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		p := pollable(pfd, "pidfd")
		var werr error = unix.ENOTSUP
		if p.rc != nil {
			werr = p.rc.Read(func(fd uintptr) bool {
				for {
					// WNOHANG answers with no signal number while the
					// child runs.
					var info unix.Siginfo
					err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
					if err != unix.EINTR {
						return err != nil || info.Signo != 0
					}
				}
			})
		}
		p.close()
		if werr == nil {
			return
		}
	}
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			return
		}
	}
}

// startForZygote reads the request on fd, makes the command's mount
// namespace on this thread, starts the command, and takes the thread back
// to the zygote's mount namespace.
func startForZygote(fd int, w *worker) (int, error) {
	hdr := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4*64))
	n, oobn, _, _, err := unix.Recvmsg(fd, hdr, oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		n, oobn, _, _, err = unix.Recvmsg(fd, hdr, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the request: %w", err)
	}
	files, err := parseRights(oob[:oobn])
	defer func() {
		for _, f := range files {
			unix.Close(f)
		}
	}()
	if err != nil {
		return 0, fmt.Errorf("reading the request's descriptors: %w", err)
	}
	if err := readFull(fd, hdr[n:]); err != nil {
		return 0, fmt.Errorf("reading the request: %w", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr))
	if err := readFull(fd, body); err != nil {
		return 0, fmt.Errorf("reading the request: %w", err)
	}
	var req zygoteRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("reading the request: %w", err)
	}
	if req.Files != len(files) || len(files) < 2 || len(req.Argv) == 0 {
		return 0, fmt.Errorf("bad request: %d descriptors, %d said, argv %q", len(files), req.Files, req.Argv)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		w.away = true // to be safe: a fresh thread serves the next one
		return 0, fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	// The command's namespace lives on in the command.
	defer w.goHome()
	if err := mountExecRoot(&req.Plan); err != nil {
		return 0, err
	}
	if err := dropCapabilities(!w.bsetDropped); err != nil {
		return 0, err
	}
	w.bsetDropped = true
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(null)
	pfiles := []uintptr{uintptr(null)}
	for _, f := range files {
		pfiles = append(pfiles, uintptr(f))
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if req.Pidns {
		sys.Cloneflags = syscall.CLONE_NEWPID
		sys.Pdeathsig = syscall.SIGKILL
	}
	pid, err := syscall.ForkExec(req.Path, req.Argv, &syscall.ProcAttr{Dir: FixedExecRoot, Env: req.Env, Files: pfiles, Sys: sys})
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", req.Argv[0], err)
	}
	return pid, nil
}

// readFull fills b from the blocking descriptor fd.
func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return io.ErrUnexpectedEOF
		}
		b = b[n:]
	}
	return nil
}

// dropCapabilities makes sure that what this thread execs has no
// capability: it clears the ambient and inheritable sets and, when it may
// (the user is root in the namespace, who would otherwise get every
// capability of the namespace at exec) and bset is set, the bounding set
// (a thread's bounding set never grows back). The thread keeps its
// effective capabilities.
func dropCapabilities(bset bool) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	if data[0].Inheritable != 0 || data[1].Inheritable != 0 {
		data[0].Inheritable, data[1].Inheritable = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("dropping capabilities: %w", err)
		}
	}
	if bset && os.Getuid() == 0 {
		for c := 0; c < 64; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err == unix.EINVAL {
				break // past the last capability
			} else if err != nil {
				return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
			}
		}
	}
	return nil
}
