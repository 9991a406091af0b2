package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
//   - bld and the zygote share one control socket (SOCK_SEQPACKET, the
//     zygote's descriptor 3), on which every message of every command
//     travels, one datagram each, tagged with the command's id
//     (zygote_wire.go): per command, one request from bld, carrying the
//     command's descriptors (stdout, stderr, then ExtraFiles: the
//     jobserver's) as SCM_RIGHTS, and two answers from the zygote. No
//     socket, connection or goroutine per command on bld's side: one
//     goroutine reads the answers for all of them. When the control socket
//     reaches EOF (bld exited or stopped the zygote), the zygote kills the
//     process group of every command it has not reaped and exits.
//   - The zygote hands each request to a worker: a goroutine locked to its
//     thread for good (zygoteWorker), idle or made for it:
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
//   - It answers 'p' with the command's pid on the host (the zygote is
//     in the host's pid namespace), or 'e' with a message when the
//     command could not be started (bld then runs the action with the
//     per-action helper, which reports the failure as it always did), and
//     the worker is free for the next request: a goroutine of the zygote
//     waits for the command.
//   - When the command has ended, but before it is reaped (so its
//     process group ID cannot be reused), the zygote kills what it left
//     in its process group, reaps it and answers 'x' with the wait status
//     and ru_maxrss (KiB).
//   - bld sending 'k' for a command (Ctrl-C, a timeout) makes the zygote
//     kill its process group if it has not been reaped yet (or as soon as
//     it starts).
//
// A request too large for one datagram of the control socket (a plan of
// many thousands of inputs) is declined: the per-action helper runs it.
// BLD_SANDBOX_ZYGOTE=0 turns the zygote off: every action then starts the
// helper, as does an action whose request the zygote could not serve.

// A zygote is the bld side of one Manager's zygote, started by the first
// command that needs it and stopped by Manager.Close.
type zygote struct {
	root  string // the Manager's workspace
	mu    sync.Mutex
	ctl   *zconn // the running zygote's control socket; nil when none runs
	tries int    // starts that failed, or zygotes that died
	off   string // why the zygote is not used
	pid   int    // the zygote's, while it runs
	gen   int    // zygotes started
	ids   uint64 // the last command id given
	// exited is closed when the running zygote has exited and been
	// reaped.
	exited chan struct{}
}

func newZygote(root string) zygote { return zygote{root: root} }

// maxZygoteTries is how many times bld starts a zygote that fails to start
// or dies before it stops trying.
const maxZygoteTries = 3

// maxAnswer bounds the size of an answer of the zygote.
const maxAnswer = 4 << 10

// A zconn is bld's end of one zygote's control socket, with the commands
// sent on it that have not ended.
type zconn struct {
	f  *os.File // non-blocking, in the runtime's poller
	rc syscall.RawConn

	mu      sync.Mutex
	pending map[uint64]*Started
	dead    error // set when the zygote's side is gone
}

// send sends one message, with the descriptors in oob, waiting for room.
func (c *zconn) send(msg, oob []byte) error {
	var err error
	cerr := c.rc.Write(func(fd uintptr) bool {
		err = unix.Sendmsg(int(fd), msg, oob, nil, unix.MSG_NOSIGNAL)
		return err != unix.EAGAIN
	})
	if err == nil {
		err = cerr
	}
	return err
}

// read reads the zygote's answers and hands them to the commands they are
// about, until the socket fails or reaches EOF (the zygote died, or stop
// closed it): then every command still pending fails.
func (c *zconn) read(z *zygote, gen int) {
	buf := make([]byte, maxAnswer)
	var err error
	for {
		var n int
		cerr := c.rc.Read(func(fd uintptr) bool {
			n, _, _, _, err = unix.Recvmsg(int(fd), buf, nil, 0)
			return err != unix.EAGAIN
		})
		if err == nil {
			err = cerr
		}
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = errors.New("the zygote closed its side")
		}
		if err != nil {
			break
		}
		kind, id, body, ok := parseMsg(buf[:n])
		if !ok {
			continue
		}
		c.answer(kind, id, body)
	}
	c.mu.Lock()
	c.dead = err
	for id, s := range c.pending {
		delete(c.pending, id)
		if !s.started {
			s.startErr = fmt.Errorf("zygote: no answer: %w", err)
			s.started = true
			close(s.startedCh)
			continue
		}
		// The zygote died: its pid-namespace commands die with it
		// (SIGKILL at its death); kill what else runs in the group.
		syscall.Kill(-s.Pid, syscall.SIGKILL)
		s.err = fmt.Errorf("the sandbox's zygote died while the command ran (%v)", err)
		s.finished = true
		if s.stopKill != nil {
			s.stopKill()
		}
		close(s.done)
	}
	c.mu.Unlock()
	z.mu.Lock()
	if z.gen == gen && z.ctl == c { // it died while in use
		z.ctl = nil
		c.f.Close()
		z.fail(fmt.Errorf("the zygote's control socket: %v", err))
	}
	z.mu.Unlock()
}

