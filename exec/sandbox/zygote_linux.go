package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

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
//     command's descriptors (its output, once for stdout and stderr,
//     then ExtraFiles: the jobserver's) as SCM_RIGHTS, and one answer from the zygote (two
//     for a command without a pid namespace, whose pid bld asks for). No
//     socket, connection or goroutine per command on bld's side: one
//     goroutine reads the answers for all of them. When the control socket
//     reaches EOF (bld exited or stopped the zygote), the zygote kills the
//     process group of every command it has not reaped and exits.
//   - A few threads of the zygote (servingThreads: one more than the
//     CPUs, 3 to 9), each locked, serve alike, each in a loop around
//     epoll_wait(2) on one epoll set (zygoteMain), which gives each
//     message and each command's end to one of them: requests are
//     received in order, and served side by side (a command's start
//     mostly waits: for its exec, its mounts, a slot's teardown; with
//     one thread, the commands of a build queued behind each other's).
//     For a request, the thread moves to a mount namespace of the
//     command's (per thread: the zygote's other threads keep its
//     namespace): a
//     slot, one it reuses from command to command when the command gets
//     a pid namespace (see slot), else a new one (unshare(CLONE_NEWNS));
//     then steps 2 to 5 of the recipe (the plan is in the request; a
//     slot hides the workspace once), syscall.ForkExec from that thread (the
//     child inherits the thread's mount namespace, and its capabilities,
//     which dropCapabilities emptied once for the thread's life), then
//     setns(2) back to the zygote's namespace: the command's namespace
//     lives as long as the command. The command runs in FixedExecRoot, in
//     a process group of its own, with stdin /dev/null, and with a pid
//     namespace of its own when asked. The command is then that
//     namespace's pid 1: when it ends, the kernel kills whatever it left
//     in the namespace; and it gets SIGKILL if the zygote dies. Its /proc
//     is one of its pid namespace (privateProc: the command is forked
//     stopped at its exec, under ptrace, and let run once a proc file
//     system of its namespace is on /proc), so no other process, bld's,
//     the zygote's or another action's, is visible to it. A command
//     without a pid namespace (allow_daemon) sees the host's /proc.
//   - It answers 'e' with a message when the command could not be
//     started (bld then runs the action with the per-action helper, which
//     reports the failure as it always did: for a command in a pid
//     namespace, whose StartZygote did not wait, Started.Wait says
//     ErrNotStarted), else, if the request asked for it (a command
//     without a pid namespace: bld journals its process group, and kills
//     it should the zygote die), 'p' with the command's pid on the host
//     (the zygote is in the host's pid namespace); and it adds the
//     command's pidfd (from clone, CLONE_PIDFD) to its epoll set.
//   - When the command has ended, but before it is reaped (so its
//     process group ID cannot be reused), the zygote kills what it left
//     in its process group, reaps it and answers 'x' with the wait status
//     and ru_maxrss (KiB) ('w' if it could not be waited for); only then
//     does it release the command's slot (see zserver.reap).
//   - bld sending 'k' for a command (Ctrl-C, a timeout) makes the zygote
//     kill its process group if it has not been reaped yet, or as soon as
//     it has started if its start is under way (requests and kills are
//     received in order: a command it does not know was reaped, or never
//     started).
//
// A request too large for one datagram of the control socket (a plan of
// many thousands of inputs) is declined: the per-action helper runs it.
// BLD_SANDBOX_ZYGOTE=0 turns the zygote off: every action then starts the
// helper, as does an action whose request the zygote could not serve.
// BLD_SANDBOX_ZYGOTE_THREADS=N sets the count of serving threads (to
// measure; tests set zygote.threads).

// A zygote is the bld side of one Manager's zygote, started by the first
// command that needs it and stopped by Manager.Close.
type zygote struct {
	root  string // the Manager's workspace
	mu    sync.Mutex
	ctl   *zconn // the running zygote's control socket; nil when none runs
	tries int    // starts that failed, or zygotes that died
	off   string // why the zygote is not used (off, or it failed too often)
	pid   int    // the zygote's, while it runs
	gen   int    // zygotes started
	ids   uint64 // the last command id given
	// threads is how many threads of a zygote serve commands; 0:
	// zygote.servingThreads decides.
	threads int
	// exited is closed when the running zygote has exited and been
	// reaped.
	exited chan struct{}
	// startFailed, if not nil, is called when a zygote fails to start.
	startFailed func()
}

// newZygote returns the zygote of a Manager of workspace root; it reads
// BLD_SANDBOX_ZYGOTE once, here, not per command.
func newZygote(root string) zygote {
	off := ""
	if os.Getenv("BLD_SANDBOX_ZYGOTE") == "0" {
		off = "the zygote is off (BLD_SANDBOX_ZYGOTE=0)"
	}
	return zygote{root: root, off: off}
}

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
		if s.Pid > 0 {
			syscall.Kill(-s.Pid, syscall.SIGKILL)
		}
		s.err = fmt.Errorf("the sandbox's zygote died while the command ran (%v)", err)
		s.finished = true
		if s.stopKill != nil {
			s.stopKill()
		}
		s.end()
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
	case kind == msgErr && s.quiet: // it could not be started
		c.finish(id, s)
		s.err = &notStartedError{fmt.Errorf("zygote: %s", body)}
		s.end()
	case kind == msgWaitErr && s.started:
		c.finish(id, s)
		s.err = fmt.Errorf("zygote: %s", body)
		s.end()
	case kind == msgExit && len(body) == 16 && s.started:
		c.finish(id, s)
		s.status = syscall.WaitStatus(binary.LittleEndian.Uint64(body))
		s.maxRSS = int64(binary.LittleEndian.Uint64(body[8:])) * 1024
		s.end()
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
	if z.off != "" {
		return errors.New(z.off)
	}
	if z.ctl == nil {
		if err := z.start(); err != nil {
			z.fail(err)
			if z.startFailed != nil {
				z.startFailed()
				err = fmt.Errorf("%w (an earlier build found the namespace sandbox working here and this one did not try it again; the next build will)", err)
			}
			return err
		}
	}
	return nil
}

// onStartFailure has f called when a zygote fails to start.
func (z *zygote) onStartFailure(f func()) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.startFailed = f
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
	threads, err := z.servingThreads()
	if err != nil {
		ours.Close()
		return err
	}
	view := ""
	if os.MkdirAll(Dir(z.root), 0o755) == nil {
		// The zygote makes the read-only view of the workspace once.
		view = z.root
	}
	cmd := exec.Command(exe, helperArg, verbZygote, strconv.Itoa(threads), view)
	cmd.Args[0] = "bld-sandbox-zygote"
	cmd.Dir = "/"
	cmd.Env = []string{}
	cmd.Stderr = os.Stderr // a crash of the zygote says why
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = namespaceProcAttr(false)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// setns(2) back to its own mount namespace needs CAP_SYS_CHROOT too
	// (zserver.start).
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

// servingThreads is how many threads of the zygote serve commands: z.threads
// if set, else BLD_SANDBOX_ZYGOTE_THREADS if set (to measure), else
// servingThreads of the machine's CPUs.
func (z *zygote) servingThreads() (int, error) {
	if z.threads > 0 {
		return min(z.threads, maxServingThreads), nil
	}
	if v := os.Getenv("BLD_SANDBOX_ZYGOTE_THREADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxServingThreads {
			return 0, fmt.Errorf("BLD_SANDBOX_ZYGOTE_THREADS=%q: want a count of threads from 1 to %d", v, maxServingThreads)
		}
		return n, nil
	}
	return servingThreads(runtime.NumCPU()), nil
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

// A Started is a command sent to the zygote, which started it or, for a
// command in a pid namespace of its own, may still fail to: then Wait
// says so (ErrNotStarted), and the caller starts the command itself.
type Started struct {
	// Pid is the command's pid on the host; 0 when bld did not ask for
	// it (a command in a pid namespace of its own, which dies with the
	// zygote, which dies with bld: nothing to find after a crash, and
	// the zygote kills its group).
	Pid   int
	pidns bool
	// quiet: the zygote sends no 'p' answer for the command; StartZygote
	// did not wait for it to start.
	quiet bool
	// fallback prepares the command StartZygote was given for the
	// per-action helper; Wait calls it when the zygote could not start
	// the command.
	fallback func() error

	// Guarded by the zconn's mu until startedCh is closed.
	started   bool
	startedCh chan struct{}
	startErr  error
	finished  bool
	stopKill  func() bool // stops the kill on the context's end

	// ended, if not nil, is called right before done is closed.
	ended func()
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
//
// When the zygote could not start the command, Wait returns an error that
// is ErrNotStarted, having made the command given to StartZygote ready
// for the per-action helper: the caller then starts it, as when
// StartZygote itself declines.
func (s *Started) Wait() (exitCode int, state string, maxRSS int64, err error) {
	<-s.done
	if s.err != nil {
		if errors.Is(s.err, ErrNotStarted) && s.fallback != nil {
			if ferr := s.fallback(); ferr != nil {
				return -1, "", 0, ferr
			}
		}
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

// end says that the command has ended: its status or error is set.
func (s *Started) end() {
	if s.ended != nil {
		s.ended()
	}
	close(s.done)
}

// notStartedError is the zygote's reason for not starting a command.
type notStartedError struct{ err error }

func (e *notStartedError) Error() string        { return e.err.Error() }
func (e *notStartedError) Is(target error) bool { return target == ErrNotStarted }
func (e *notStartedError) Unwrap() error        { return e.err }

// maxRequest is the size of the largest request sent to the zygote (the
// kernel may allow less: then EMSGSIZE declines the request).
const maxRequest = 1 << 20

// StartZygote starts cmd, which Command made (the caller may have added to
// its Env and ExtraFiles; Stdin is /dev/null, Stdout and Stderr are
// ignored), through the zygote, with the descriptor out as its stdout and
// stderr. The zygote gets copies of out and of ExtraFiles' descriptors
// with the request: once StartZygote has returned, the caller may close
// its own (so that the reading end of an output pipe sees EOF when the
// command, and whatever it left holding the pipe, has ended). It returns
// nil, and an error saying why, when the zygote is off or could not start
// the command: the caller then starts cmd itself. When ctx is done, the
// command's process group is killed.
//
// ended, if not nil, is called once the command has ended (or the zygote
// could not start it, or died), before Wait returns, from the goroutine
// that reads the zygote's answers (in some cases with a lock held): it
// must not block. The executor, which reads the command's output while it
// runs, uses it to end that read's wait: it then closes its own copy of
// out and reads the rest, until EOF or for a while at most (a process that
// left the command's group may hold the pipe open).
func (e *ExecRoot) StartZygote(ctx context.Context, cmd *exec.Cmd, out int, ended func()) (s *Started, err error) {
	if e.mode != ModeNamespace {
		return nil, errors.New("not in a namespace")
	}
	a := cmd.Args
	if len(a) < 6 || a[1] != helperArg || a[2] != verbExec || cmd.Stdin != nil {
		return nil, errors.New("not a helper command")
	}
	// When the zygote cannot start the command, the caller starts the
	// helper's: it needs the plan's file.
	fallback := func() error {
		if !e.deferPlan {
			return nil
		}
		if err := e.writePlan(); err != nil {
			return err
		}
		a[3] = e.planFile
		return nil
	}
	defer func() {
		if s == nil {
			if ferr := fallback(); ferr != nil {
				err = ferr
			}
		}
	}()
	// out once: the zygote makes it the command's stdout and stderr.
	fds := make([]int, 0, 1+len(cmd.ExtraFiles))
	fds = append(fds, out)
	for _, f := range cmd.ExtraFiles {
		fds = append(fds, int(f.Fd()))
	}
	req := zygoteRequest{Plan: e.mp, Path: a[4], Argv: a[5:], Env: cmd.Env,
		Pidns: cmd.SysProcAttr != nil && cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWPID != 0, Files: len(fds)}
	// The pid is for the executor's journal of process groups and for
	// killing the group should the zygote die: a command in a pid
	// namespace needs neither.
	req.WantPid = !req.Pidns
	for try := 0; ; try++ {
		s, err = e.startZygote(ctx, &req, fds, ended)
		if s != nil {
			s.fallback = fallback
		}
		runtime.KeepAlive(cmd)
		if err != errZygoteGone || try > 0 {
			return s, err
		}
		// A zygote that died since the last command, before its reader
		// noticed, refuses the request: a new one gets it.
	}
}

var errZygoteGone = errors.New("zygote: sending the request: the zygote is gone")

// startZygote sends req to the zygote and waits for its first answer,
// unless req wants no pid: then the only answer is the last.
func (e *ExecRoot) startZygote(ctx context.Context, req *zygoteRequest, fds []int, ended func()) (*Started, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("zygote: not sent: %w", err)
	}
	s := &Started{pidns: req.Pidns, quiet: !req.WantPid, done: make(chan struct{}), ended: ended}
	if s.quiet {
		s.started = true
	} else {
		s.startedCh = make(chan struct{})
	}
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
	if s.quiet {
		c.mu.Lock()
		if !s.finished {
			s.stopKill = context.AfterFunc(ctx, kill)
		}
		c.mu.Unlock()
		return s, nil
	}
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

// A zjob is a command of the zygote, from its start to its reaping.
type zjob struct {
	id    uint64
	pid   int
	pidfd int   // readable once the command has ended
	slot  *slot // the namespace it runs in, if a slot's
}

// A slot is a mount namespace that the zygote keeps and reuses for
// command after command: the commands with a pid namespace of their own,
// of the workspace whose view the zygote made. Making a namespace per
// command costs unshare(2), which copies every mount of the zygote's (the
// host's: some tens), and the namespace's teardown when the command ends
// (an unmount of each, and a wait for an RCU grace period); unmounting a
// command's exec root from a reused namespace costs that wait too. So a
// command's exec root is mounted on top of the last one's (each a new
// directory of the slot's tmpfs, bound on FixedDir: the lower ones are
// unreachable by any path, as a path through FixedDir leads to the top
// one and ".." from its root to FixedDir's parent), its /proc on top of
// the last one's too, and a slot is torn down, all at once, after
// maxSlotUses commands.
//
// A slot is made once, from the zygote's namespace: an O_PATH descriptor
// of the workspace's read-only view is opened in it, a tmpfs for its exec
// roots is mounted on the workspace's path and an O_PATH descriptor of it
// opened (one file system per slot: making one, and tearing it down, per
// command cost more than a bind), then the empty read-only tmpfs of step
// 5 covers both for good (binds still reach them through the
// descriptors, with open_tree(2) and move_mount(2): no path reaches them). A slot is used by one command
// at a time; it is free again once that command is reaped: as the command
// was the init of its pid namespace, every process of the namespace, so
// every process that could be in the slot, is gone then.
type slot struct {
	ns     int // the mount namespace
	view   int // O_PATH descriptor of the workspace's view in ns
	tmp    int // O_PATH descriptor of the tmpfs of its exec roots, in ns
	uses   int // exec roots mounted on FixedDir
	mounts int // the mounts they made
}

// maxSlotUses bounds the exec roots stacked in a slot (and what their
// commands left in them besides their outputs, which stays in memory
// until the slot is torn down), and maxSlotMounts their mounts (the
// kernel allows 100,000 per namespace by default, fs.mount-max); a
// command of more inputs gets a namespace of its own.
const (
	maxSlotUses   = 16
	maxSlotMounts = 10000
)

// A zserver is the zygote's side: its serving threads (see zygoteMain)
// and what they share.
type zserver struct {
	ctl  int    // the control socket (blocking; received with MSG_DONTWAIT)
	ep   int    // epoll: the control socket and each running command's pidfd, all EPOLLONESHOT
	home int    // the zygote's mount namespace
	null int    // /dev/null, the commands' stdin
	view string // the workspace whose view the zygote's namespace has, or ""

	mu   sync.Mutex
	idle *sync.Cond // on mu: signalled when a request's start is over
	// noProc, when set, says why the kernel cannot give a command a /proc
	// of its pid namespace (privateProc): commands with one are declined.
	noProc string
	free   []*slot          // slots not in use
	jobs   map[uint64]*zjob // running commands not being reaped, by id
	byFD   map[int32]*zjob  // the same, by pidfd
	// starting holds the ids of the requests received and not yet
	// started (or declined); true when bld asked to kill the command.
	starting map[uint64]bool
	// closed: the control socket reached EOF, or a thread failed; no
	// request is started any more.
	closed bool
}

// A zthread is one serving thread's own state.
type zthread struct {
	z      *zserver
	buf    []byte // a request
	oob    []byte // its descriptors
	events [1]unix.EpollEvent
}

// zygoteCtl is the control socket's descriptor in the zygote.
const zygoteCtl = 3

// zygoteMain is the zygote: it serves the requests bld sends on
// descriptor 3 until that socket reaches EOF. root, if not "", is the
// workspace of its Manager: it makes the read-only view of it (mountView)
// once, in its own namespace, for every command whose plan is of that
// root.
//
// A few threads (servingThreads), each locked, serve alike (zserver.serve),
// each in a loop around epoll_wait(2) on one epoll set of the control
// socket and of a pidfd per running command, every one EPOLLONESHOT, so
// that each event goes to one thread: receive a request (and re-arm the
// control socket, so that another thread takes the next message), enter a
// mount namespace on this thread (a slot, or a new one:
// unshare(CLONE_NEWNS)), mount the exec root, fork the command (with
// CLONE_PIDFD; with a pid namespace, stopped at its exec until its /proc is
// mounted), setns(2) back, answer; when a pidfd is readable, kill what the
// command left in its group, reap it and answer. A thread's start of a
// command mostly waits: for the command's exec (the fork is a vfork), for
// mounts, for the teardown of a slot; with one serving thread, the
// commands of a build at -j 2 queued behind each other's starts, and a
// command's end waited to be reaped. No goroutine, channel or Go poller is
// involved in serving, so a command costs no hand-off between threads:
// each hand-off (a futex wake-up, a context switch, and the runtime's
// sysmon woken to poll every 20 µs for a while) cost more CPU than the
// mounts.
func zygoteMain(root string, threads int) error {
	// The setup's mounts are in the zygote's namespace, which every
	// thread shares until it moves to a command's.
	runtime.LockOSThread()
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if root != "" && mountView(root) != nil {
		// Each command then binds the view in its own namespace, on
		// top of whatever part of it was made here.
		root = ""
	}
	// The zygote's own mount namespace, to which a thread returns after
	// each command.
	home, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the zygote's mount namespace: %w", err)
	}
	// The commands are waited for through pidfds (Linux 5.3): without
	// them, the zygote does not serve, and bld runs the per-action
	// helper.
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("the zygote needs pidfds: %w", err)
	}
	unix.Close(self)
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, zygoteCtl, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: zygoteCtl}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	quietChildren()
	z := &zserver{ctl: zygoteCtl, ep: ep, home: home, null: null, view: root,
		jobs: map[uint64]*zjob{}, byFD: map[int32]*zjob{}, starting: map[uint64]bool{}}
	z.idle = sync.NewCond(&z.mu)
	n := threads
	// Each serving thread keeps its P while it waits raw (epollWaitRaw):
	// one more for the runtime, and for a thread back from a wait whose P
	// sysmon took.
	if runtime.GOMAXPROCS(0) < n+1 {
		runtime.GOMAXPROCS(n + 1)
	}
	ended := make(chan error, n)
	for range n {
		crash.Go(func() { ended <- z.serve() })
	}
	// The first thread to end ends the zygote: at EOF, every command not
	// reaped was killed.
	return <-ended
}

