//go:build linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly

package cache

import (
	"os"
	"syscall"

	"bld/exec/filestat"
)

// statStamp stats path, following symbolic links, and returns its stamp
// (stampOf's) and whether it is a regular file, without the allocations of
// os.Stat: a no-op build stats every file of the build, some several
// times.
func statStamp(path string) (stamp, bool, error) {
	var st syscall.Stat_t
	var err error
	for {
		if err = syscall.Stat(path, &st); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return stamp{}, false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return stamp{size: st.Size, mtime: filestat.MtimeNs(&st), ctime: filestat.CtimeNs(&st), ino: uint64(st.Ino), exec: st.Mode&0o111 != 0},
		st.Mode&syscall.S_IFMT == syscall.S_IFREG, nil
}
