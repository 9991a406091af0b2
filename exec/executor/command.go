package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/sandbox"
)

// waitDelay bounds how long Wait keeps reading the output pipe after the
// command's process ended (or was killed), in case a stray descendant that
// left the process group still holds it open.
const waitDelay = 5 * time.Second

// ErrTimedOut is the error of an action whose command ran past its
// Timeout (a test's): it was killed.
var ErrTimedOut = errors.New("timed out")

// commandResult is what running one command produced.
type commandResult struct {
	output   []byte
	exitCode int
	err      error
	// maxRSS is the peak resident set size, in bytes, of the command's
	// largest process among it and the descendants it waited for
	// (wait4's ru_maxrss); 0 if unknown.
	maxRSS int64
}

// A runner runs the commands of one Run: what every command shares.
type runner struct {
	root    string        // the workspace
	journal *groupJournal // the running process groups (see KillLeftovers)
	// logDir, if not empty, is where an output too long to keep in
	// memory is written whole (boundedOutput).
	logDir string
	tokens TokenPool
	// null is a descriptor of /dev/null, every command's stdin, opened
	// once (close closes it); -1 when it could not be opened.
	null int
	// bufs holds buffers (*[]byte) to read commands' output with.
	bufs sync.Pool
	// reaper waits for the commands started here, all on one goroutine.
	reaper reaper
}

// newRunner returns the runner of a Run; close it when no command runs.
func newRunner(root string, journal *groupJournal, logDir string, tokens TokenPool) *runner {
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		null = -1
	}
	r := &runner{root: root, journal: journal, logDir: logDir, tokens: tokens, null: null}
	r.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	return r
}

// close releases what the runner holds.
func (r *runner) close() {
	if r.null >= 0 {
		syscall.Close(r.null)
		r.null = -1
	}
	r.reaper.close()
}

