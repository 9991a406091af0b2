//go:build unix

package regfile

import (
	"errors"
	"syscall"
)

// openFlags returns the flags Open adds to O_RDONLY: O_NONBLOCK, so that
// opening a FIFO or a device that replaced a checked file does not wait,
// and O_NOFOLLOW unless follow.
func openFlags(follow bool) int {
	if follow {
		return syscall.O_NONBLOCK
	}
	return syscall.O_NONBLOCK | syscall.O_NOFOLLOW
}

// isLoop reports whether err is open's error for a symbolic link opened
// with O_NOFOLLOW.
func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }
