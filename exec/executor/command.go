package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"bld/exec/crash"
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

// runCommand runs a's command in the exec root xr, or with the workspace root
// as working directory when xr is nil, exactly a.Env as environment, stdin from /dev/null and stdout and stderr
// captured into one buffer. It holds no token itself: the caller acquired one
// and releases it once runCommand returns, when the process has ended.
//
// The command runs in its own process group. When ctx is done, the whole
// group is killed with SIGKILL at once, not SIGTERM then SIGKILL: a killed
// action's outputs are deleted anyway, so nothing is gained by letting tools
// clean up, and the group is signalled while its leader is not yet reaped,
// so its process group ID cannot have been reused.
//
// journal records the running process group (see KillLeftovers). logDir, if not empty, is where an output too long to
// keep in memory is written whole (boundedOutput).
func runCommand(ctx context.Context, root string, journal *groupJournal, logDir string, tokens TokenPool, a *graph.Action, xr *sandbox.ExecRoot) commandResult {
	if a.Timeout > 0 {
		// The command's own deadline: when it passes, the group is
		// killed as on Ctrl-C, and the error says it timed out.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, a.Timeout, ErrTimedOut)
		defer cancel()
	}
	cmd, err := newCommand(ctx, root, a, xr)
	if err != nil {
		return commandResult{exitCode: -1, err: err}
	}
	// One pipe for stdout and stderr, interleaved as written, read here
	// rather than by os/exec: so that Wait returns when the command's main
	// process ends, whatever its background children do with the pipe.
	r, w, err := os.Pipe()
	if err != nil {
		return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
	}
	defer r.Close()
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if a.Jobserver {
		detach, err := tokens.AttachJobserver(cmd, a.Argv, a.JobserverStyle)
		if err != nil {
			w.Close()
			return commandResult{exitCode: -1, err: fmt.Errorf("giving the jobserver to %s: %w", a.Argv[0], err)}
		}
		defer detach()
	}
	// In the namespace sandbox, the zygote starts the command if it can;
	// else (or with no sandbox) it is started here.
	var zp *sandbox.Started
	if xr != nil {
		zp, _ = xr.StartZygote(ctx, cmd)
	}
	if zp == nil {
		err = cmd.Start()
	}
	w.Close() // the command's copy is the only one now
	if err != nil {
		return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
	}
	out := &boundedOutput{logPath: logPathFor(logDir, a.Outputs)}
	copied := make(chan struct{})
	crash.Go(func() {
		defer close(copied)
		io.Copy(out, r)
	})
	var res commandResult
	var werr error
	state := ""
	if zp != nil {
		// The zygote kills what the command left in its group, and the
		// group on Ctrl-C or a timeout (ctx).
		untrack := journal.track(zp.Pid)
		res.exitCode, state, res.maxRSS, werr = zp.Wait()
		untrack()
	} else {
		untrack := journal.track(cmd.Process.Pid)
		// When the main process has ended, but before it is reaped (so that
		// its process group ID cannot be reused), kill what it left running in
		// its group: an action is over when its command is, as in Bazel.
		early := exitedUnreaped(cmd.Process.Pid)
		if early {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		werr = cmd.Wait()
		if !early {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // best effort
		}
		untrack()
		res.exitCode, state = cmd.ProcessState.ExitCode(), cmd.ProcessState.String()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSS = int64(ru.Maxrss) * 1024 // Linux reports KiB
		}
	}
	// Descendants that left the group may still hold the pipe: read what
	// comes within waitDelay, no more.
	r.SetReadDeadline(time.Now().Add(waitDelay))
	<-copied
	res.output = out.Bytes()
	switch {
	case ctx.Err() != nil && res.exitCode != 0 && errors.Is(context.Cause(ctx), ErrTimedOut):
		res.err = fmt.Errorf("%w after %s: killed", ErrTimedOut, a.Timeout)
	case ctx.Err() != nil && res.exitCode != 0:
		res.err = fmt.Errorf("killed: %w", context.Cause(ctx))
	case zp != nil && werr != nil:
		res.err = werr
	case res.exitCode > 0:
		res.err = fmt.Errorf("command exited with status %d", res.exitCode)
	case res.exitCode < 0:
		res.err = fmt.Errorf("command terminated: %v", state)
	case werr != nil:
		res.err = fmt.Errorf("waiting for %s: %w", a.Argv[0], werr)
	}
	return res
}

// newCommand prepares a's command: in the exec root xr when it is not nil,
// else in root. Path, Args, Env (a copy of a.Env: never nil, which would
// mean bld's environment), Dir and SysProcAttr (its own process group) are
// set.
func newCommand(ctx context.Context, root string, a *graph.Action, xr *sandbox.ExecRoot) (*exec.Cmd, error) {
	if xr != nil {
		xr.DeferInputList() // runCommand tries StartZygote first
		return xr.Command(ctx, a)
	}
	prog, err := program.Find(root, a.Argv[0], a.Env)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, prog.Path)
	cmd.Args = a.Argv
	cmd.Env = append([]string{}, a.Env...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}
