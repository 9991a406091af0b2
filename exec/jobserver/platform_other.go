//go:build !linux

package jobserver

import "golang.org/x/sys/unix"

// fionread is the ioctl that counts the bytes waiting in a pipe.
const fionread = unix.FIONREAD

// othersHold cannot tell without /proc; the pool then relies on its own
// count of attached children.
func othersHold(path string) bool { return false }