// quietChildren sets SIGCHLD's action to the default (SIG_DFL), which is
// to ignore it, in place of the Go runtime's handler, with a raw
// rt_sigaction(2) (os/signal cannot: it keeps the runtime's handler).
// A signal whose action is the default and is to ignore it is dropped when
// it is sent, so a command's end, and its stop at its exec under ptrace,
// no longer interrupt a thread of the zygote (the runtime's handler did
// nothing with it: the zygote asks for no signal): about two signals per
// command, each waking a thread (often the idle main one) to run the
// handler. Unlike SIG_IGN, the default does not make the kernel reap the
// children itself: the zygote still waits for them (pidfds, wait4), which
// signals do not take part in. Children get the default action of every
// signal at their exec anyway. A failure leaves the runtime's handler,
// which costs only time.
func quietChildren() {
	var act [8]uint64 // a struct sigaction of zeros: SIG_DFL, no flags, empty mask
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}

// servingThreads is how many threads serve commands on a machine of cpus
// processors: one more than them (a thread may wait for a slot's teardown
// while the others start commands), at least 3, at most
// maxServingThreads. A thread waiting for its next event within
// rawWaitFor of its last costs a trip through the scheduler every 10 ms
// (see epollWaitRaw); an idle one, nothing. With 1, 2 and 3 threads on 2
// CPUs, a 1k-action build at -j 2 took the same CPU, and 1 thread more
// wall time (docs/benchmarks.md, ns7).
func servingThreads(cpus int) int {
	return min(max(cpus+1, 3), maxServingThreads)
}