// answer handles one answer of the zygote.
func (c *zconn) answer(kind byte, id uint64, body []byte) {
	c.mu.Lock()
	s := c.pending[id]
	if s == nil {
		c.mu.Unlock()
		return
	}
	switch {
	case kind == msgPid && len(body) == 8 && !s.started:
		s.Pid = int(binary.LittleEndian.Uint64(body))
		s.started = true
		close(s.startedCh)
		c.mu.Unlock()
	case kind == msgErr && !s.started:
		delete(c.pending, id)
		s.startErr = fmt.Errorf("zygote: %s", body)
		s.started = true
		close(s.startedCh)
		c.mu.Unlock()
	case kind == msgErr && s.started: // it could not be waited for
		c.finish(id, s)
		s.err = fmt.Errorf("zygote: %s", body)
		close(s.done)
	case kind == msgExit && len(body) == 16 && s.started:
		c.finish(id, s)
		s.status = syscall.WaitStatus(binary.LittleEndian.Uint64(body))
		s.maxRSS = int64(binary.LittleEndian.Uint64(body[8:])) * 1024
		close(s.done)
	default:
		c.mu.Unlock()
	}
}

// finish forgets the command id, whose last answer came, unlocks c.mu
// (held by the caller) and stops the command's watch for a kill; the
// caller then records how it ended and closes s.done.
func (c *zconn) finish(id uint64, s *Started) {
	delete(c.pending, id)
	s.finished = true
	stop := s.stopKill
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

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
	if z.ctl == nil {
		if err := z.start(); err != nil {
			z.fail(err)
			return err
		}
	}
	return nil
}

// register makes s pending on the running zygote's control socket,
// starting the zygote first if it does not run, and returns the socket
// and s's id.
func (z *zygote) register(s *Started) (*zconn, uint64, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.running(); err != nil {
		return nil, 0, err
	}
	c := z.ctl
	z.ids++
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead != nil {
		return nil, 0, fmt.Errorf("zygote: %w", c.dead)
	}
	c.pending[z.ids] = s
	return c, z.ids, nil
}

// lost says that the control socket c failed on a send: the zygote is
// gone, or going.
func (z *zygote) lost(c *zconn, err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.ctl == c {
		z.ctl = nil
		c.f.Close() // its reader fails what is pending
		z.fail(err)
	}
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
	// Room for large requests (the kernel caps it at net.core.wmem_max);
	// a request larger than what it allows is declined (EMSGSIZE).
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, maxRequest)
	theirs := os.NewFile(uintptr(fds[1]), "zygote control")
	defer theirs.Close()
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return fmt.Errorf("zygote: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "zygote control")
	rc, err := ours.SyscallConn()
	if err != nil {
		ours.Close()
		return fmt.Errorf("zygote: %w", err)
	}
	cmd := exec.Command(exe, helperArg, verbZygote)
	if os.MkdirAll(Dir(z.root), 0o755) == nil {
		// The zygote makes the read-only view of the workspace once.
		cmd.Args = append(cmd.Args, z.root)
	}
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
		ours.Close()
		return fmt.Errorf("starting the zygote: %w", err)
	}
	z.gen++
	c := &zconn{f: ours, rc: rc, pending: map[uint64]*Started{}}
	z.ctl, z.pid = c, cmd.Process.Pid
	gen := z.gen
	exited := make(chan struct{})
	z.exited = exited
	crash.Go(func() { c.read(z, gen) })
	crash.Go(func() {
		cmd.Wait()
		close(exited)
		z.mu.Lock()
		defer z.mu.Unlock()
		if z.gen == gen && z.ctl == c { // it died while in use
			z.ctl = nil
			c.f.Close()
			z.fail(fmt.Errorf("the zygote exited: %v", cmd.ProcessState))
		}
	})
	return nil
}

