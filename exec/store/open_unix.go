//go:build unix

package store

import (
	"io/fs"
	"os"
	"syscall"
)

// openTemp creates the file name, which must not exist, for reading and
// writing, with mode perm (less the umask). It opens it with open(2) and
// os.NewFile rather than os.OpenFile, which tries to add every file to the
// runtime's poller (refused for regular files) and switches it to
// non-blocking mode and back: four system calls per file for nothing, and
// the store and a restore create a file per blob or output.
func openTemp(name string, perm fs.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// absent reports whether nothing is at name (lstat says ENOENT), without
// os.Lstat's allocations: most lookups of an entry file in a store that
// packs its entries find none.
func absent(name string) bool {
	var st syscall.Stat_t
	for {
		err := syscall.Lstat(name, &st)
		if err != syscall.EINTR {
			return err == syscall.ENOENT
		}
	}
}
