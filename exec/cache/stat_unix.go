//go:build linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly

package cache

import (
	"os"
	"syscall"
)

// inodeCtime returns fi's inode number and status-change time (Unix ns).
func inodeCtime(fi os.FileInfo) (uint64, int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Ino), ctimeNs(st)
}