// maxServingThreads bounds the zygote's serving threads.
const maxServingThreads = 9

// maxFiles bounds the descriptors of a request.
const maxFiles = 64

// serve is one serving thread: it locks the goroutine to its thread for
// good (the thread's mount namespace and capabilities change: it must
// never run another goroutine, and dies with the zygote), and serves until
// the control socket reaches EOF (bld is gone, or done), or until it cannot
// go on: then the zygote stops (shutdown).
func (z *zserver) serve() error {
	runtime.LockOSThread()
	// setns(2) to a mount namespace needs a thread with a file system
	// context (root, cwd) of its own: the Go runtime's threads share one.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return z.shutdown(fmt.Errorf("unshare(CLONE_FS): %w", err))
	}
	// Once for the thread's life: the commands it forks get no
	// capability (a thread's bounding set never grows back, and nothing
	// here raises the ambient or inheritable sets).
	if err := dropCapabilities(true); err != nil {
		return z.shutdown(err)
	}
	t := &zthread{z: z, buf: make([]byte, maxRequest), oob: make([]byte, unix.CmsgSpace(4*maxFiles))}
	var waiting time.Time // since when the thread has had no event; zero when it is not waiting
	for {
		var n int
		var err error
		if waiting.IsZero() {
			waiting = time.Now()
		}
		if left := rawWaitFor - time.Since(waiting); left > 0 {
			n, err = epollWaitRaw(z.ep, t.events[:], int((left+time.Millisecond-1)/time.Millisecond))
		} else {
			n, err = unix.EpollWait(z.ep, t.events[:], -1)
		}
		if err == unix.EINTR || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return z.shutdown(fmt.Errorf("epoll_wait: %w", err))
		}
		waiting = time.Time{}
		if fd := t.events[0].Fd; fd != zygoteCtl {
			z.mu.Lock()
			j := z.byFD[fd]
			if j != nil {
				// No kill reaches it from now on: its group is
				// killed below, before it is reaped.
				delete(z.jobs, j.id)
				delete(z.byFD, fd)
			}
			z.mu.Unlock()
			if j != nil {
				z.reap(j)
			}
			continue
		}
		done, err := t.receive()
		if err != nil || done {
			return z.shutdown(err)
		}
	}
}

// epollWaitRaw is epoll_wait(2) with a timeout of msec milliseconds,
// made without telling the Go runtime that the thread is in a system call
// (a raw one). The runtime then sees the goroutine running: where the
// thread blocks in a system call it knows of, the runtime's monitor
// (sysmon) takes its P back, at the latest once the goroutine has run for
// 10 ms without being rescheduled (a locked serving goroutine never is),
// and then polls every 20 µs for a millisecond (~50 context switches,
// several per command at -j 2 in a busy build). Sysmon instead signals a
// goroutine it sees running for 10 ms (SIGURG, to preempt it, and to stop
// the world for the garbage collector): that ends the wait with EINTR, and
// the loop, back in Go code, lets itself be preempted: at the latest at
// the next call of this function, whose prologue checks for a preemption
// request (hence noinline).
//
// Each preemption of a locked goroutine is a signal and a hand-off of its
// P (~800 context switches a second for an idle zygote of 3 threads, and
// ~20 ms of CPU a second): so a thread waits raw for rawWaitFor at most,
// while commands keep it busy, and then, idle, in a wait the runtime knows
// of (unix.EpollWait), whose P sysmon takes back once: an idle zygote then
// costs nothing.
//
//go:noinline
func epollWaitRaw(ep int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawWaitFor is how long a serving thread waits for an event in raw
// epoll_waits (epollWaitRaw) before it waits in one the runtime knows of.
// A thread of a busy build gets an event every few milliseconds; one that
// got none for this long is idle.
const rawWaitFor = 500 * time.Millisecond

// shutdown stops the zygote's serving, with err as the reason (nil: the
// control socket reached EOF): it waits for the starts under way to end,
// then kills the process group of every command not reaped, and returns
// err.
func (z *zserver) shutdown(err error) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closed = true
	for len(z.starting) > 0 {
		z.idle.Wait()
	}
	for _, j := range z.jobs {
		unix.Kill(-j.pid, unix.SIGKILL)
	}
	return err
}

// rearm makes the control socket's next message an event for one serving
// thread.
func (z *zserver) rearm() error {
	if err := unix.EpollCtl(z.ep, unix.EPOLL_CTL_MOD, zygoteCtl, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: zygoteCtl}); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// startDone says that the start of request id is over, adding j (nil when
// the command was not started) to the running commands; it returns
// whether the command must be killed: bld asked, or the zygote is
// stopping.
func (z *zserver) startDone(id uint64, j *zjob) (kill bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	kill = z.starting[id] || z.closed
	delete(z.starting, id)
	if j != nil {
		z.jobs[id], z.byFD[int32(j.pidfd)] = j, j
	}
	z.idle.Broadcast()
	return kill
}