// stop ends the zygote, if one runs, and waits a little for it to exit; a
// later command starts a new one.
func (z *zygote) stop() {
	z.mu.Lock()
	c := z.ctl
	if c == nil {
		z.mu.Unlock()
		return
	}
	c.f.Close() // the zygote sees EOF and exits
	z.ctl = nil
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
	if z.ctl == nil {
		return 0
	}
	return z.pid
}

// A Started is a command the zygote started.
type Started struct {
	Pid   int
	pidns bool

	// Guarded by the zconn's mu until startedCh is closed.
	started   bool
	startedCh chan struct{}
	startErr  error
	finished  bool
	stopKill  func() bool // stops the kill on the context's end

	done chan struct{}
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

// maxRequest is the size of the largest request sent to the zygote (the
// kernel may allow less: then EMSGSIZE declines the request).
const maxRequest = 1 << 20

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
	fds := make([]int, 0, 2+len(cmd.ExtraFiles))
	for _, w := range []any{cmd.Stdout, cmd.Stderr} {
		f, ok := w.(*os.File)
		if !ok {
			return nil, errors.New("the command's output is not a file")
		}
		fds = append(fds, int(f.Fd()))
	}
	for _, f := range cmd.ExtraFiles {
		fds = append(fds, int(f.Fd()))
	}
	req := zygoteRequest{Plan: e.mp, Path: a[4], Argv: a[5:], Env: cmd.Env,
		Pidns: cmd.SysProcAttr != nil && cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWPID != 0, Files: len(fds)}
	for try := 0; ; try++ {
		s, err = e.startZygote(ctx, &req, fds)
		runtime.KeepAlive(cmd)
		if err != errZygoteGone || try > 0 {
			return s, err
		}
		// A zygote that died since the last command, before its reader
		// noticed, refuses the request: a new one gets it.
	}
}

var errZygoteGone = errors.New("zygote: sending the request: the zygote is gone")

// startZygote sends req to the zygote and waits for its first answer.
func (e *ExecRoot) startZygote(ctx context.Context, req *zygoteRequest, fds []int) (*Started, error) {
	s := &Started{pidns: req.Pidns, startedCh: make(chan struct{}), done: make(chan struct{})}
	z := &e.m.zygote
	c, id, err := z.register(s)
	if err != nil {
		return nil, err
	}
	unregister := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	msg := appendRequest(appendMsg(make([]byte, 0, 512), msgRequest, id), req)
	if err := c.send(msg, unix.UnixRights(fds...)); err != nil {
		unregister()
		if err == unix.EMSGSIZE || err == unix.ENOBUFS {
			return nil, fmt.Errorf("zygote: the request is too large (%d bytes)", len(msg))
		}
		z.lost(c, fmt.Errorf("zygote: sending the request: %w", err))
		return nil, errZygoteGone
	}
	kill := func() { c.send(appendMsg(nil, msgKill, id), nil) }
	select {
	case <-s.startedCh:
	case <-ctx.Done():
		// Ctrl-C ends this wait too (a zygote stuck mounting on a hung
		// file system): the zygote kills the command once it starts.
		kill()
		return nil, fmt.Errorf("zygote: no answer: %w", ctx.Err())
	}
	if s.startErr != nil {
		return nil, s.startErr
	}
	c.mu.Lock()
	if !s.finished {
		s.stopKill = context.AfterFunc(ctx, kill)
	}
	c.mu.Unlock()
	return s, nil
}

// A zjob is a command of the zygote, from its request to its reaping.
type zjob struct {
	id     uint64
	pid    int  // 0 until started
	killed bool // bld asked for it to be killed
	reaped bool
}