// run runs a's command in the exec root xr, or with the workspace root as
// working directory when xr is nil, exactly a.Env as environment, stdin
// from /dev/null and stdout and stderr captured into one buffer. prog, if
// not nil, is the program a.Argv[0] resolved to when a's key was computed
// (Check.Program): that file is the one started, so that the command run
// is the one keyed; nil resolves it here (an action not looked up in the
// cache). run holds no token itself: the caller acquired one and releases
// it once run returns, when the process has ended.
//
// The command runs in its own process group. When ctx is done, the whole
// group is killed with SIGKILL at once, not SIGTERM then SIGKILL: a killed
// action's outputs are deleted anyway, so nothing is gained by letting tools
// clean up, and the group is signalled while its leader is not yet reaped,
// so its process group ID cannot have been reused.
func (r *runner) run(ctx context.Context, a *graph.Action, prog *program.Program, xr *sandbox.ExecRoot) commandResult {
	if a.Timeout() > 0 {
		// The command's own deadline: when it passes, the group is
		// killed as on Ctrl-C, and the error says it timed out.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.Timeout(), ErrTimedOut)
		defer cancel()
	}
	if r.null < 0 {
		return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: no %s", a.Argv[0], os.DevNull)}
	}
	cmd, err := newCommand(ctx, r.root, a, prog, xr)
	if err != nil {
		return commandResult{exitCode: -1, err: err}
	}
	// One pipe for stdout and stderr, interleaved as written, read here
	// rather than by os/exec: so that the wait ends when the command's
	// main process ends, whatever its background children do with the
	// pipe.
	rd, w, err := outputPipe(xr != nil)
	if err != nil {
		return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
	}
	closeRd := func() { syscall.Close(rd) }
	defer func() { closeRd() }()
	closeW := func() { syscall.Close(w) }
	if a.Jobserver {
		detach, err := r.tokens.AttachJobserver(cmd, a.Argv, a.JobserverStyle())
		if err != nil {
			closeW()
			return commandResult{exitCode: -1, err: fmt.Errorf("giving the jobserver to %s: %w", a.Argv[0], err)}
		}
		defer detach()
	}
	// In the namespace sandbox, the zygote starts the command if it can;
	// else (or with no sandbox) it is started here.
	var zp *sandbox.Started
	var rf *os.File
	if xr != nil {
		// Read through the runtime's poller, by this goroutine, which
		// the zygote's answer, read by another, wakes (ended: a
		// deadline passed).
		rf = os.NewFile(uintptr(rd), "|0")
		closeRd = func() { rf.Close() }
		ended := func() { rf.SetReadDeadline(time.Now()) }
		zp, _ = xr.StartZygote(ctx, cmd, w, ended)
	}
	out := &boundedOutput{logDir: r.logDir, outputs: a.Outputs}
	var res commandResult
	var werr error
	var ws syscall.WaitStatus
	var ru *syscall.Rusage
	state := ""
	buf := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(buf)
	if zp != nil {
		// Started by the zygote, with a copy of the pipe's writing
		// end. This goroutine copies the output until the zygote
		// says the command ended (or it could not start it): then it
		// closes bld's writing end, and reads what is left, until EOF
		// or for waitDelay at most (a process that left the command's
		// group may hold the pipe). So it is woken once per command
		// in the common case, when the answer comes, not also when the
		// command's end closes its copy. The zygote kills what the
		// command left in its group, and the group on Ctrl-C or a
		// timeout (ctx). It tells the pid of a command that may
		// outlive it (no pid namespace).
		untrack := func() {}
		if zp.Pid > 0 {
			untrack = r.journal.track(zp.Pid)
		}
		wOpen := true
		for {
			n, err := rf.Read(*buf)
			out.Write((*buf)[:n])
			if err == nil {
				continue
			}
			if wOpen && errors.Is(err, os.ErrDeadlineExceeded) {
				closeW()
				wOpen = false
				rf.SetReadDeadline(time.Now().Add(waitDelay))
				continue
			}
			break
		}
		if wOpen { // the pipe failed: not a deadline of ended's
			closeW()
		}
		res.exitCode, state, res.maxRSS, werr = zp.Wait()
		untrack()
		if errors.Is(werr, sandbox.ErrNotStarted) && ctx.Err() == nil {
			// The zygote could not start it: the per-action helper
			// runs it (and says why it cannot run, if so), with an
			// output pipe of its own.
			zp, werr = nil, nil
			rf.Close()
			if rd, w, err = outputPipe(false); err != nil {
				closeRd = func() {}
				return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
			}
			closeRd = func() { syscall.Close(rd) }
			closeW = func() { syscall.Close(w) }
		}
	}
	if zp == nil {
		// Started here: this goroutine copies the output and waits.
		p, err := startProcess(ctx, cmd, r.null, w)
		closeW() // the command's copy is the only one now
		if err != nil {
			return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
		}
		untrack := r.journal.track(p.pid)
		var ok bool
		ws, ru, werr, ok = r.reaper.wait(p, rd, out, *buf)
		if !ok {
			ws, ru, werr = p.wait(rd, out, *buf)
		}
		untrack()
	}
	if zp == nil {
		if werr == nil {
			res.exitCode = exitCode(ws)
			if res.exitCode < 0 {
				state = stateOf(ws) // said only when a signal ended it
			}
			res.maxRSS = int64(ru.Maxrss) * 1024 // Linux reports KiB
		} else {
			res.exitCode = -1
		}
	}
	res.output = out.Bytes()
	switch {
	case ctx.Err() != nil && res.exitCode != 0 && errors.Is(context.Cause(ctx), ErrTimedOut):
		res.err = fmt.Errorf("%w after %s: killed", ErrTimedOut, a.Timeout())
	case ctx.Err() != nil && res.exitCode != 0:
		res.err = fmt.Errorf("killed: %w", context.Cause(ctx))
	case zp != nil && werr != nil:
		res.err = werr
	case werr != nil:
		res.err = fmt.Errorf("waiting for %s: %w", a.Argv[0], werr)
	case res.exitCode > 0:
		res.err = fmt.Errorf("command exited with status %d", res.exitCode)
	case res.exitCode < 0:
		res.err = fmt.Errorf("command terminated: %v", state)
	}
	return res
}

// exitCode is the exit code of a process that ended with ws: -1 if a
// signal killed it.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Exited() {
		return ws.ExitStatus()
	}
	return -1
}

// stateOf says how a process that ended with ws ended, as
// os.ProcessState.String does.
func stateOf(ws syscall.WaitStatus) string {
	var s string
	switch {
	case ws.Exited():
		s = "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s = "signal: " + ws.Signal().String()
	default:
		s = fmt.Sprintf("wait status %#x", int(ws))
	}
	if ws.CoreDump() {
		s += " (core dumped)"
	}
	return s
}

// newCommand prepares a's command: in the exec root xr when it is not nil,
// else in root. Path, Args, Env (a.Env, not to be modified in place: the
// jobserver appends to it, which copies), Dir and SysProcAttr (its own
// process group) are set. prog is as for runner.run.
func newCommand(ctx context.Context, root string, a *graph.Action, prog *program.Program, xr *sandbox.ExecRoot) (*exec.Cmd, error) {
	if prog == nil {
		p, err := program.Find(root, a.Argv[0], a.Env)
		if err != nil {
			return nil, err
		}
		prog = &p
	}
	if xr != nil {
		xr.DeferInputList() // run tries StartZygote first
		return xr.CommandOf(ctx, a, *prog)
	}
	return &exec.Cmd{
		Path:        prog.Path,
		Args:        a.Argv,
		Env:         a.Env[:len(a.Env):len(a.Env)],
		Dir:         root,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}, nil
}
