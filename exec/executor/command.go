package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"bld/exec/graph"
)

// waitDelay bounds how long Wait keeps reading the output pipe after the
// command's process ended (or was killed), in case a stray descendant that
// left the process group still holds it open.
const waitDelay = 5 * time.Second

// commandResult is what running one command produced.
type commandResult struct {
	output   []byte
	exitCode int
	err      error
}

// runCommand runs a's command with the workspace root as working directory,
// exactly a.Env as environment, stdin from /dev/null and stdout and stderr
// captured into one buffer. It holds no token itself: the caller acquired one
// and releases it once runCommand returns, when the process has ended.
//
// The command runs in its own process group. When ctx is done, the whole
// group is killed with SIGKILL at once, not SIGTERM then SIGKILL: a killed
// action's outputs are deleted anyway, so nothing is gained by letting tools
// clean up, and the group is signalled while its leader is not yet reaped,
// so its process group ID cannot have been reused.
//
// processDir, if not empty, is where the running process group is recorded
// (see KillLeftovers).
func runCommand(ctx context.Context, root, processDir string, tokens TokenPool, a *graph.Action) commandResult {
	path, err := lookPath(root, a.Argv[0], a.Env)
	if err != nil {
		return commandResult{exitCode: -1, err: err}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = a.Argv
	cmd.Env = append([]string{}, a.Env...) // never nil: nil would mean bld's environment
	cmd.Dir = root
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = &out
	cmd.Stderr = &out // the same writer: one pipe, interleaved as written
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	if a.Jobserver {
		detach, err := tokens.AttachJobserver(cmd)
		if err != nil {
			return commandResult{exitCode: -1, err: fmt.Errorf("giving the jobserver to %s: %w", a.Argv[0], err)}
		}
		defer detach()
	}
	if err := cmd.Start(); err != nil {
		return commandResult{exitCode: -1, err: fmt.Errorf("starting %s: %w", a.Argv[0], err)}
	}
	untrack := trackGroup(processDir, cmd.Process.Pid)
	werr := cmd.Wait()
	untrack()
	res := commandResult{output: out.Bytes(), exitCode: cmd.ProcessState.ExitCode()}
	switch {
	case ctx.Err() != nil && res.exitCode != 0:
		res.err = fmt.Errorf("killed: %w", context.Cause(ctx))
	case res.exitCode > 0:
		res.err = fmt.Errorf("command exited with status %d", res.exitCode)
	case res.exitCode < 0:
		res.err = fmt.Errorf("command terminated: %v", cmd.ProcessState)
	case werr != nil && !errors.Is(werr, exec.ErrWaitDelay):
		res.err = fmt.Errorf("waiting for %s: %w", a.Argv[0], werr)
	}
	return res
}

// lookPath resolves argv0 the way a shell with environment env would: a name
// with a slash is a path relative to the workspace root; a bare name is
// searched in env's PATH (relative entries taken from the root), never in
// bld's own PATH.
//
// A relative name stays relative (the process starts in root, so it names
// the same file): a script run by path sees it as $0, and an absolute path
// there would put the checkout's location into outputs.
func lookPath(root, argv0 string, env []string) (string, error) {
	if argv0 == "" {
		return "", errors.New("empty command name")
	}
	if strings.Contains(argv0, "/") {
		p := argv0
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("command %s: %w", argv0, err)
		}
		return argv0, nil
	}
	pathVar, ok := "", false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			pathVar, ok = v, true
		}
	}
	if !ok {
		return "", fmt.Errorf("command %s not found: the action's environment has no PATH", argv0)
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		p := filepath.Join(dir, argv0)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s not found in the action's PATH=%s", argv0, pathVar)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: %w", p, fs.ErrPermission)
	}
	return nil
}