// A zstate is the zygote's table of commands, by id.
type zstate struct {
	ctl  *pollFD
	view string // the workspace whose view the zygote's namespace has

	mu      sync.Mutex
	jobs    map[uint64]*zjob
	closing bool           // the control socket reached EOF
	starts  sync.WaitGroup // commands being started
}

// kill kills the process group of job j unless it was reaped; s.mu is
// held.
func (j *zjob) kill() {
	if j.pid > 0 && !j.reaped {
		unix.Kill(-j.pid, unix.SIGKILL)
	}
}

// answer sends bld one message about command id.
func (st *zstate) answer(kind byte, id uint64, body []byte) {
	st.ctl.send(append(appendMsg(make([]byte, 0, msgHeader+len(body)), kind, id), body...))
}

// A zwork is a request for a worker: the command's job, request and
// descriptors.
type zwork struct {
	job   *zjob
	req   *zygoteRequest
	files []int
}

// zygoteMain is the zygote: it serves the requests bld sends on
// descriptor 3 until that socket reaches EOF. root, if not "", is the
// workspace of its Manager: it makes the read-only view of it (mountView)
// once, in its own namespace, for every command whose plan is of that
// root.
func zygoteMain(root string) error {
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if root != "" && mountView(root) != nil {
		// Each command then binds the view in its own namespace, on
		// top of whatever part of it was made here.
		root = ""
	}
	// The zygote's own mount namespace, to which a worker thread returns
	// after each command; -1 if it cannot be opened (then every worker
	// serves one command and ends with its thread).
	home, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		home = -1
	}
	st := &zstate{ctl: pollable(3, "zygote control"), jobs: map[uint64]*zjob{}, view: root}
	buf := make([]byte, maxRequest)
	oob := make([]byte, unix.CmsgSpace(4*maxFiles))
	idle := make(chan zwork) // requests handed to idle workers
	for {
		n, oobn, flags, err := st.ctl.recvmsg(buf, oob)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			st.close()
			os.Exit(0) // bld is gone, or done
		}
		files, ferr := parseRights(oob[:oobn])
		kind, id, body, ok := parseMsg(buf[:n])
		if !ok || kind != msgRequest {
			for _, fd := range files {
				unix.Close(fd)
			}
			if ok && kind == msgKill {
				st.mu.Lock()
				if j := st.jobs[id]; j != nil {
					j.killed = true
					j.kill()
				}
				st.mu.Unlock()
			}
			continue
		}
		req, err := parseRequest(body)
		switch {
		case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
			err = errors.New("the request or its descriptors were truncated")
		case ferr != nil:
			err = fmt.Errorf("reading the request's descriptors: %w", ferr)
		case err != nil:
		case req.Files != len(files) || len(files) < 2 || len(req.Argv) == 0:
			err = fmt.Errorf("bad request: %d descriptors, %d said, argv %q", len(files), req.Files, req.Argv)
		}
		if err != nil {
			for _, fd := range files {
				unix.Close(fd)
			}
			st.answer(msgErr, id, []byte(strings.ReplaceAll(err.Error(), "\n", " ")))
			continue
		}
		j := &zjob{id: id}
		st.mu.Lock()
		st.jobs[id] = j
		st.starts.Add(1)
		st.mu.Unlock()
		wk := zwork{job: j, req: req, files: files}
		select {
		case idle <- wk:
		default:
			crash.Go(func() { zygoteWorker(wk, idle, home, st) })
		}
	}
}

// maxFiles bounds the descriptors of a request.
const maxFiles = 64

// close kills the process group of every command not reaped, waiting a
// little for those being started, when bld has closed the control socket.
func (st *zstate) close() {
	st.mu.Lock()
	st.closing = true
	for _, j := range st.jobs {
		j.kill()
	}
	st.mu.Unlock()
	started := make(chan struct{})
	crash.Go(func() { st.starts.Wait(); close(started) })
	select {
	case <-started:
	case <-time.After(time.Second):
	}
}

