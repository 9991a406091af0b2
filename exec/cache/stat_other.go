//go:build !(linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly)

package cache

import "os"

// inodeCtime returns 0s where the system has no inode or ctime to offer;
// the memo then relies on size and modification time.
func inodeCtime(fi os.FileInfo) (uint64, int64) { return 0, 0 }

// statStamp stats path, following symbolic links, and returns its stamp
// and whether it is a regular file.
func statStamp(path string) (stamp, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, false, err
	}
	return stampOf(fi), fi.Mode().IsRegular(), nil
}
