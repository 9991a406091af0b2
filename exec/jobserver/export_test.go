package jobserver

import (
	"os"

	"golang.org/x/sys/unix"
)

// childDescriptorsForTest opens a description of the fifo as a child
// would, non-blocking so that the test can use deadlines.
func (p *Pool) childDescriptorsForTest() (*os.File, error) {
	p.mu.Lock()
	err := p.openLocked()
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(p.reopen, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "child"), nil
}