// zygoteWorker serves the request wk, then those it receives from idle,
// on one thread: its goroutine stays locked to the thread for good. After
// each command the thread goes back to the zygote's mount namespace (home)
// and waits for the next; making a thread per command cost a clone, the
// runtime's setup of the thread and, for root, dropping the capability
// bounding set again. If the thread cannot go back, the worker ends, and
// Go ends the thread with it.
func zygoteWorker(wk zwork, idle chan zwork, home int, st *zstate) {
	runtime.LockOSThread()
	w := &worker{home: home}
	for {
		st.serve(wk, w)
		if w.away {
			return
		}
		wk = <-idle
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

// serve starts the command of wk on the worker's thread, whose goroutine
// is locked to it, answers bld, and leaves the wait for the command to a
// goroutine of its own.
func (st *zstate) serve(wk zwork, w *worker) {
	j := wk.job
	pid, err := startForZygote(wk.req, wk.files, w, st.view != "" && wk.req.Plan.Root == st.view)
	for _, f := range wk.files {
		unix.Close(f)
	}
	st.mu.Lock()
	if err != nil {
		delete(st.jobs, j.id)
		st.starts.Done()
		st.mu.Unlock()
		st.answer(msgErr, j.id, []byte(strings.ReplaceAll(err.Error(), "\n", " ")))
		return
	}
	j.pid = pid
	if j.killed || st.closing {
		j.kill()
	}
	st.starts.Done()
	st.mu.Unlock()
	st.answer(msgPid, j.id, binary.LittleEndian.AppendUint64(nil, uint64(pid)))
	if w.away {
		// The worker ends with its thread after this command, and a
		// thread's end is the parent's death for the command's
		// Pdeathsig: the thread waits for the command first.
		st.wait(j)
		return
	}
	crash.Go(func() { st.wait(j) })
}

// wait waits for job j's command to end, kills what it left in its process
// group, reaps it and answers bld.
func (st *zstate) wait(j *zjob) {
	// The goroutine waits on the command through the runtime's poller:
	// a thread blocked in a system call makes the runtime's monitor
	// (sysmon) wake every 20 µs, which cost the zygote more CPU than its
	// mounts.
	waitExited(j.pid)
	st.mu.Lock()
	unix.Kill(-j.pid, unix.SIGKILL) // what it left in its group
	var ws unix.WaitStatus
	var ru unix.Rusage
	var err error
	for {
		_, err = unix.Wait4(j.pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	j.reaped = true
	delete(st.jobs, j.id)
	st.mu.Unlock()
	if err != nil {
		st.answer(msgErr, j.id, []byte(fmt.Sprintf("waiting: %v", err)))
		return
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(ws))
	st.answer(msgExit, j.id, binary.LittleEndian.AppendUint64(b, uint64(ru.Maxrss)))
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

// recvmsg is recvmsg(2) with MSG_CMSG_CLOEXEC, waiting until there is a
// message; it returns the message's flags (MSG_TRUNC, MSG_CTRUNC).
func (p *pollFD) recvmsg(b, oob []byte) (n, oobn, flags int, err error) {
	if p.rc == nil {
		n, oobn, flags, _, err = unix.Recvmsg(p.fd, b, oob, unix.MSG_CMSG_CLOEXEC)
		return n, oobn, flags, err
	}
	cerr := p.rc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, err = unix.Recvmsg(int(fd), b, oob, unix.MSG_CMSG_CLOEXEC)
		return err != unix.EAGAIN
	})
	if err == nil {
		err = cerr
	}
	return n, oobn, flags, err
}

// send sends b as one message; errors are ignored (bld is gone).
func (p *pollFD) send(b []byte) {
	if p.rc == nil {
		for unix.Sendmsg(p.fd, b, nil, nil, unix.MSG_NOSIGNAL) == unix.EINTR {
		}
		return
	}
	p.rc.Write(func(fd uintptr) bool {
		err := unix.Sendmsg(int(fd), b, nil, nil, unix.MSG_NOSIGNAL)
		return err != unix.EAGAIN && err != unix.EINTR
	})
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

// startForZygote makes the command's mount namespace for req on this
// thread, starts the command with the descriptors files, and takes the
// thread back to the zygote's mount namespace.
func startForZygote(req *zygoteRequest, files []int, w *worker, viewMade bool) (int, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		w.away = true // to be safe: a fresh thread serves the next one
		return 0, fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	// The command's namespace lives on in the command.
	defer w.goHome()
	if err := mountExecRoot(&req.Plan, viewMade); err != nil {
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
