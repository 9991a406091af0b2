//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"os/exec"
)

// A Started is a command the zygote started; there is none here.
type Started struct{ Pid int }

// Wait is never called: StartZygote always fails here.
func (s *Started) Wait() (int, string, int64, error) { return -1, "", 0, errors.New("no zygote") }

// StartZygote fails: the zygote needs Linux namespaces.
func (e *ExecRoot) StartZygote(ctx context.Context, cmd *exec.Cmd, out int, ended func()) (*Started, error) {
	return nil, errors.New("mount namespaces exist only on Linux")
}

// zygote is nothing: there is no zygote here.
type zygote struct{}

func newZygote(string) zygote { return zygote{} }

func (*zygote) stop() {}

func (*zygote) warm() {}

func (*zygote) onStartFailure(func()) {}
