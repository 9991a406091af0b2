package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// tmpPrefix starts the name of every temporary file; tmpMaxAge is the age
// after which a scan takes one as abandoned (its writer was killed before
// the rename) and removes it.
const (
	tmpPrefix = ".tmp-"
	tmpMaxAge = time.Hour
)

// WriteFileAtomic writes data to the file name with mode perm through a
// temporary file in name's directory and a rename, creating the directory
// if needed, so that name is never seen incomplete. On failure, name is
// unchanged and no temporary file is left.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	return WriteFileVia(name, "", data, perm)
}

// WriteFileVia is WriteFileAtomic with the temporary file in tmpDir
// (created if missing; it must be on name's file system), or in name's
// directory when tmpDir is "": a process killed while writing leaves its
// ".tmp-*" file there, so a caller that can empty a directory of its own
// at a quiet moment passes one.
func WriteFileVia(name, tmpDir string, data []byte, perm fs.FileMode) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(name)
	}
	f, err := createTemp(tmpDir)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commit(f, name, perm)
}

// createTemp creates a temporary file in dir, creating dir if needed.
func createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
	}
	return f, err
}

// commit closes the temporary file f, gives it mode perm and renames it to
// name (creating name's directory if needed); on any failure it removes f.
func commit(f *os.File, name string, perm fs.FileMode) error {
	err := f.Close()
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(name), 0o777); err == nil {
				err = os.Rename(f.Name(), name)
			}
		}
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
