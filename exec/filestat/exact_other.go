//go:build !linux

package filestat

// ExactCtimeDevice reports false: only Linux's multigrain timestamps are
// known to make a stamp exact (see the Linux version).
func ExactCtimeDevice(dir string) (dev uint64, ok bool) { return 0, false }
