//go:build !unix

package store

import (
	"errors"
	"io/fs"
	"os"
)

// openTemp creates the file name, which must not exist, for reading and
// writing, with mode perm (less the umask).
func openTemp(name string, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
}

// absent reports whether nothing is at name.
func absent(name string) bool {
	_, err := os.Lstat(name)
	return errors.Is(err, fs.ErrNotExist)
}
