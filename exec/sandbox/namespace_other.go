//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"os/exec"
	"syscall"

	"bld/exec/graph"
)

// Main does nothing where there is no namespace helper.
func Main() {}

func newProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func probeNamespace(ctx context.Context, root string, pidns bool) error {
	return errors.New("mount namespaces exist only on Linux")
}

func namespaceCommand(ctx context.Context, exe, planFile, path string, a *graph.Action, pidns bool) (*exec.Cmd, error) {
	return nil, errors.New("mount namespaces exist only on Linux")
}

// emptyDir is never called: there is no output directory pool here
// (ModeNamespace only).
func emptyDir(d string) bool { return false }
