package build

import "golang.org/x/sys/unix"

// fsTopDirFlag is FS_TOPDIR_FL of linux/fs.h (chattr's T), which
// golang.org/x/sys/unix does not name.
const fsTopDirFlag = 0x00020000

// markTopDir sets the top-of-hierarchy flag on the directory dir, where
// its file system keeps such a flag; it is a placement hint, so any error
// (ENOTTY, EOPNOTSUPP: the file system has no such flag) leaves dir as it
// was.
func markTopDir(dir string) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopDirFlag != 0 {
		return
	}
	unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFlag))
}

// topDirMarked reports whether dir has the top-of-hierarchy flag, and
// whether its file system says (for tests).
func topDirMarked(dir string) (marked, known bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return false, false
	}
	return flags&fsTopDirFlag != 0, true
}
