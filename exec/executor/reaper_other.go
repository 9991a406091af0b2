//go:build !linux

package executor

import (
	"io"
	"syscall"
)

// A reaper waits for the runner's commands on one goroutine where the
// system allows it (Linux: reaper_linux.go); here it takes none.
type reaper struct{}

// wait takes no command here: ok is false.
func (r *reaper) wait(p *process, rd int, out io.Writer, buf []byte) (ws syscall.WaitStatus, ru *syscall.Rusage, err error, ok bool) {
	return 0, nil, nil, false
}

// close does nothing here.
func (r *reaper) close() {}
