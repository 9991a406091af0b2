package jobserver

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// fionread is the ioctl that counts the bytes waiting in a pipe.
const fionread = unix.TIOCINQ

// othersHold reports whether a process other than this one has path open,
// by reading the descriptor links in /proc. Processes whose descriptors
// cannot be read (other users) are skipped: they cannot open bld's
// private fifo. Without /proc it reports false.
func othersHold(path string) bool {
	if path == "" {
		return false
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	self := os.Getpid()
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		dir := "/proc/" + e.Name() + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/" + fd.Name())
			if err == nil && strings.TrimSuffix(target, " (deleted)") == path {
				return true
			}
		}
	}
	return false
}