// receive handles one message of the control socket, if one is there; done
// says it reached EOF. An error is one the zygote cannot go on after.
func (t *zthread) receive() (done bool, err error) {
	z := t.z
	n, oobn, flags, _, err := unix.Recvmsg(z.ctl, t.buf, t.oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false, z.rearm()
	}
	if err != nil || n == 0 {
		return true, nil
	}
	files, ferr := parseRights(t.oob[:oobn])
	closeFiles := func() {
		for _, fd := range files {
			unix.Close(fd)
		}
	}
	kind, id, body, ok := parseMsg(t.buf[:n])
	if ok && kind == msgRequest {
		// Before the next message can be received: a kill of this
		// command finds it.
		z.mu.Lock()
		z.starting[id] = false
		z.mu.Unlock()
	}
	if err := z.rearm(); err != nil {
		closeFiles()
		if ok && kind == msgRequest {
			z.startDone(id, nil)
		}
		return false, err
	}
	if !ok || kind != msgRequest {
		closeFiles()
		if ok && kind == msgKill {
			// A command neither starting nor running failed to
			// start or was reaped: the requests before the kill
			// were received before it.
			z.mu.Lock()
			if j := z.jobs[id]; j != nil {
				unix.Kill(-j.pid, unix.SIGKILL)
			} else if _, ok := z.starting[id]; ok {
				z.starting[id] = true
			}
			z.mu.Unlock()
		}
		return false, nil
	}
	req, err := parseRequest(body)
	switch {
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		err = errors.New("the request or its descriptors were truncated")
	case ferr != nil:
		err = fmt.Errorf("reading the request's descriptors: %w", ferr)
	case err != nil:
	case req.Files != len(files) || len(files) < 1 || len(req.Argv) == 0:
		err = fmt.Errorf("bad request: %d descriptors, %d said, argv %q", len(files), req.Files, req.Argv)
	}
	if err == nil {
		z.mu.Lock()
		if z.closed {
			err = errors.New("the zygote is stopping")
		}
		z.mu.Unlock()
	}
	if err != nil {
		closeFiles()
		z.startDone(id, nil)
		z.answer(msgErr, id, []byte(strings.ReplaceAll(err.Error(), "\n", " ")))
		return false, nil
	}
	j := &zjob{id: id}
	var fatal error
	j.pid, j.pidfd, j.slot, err, fatal = z.start(req, files)
	closeFiles()
	if err != nil {
		if j.slot != nil {
			z.release(j.slot)
		}
		z.startDone(id, nil)
		z.answer(msgErr, id, []byte(strings.ReplaceAll(err.Error(), "\n", " ")))
		return false, fatal
	}
	if z.startDone(id, j) {
		unix.Kill(-j.pid, unix.SIGKILL)
	}
	// The pid first: the command's end may be reported by another
	// thread as soon as its pidfd is in the epoll set.
	if req.WantPid {
		z.answer(msgPid, id, binary.LittleEndian.AppendUint64(nil, uint64(j.pid)))
	}
	if eerr := unix.EpollCtl(z.ep, unix.EPOLL_CTL_ADD, j.pidfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(j.pidfd)}); eerr != nil {
		// It cannot be waited for: kill it, and say so once it is reaped.
		z.mu.Lock()
		delete(z.jobs, id)
		delete(z.byFD, int32(j.pidfd))
		z.mu.Unlock()
		unix.Kill(-j.pid, unix.SIGKILL)
		z.reap(j)
	}
	return false, fatal
}

// reap is called when job j's command has ended (its pidfd is readable)
// and j is out of jobs: it kills what the command left in its process
// group (its leader not reaped yet, the group's ID cannot have been
// reused), reaps it and answers bld.
func (z *zserver) reap(j *zjob) {
	unix.Kill(-j.pid, unix.SIGKILL)
	var ws unix.WaitStatus
	var ru unix.Rusage
	var err error
	for {
		_, err = unix.Wait4(j.pid, &ws, 0, &ru)
		if err != unix.EINTR {
			break
		}
	}
	// bld waits for the answer (the action's end, and the next action's
	// start, wait for it), not for the rest: the slot's release, which
	// tears the slot down after its last command (some milliseconds: an
	// unmount of every exec root in it, and an RCU grace period), comes
	// after. No process is left in the slot: the command was the init of
	// its pid namespace, and the kernel ends every other process of it
	// before the pidfd of its init is readable.
	if err != nil {
		z.answer(msgWaitErr, j.id, []byte(fmt.Sprintf("waiting: %v", err)))
	} else {
		b := binary.LittleEndian.AppendUint64(nil, uint64(ws))
		z.answer(msgExit, j.id, binary.LittleEndian.AppendUint64(b, uint64(ru.Maxrss)))
	}
	unix.Close(j.pidfd) // which takes it out of the epoll set
	if j.slot != nil {
		z.release(j.slot)
	}
}

