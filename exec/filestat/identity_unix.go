//go:build linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly

package filestat

import (
	"io/fs"
	"syscall"
)

// Identity returns what a stat says of fi beyond its size and modification
// time: the device and inode that name the file, and its status-change
// time (Unix ns), which every write and rename of it moves. It returns
// zeros when fi carries no system stat.
func Identity(fi fs.FileInfo) (dev, ino uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino), CtimeNs(st)
}
