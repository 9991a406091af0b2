//go:build !(linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly)

package cache

import "os"

// statStamp stats path, following symbolic links, and returns its stamp
// and whether it is a regular file.
func statStamp(path string) (stamp, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, false, err
	}
	return stampOf(fi), fi.Mode().IsRegular(), nil
}