// answer sends bld one message about command id; errors are ignored (bld
// is gone: the next receive sees EOF). Each message is one datagram: the
// threads' messages do not mix.
func (z *zserver) answer(kind byte, id uint64, body []byte) {
	b := append(appendMsg(make([]byte, 0, msgHeader+len(body)), kind, id), body...)
	for unix.Sendmsg(z.ctl, b, nil, nil, unix.MSG_NOSIGNAL) == unix.EINTR {
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

// start makes the command's mount namespace for req on this thread (or
// enters a slot's), starts the command with the descriptors files (the
// output, its stdout and stderr, then the extra files; stdin /dev/null), and takes the thread back to the zygote's mount namespace.
// It returns the command's pid, a pidfd of it, and the slot it runs in,
// if any (also when err is set: the slot is free again). fatal is set
// when the thread could not go back: the zygote must then stop (its next
// command would see this one's mounts).
func (z *zserver) start(req *zygoteRequest, files []int) (pid, pidfd int, sl *slot, err, fatal error) {
	view, viewFD, base, baseDir := viewNone, -1, -1, ""
	if z.view != "" && req.Plan.Root == z.view {
		view = viewMade
	}
	if need := planMounts(&req.Plan); view == viewMade && req.Pidns && need <= maxSlotMounts {
		if sl, fatal = z.takeSlot(need); fatal != nil {
			return 0, 0, nil, fatal, fatal
		}
		if sl != nil {
			sl.mounts += need
		}
	}
	if sl != nil {
		if err := unix.Setns(sl.ns, unix.CLONE_NEWNS); err != nil {
			z.dropSlot(sl)
			return 0, 0, nil, fmt.Errorf("entering a mount namespace: %w", err), nil
		}
		view, viewFD, base, baseDir = viewHidden, sl.view, sl.tmp, strconv.Itoa(sl.uses)
	} else if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return 0, 0, nil, fmt.Errorf("unshare(CLONE_NEWNS): %w", err), nil
	}
	// The command's namespace lives on in the command.
	defer func() {
		if serr := unix.Setns(z.home, unix.CLONE_NEWNS); serr != nil {
			fatal = fmt.Errorf("going back to the zygote's mount namespace: %w", serr)
		}
	}()
	if sl != nil {
		sl.uses++
	}
	if err := mountExecRoot(&req.Plan, view, viewFD, base, baseDir); err != nil {
		return 0, 0, sl, err, nil
	}
	// stdin /dev/null; stdout and stderr both the output, sent once;
	// then the extra files.
	pfiles := make([]uintptr, 0, 2+len(files))
	pfiles = append(pfiles, uintptr(z.null), uintptr(files[0]))
	for _, f := range files {
		pfiles = append(pfiles, uintptr(f))
	}
	pidfd = -1
	sys := &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd}
	if req.Pidns {
		z.mu.Lock()
		noProc := z.noProc
		z.mu.Unlock()
		if noProc != "" {
			return 0, 0, sl, errors.New(noProc), nil
		}
		sys.Cloneflags = syscall.CLONE_NEWPID
		sys.Pdeathsig = syscall.SIGKILL
		// Stopped at its exec, until privateProc has mounted its /proc.
		sys.Ptrace = true
	}
	pid, err = syscall.ForkExec(req.Path, req.Argv, &syscall.ProcAttr{Dir: FixedExecRoot, Env: req.Env, Files: pfiles, Sys: sys})
	if err != nil {
		return 0, 0, sl, fmt.Errorf("exec %s: %w", req.Argv[0], err), nil
	}
	if req.Pidns {
		if err := z.privateProc(pid, pidfd); err != nil {
			if pidfd >= 0 {
				unix.Close(pidfd)
			}
			return 0, 0, sl, err, nil
		}
	}
	if pidfd < 0 {
		// A kernel without CLONE_PIDFD (before 5.2).
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			unix.Kill(-pid, unix.SIGKILL)
			for {
				if _, werr := unix.Wait4(pid, nil, 0, nil); werr != unix.EINTR {
					break
				}
			}
			return 0, 0, sl, fmt.Errorf("no pidfd for the command: %w", err), nil
		}
	}
	return pid, pidfd, sl, nil, nil
}

// privateProc gives the command pid, just forked in a pid namespace of
// its own (whose pid 1 it is) and stopped at its exec by ptrace (so it has
// run none of its program's instructions), a /proc of that namespace, on
// /proc of its mount namespace (this thread's), and lets it run. Without
// it, /proc would be the zygote's, the host's: every process of the user
// in it, and through another action's command's /proc/<pid>/root and cwd,
// that command's exec root, whose inputs this command does not declare.
// A proc mount shows the pid namespace of the process that mounts it,
// unless told another one (the pidns option, Linux 6.15; the command's
// namespace from its pidfd, Linux 6.11): the command cannot mount it
// itself before its exec, as Go runs no code of ours between fork and
// exec. On error, the command is killed and reaped; if the kernel cannot
// do it, z.noProc says why and the zygote declines every command with a
// pid namespace from then on (the per-action helper, which is its
// namespace's init, mounts its /proc itself).
func (z *zserver) privateProc(pid, pidfd int) error {
	// The mount needs only the command's pid namespace, there since the
	// fork: it is made while the command finishes its exec, which the
	// wait below then seldom waits for.
	if err := mountProcOf(pidfd); err != nil {
		killReap(pid)
		if err, ok := err.(*procError); ok && err.kernel {
			z.mu.Lock()
			z.noProc = err.Error()
			z.mu.Unlock()
		}
		return err
	}
	var ws unix.WaitStatus
	for {
		// Raw (rawWait4): the longest wait of a start, for the rest of
		// the command's exec.
		err := rawWait4(pid, &ws, unix.WALL)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			killReap(pid)
			return fmt.Errorf("waiting for the command's exec: %w", err)
		}
	}
	if !ws.Stopped() {
		return fmt.Errorf("the command ended at its exec (wait status %#x)", int(ws))
	}
	if err := unix.PtraceDetach(pid); err != nil {
		killReap(pid)
		return fmt.Errorf("letting the command run: %w", err)
	}
	return nil
}

// killReap kills process pid, a child, and reaps it.
func killReap(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	for {
		if _, err := unix.Wait4(pid, nil, unix.WALL, nil); err != unix.EINTR {
			return
		}
	}
}

// A procError is why a /proc could not be mounted for a command; kernel
// says that the kernel lacks what it takes (every command would fail).
type procError struct {
	err    error
	kernel bool
}

func (e *procError) Error() string { return e.err.Error() }

// mountProcOf mounts, on /proc, a proc file system showing the pid
// namespace of the process pidfd refers to: nosuid, nodev, noexec, as the
// per-action helper mounts its own.
func mountProcOf(pidfd int) error {
	if pidfd < 0 {
		return &procError{errors.New("a private /proc needs pidfds (Linux 5.2)"), true}
	}
	ns, err := unix.IoctlRetInt(pidfd, unix.PIDFD_GET_PID_NAMESPACE)
	if err != nil {
		return &procError{fmt.Errorf("the command's pid namespace (PIDFD_GET_PID_NAMESPACE, Linux 6.11): %w", err), err == unix.ENOTTY || err == unix.EINVAL}
	}
	defer unix.Close(ns)
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return &procError{fmt.Errorf("a /proc for the command: fsopen: %w", err), err == unix.ENOSYS}
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFd(fs, "pidns", ns); err != nil {
		return &procError{fmt.Errorf("a /proc for the command's pid namespace (option pidns, Linux 6.15): %w", err), err == unix.EINVAL}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return &procError{fmt.Errorf("a /proc for the command: %w", err), err == unix.EPERM}
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return &procError{fmt.Errorf("a /proc for the command: fsmount: %w", err), false}
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &procError{fmt.Errorf("mounting the command's /proc: %w", err), err == unix.EPERM}
	}
	return nil
}

// planMounts is how many mounts a command of plan p makes in a slot:
// mountExecRoot's and its /proc.
func planMounts(p *mountPlan) int {
	return 2 + len(p.Outs) + len(p.Inputs)
}

// takeSlot returns a free slot with room for need more mounts, or a new
// one; nil if none can be made (the caller makes a namespace for the
// command alone). fatal is set when the thread could not go back to the
// zygote's namespace.
func (z *zserver) takeSlot(need int) (sl *slot, fatal error) {
	for {
		z.mu.Lock()
		n := len(z.free)
		if n == 0 {
			z.mu.Unlock()
			break
		}
		sl = z.free[n-1]
		z.free = z.free[:n-1]
		z.mu.Unlock()
		if sl.mounts+need <= maxSlotMounts {
			return sl, nil
		}
		z.dropSlot(sl)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, nil
	}
	defer func() {
		if err := unix.Setns(z.home, unix.CLONE_NEWNS); err != nil {
			fatal = fmt.Errorf("going back to the zygote's mount namespace: %w", err)
		}
	}()
	sl = &slot{ns: -1, tmp: -1}
	var err error
	if sl.view, err = unix.Open(z.view, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, nil
	}
	// The slot's tmpfs, on the workspace's path until step 5 covers it
	// (no other path leads to it then), reached through sl.tmp.
	if err := unix.Mount("tmpfs", z.view, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err == nil {
		sl.tmp, err = unix.Open(z.view, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil && hideWorkspace(z.view) == nil {
			sl.ns, err = unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
	}
	if sl.ns < 0 {
		z.dropSlot(sl)
		return nil, nil
	}
	return sl, nil
}

// release makes slot sl, whose command was reaped (or not started), free
// again, or tears it down if it was used maxSlotUses times.
func (z *zserver) release(sl *slot) {
	if sl.uses >= maxSlotUses || sl.mounts >= maxSlotMounts {
		z.dropSlot(sl)
		return
	}
	z.mu.Lock()
	z.free = append(z.free, sl)
	z.mu.Unlock()
}

// dropSlot tears a slot down: the last reference to its namespace goes.
// The close of that reference is the teardown (an unmount of every mount
// of the slot, some waiting for an RCU grace period: up to milliseconds),
// so it is raw (see rawWait4).
func (z *zserver) dropSlot(sl *slot) {
	for _, fd := range []int{sl.ns, sl.view, sl.tmp} {
		if fd >= 0 {
			unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
		}
	}
}

// rawWait4 is wait4(2) without rusage, made without telling the Go runtime
// that the thread is in a system call (a raw one), as the serving threads'
// longest system calls are (this one in privateProc, a slot's teardown in
// dropSlot). A serving goroutine is never rescheduled, so its P's
// scheduling tick never moves: when the runtime's monitor (sysmon) finds a
// P on the same tick for 10 ms and its thread in a system call the runtime
// knows of, it takes the P away (the thread then gets another on its
// return) and, having taken one, polls every 20 µs for a millisecond
// before it backs off again: ~60 wake-ups of sysmon each time. Found in a
// raw one, the thread is only signalled, as it is in its raw waits
// (epollWaitRaw). A raw call delays a stop of the world (a garbage
// collection's) until it returns: these two are bounded (the end of an
// exec; a teardown), as the exec's own vfork, raw in Go's ForkExec, is.
func rawWait4(pid int, ws *unix.WaitStatus, options int) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(ws)), uintptr(options), 0, 0, 0)
	if errno != 0 {
		return errno
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
