package store

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tmpPrefix starts the name of every temporary file of the store, and of
// WriteFileAtomic's; tmpMaxAge is the age after which a scan of the store
// takes one as abandoned (its writer was killed before the rename) and
// removes it.
const (
	tmpPrefix = ".tmp-"
	tmpMaxAge = time.Hour
)

// RemoveAbandonedTemps removes the temporary files WriteFileAtomic (and
// the other writers with no temporary directory of their own) left directly
// in dir when their process was killed before the rename, and returns how
// many it removed. The caller must know that no live writer uses dir (it
// holds the lock of whatever owns dir); a missing dir holds none.
func RemoveAbandonedTemps(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// OutputTempPrefix starts the name of the temporary files that Restore
// and WriteOutput create beside the file they write (in a workspace's
// output directories, not in the store): a dot file, which shell globs,
// ls and bld's globs pass over, with a name that says whose it is, so
// that the owner of those directories can remove what a killed process
// left there (see exec/cache's RemoveTemps) and never mistake one for a
// file of its own.
const OutputTempPrefix = ".bld-tmp-"

// WriteFileAtomic writes data to the file name with mode perm (less the
// umask) through a temporary file in name's directory and a rename,
// creating the directory if needed, so that name is never seen incomplete.
// On failure, name is unchanged and no temporary file is left.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	return WriteFileVia(name, "", data, perm)
}

// WriteFileVia is WriteFileAtomic with the temporary file in tmpDir
// (created if missing; it must be on name's file system), or in name's
// directory when tmpDir is "": a process killed while writing leaves its
// ".tmp-*" file there, so a caller that can empty a directory of its own
// at a quiet moment passes one.
func WriteFileVia(name, tmpDir string, data []byte, perm fs.FileMode) error {
	return WriteFileFrom(name, tmpDir, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFrom is WriteFileVia with the content written by write, for
// content too large to hold in memory at once.
func WriteFileFrom(name, tmpDir string, perm fs.FileMode, write func(io.Writer) error) error {
	if tmpDir == "" {
		tmpDir = filepath.Dir(name)
	}
	f, err := createTemp(tmpDir, tmpPrefix, perm)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commit(f, name)
}

// WriteOutput writes data to the file name with mode perm (less the
// umask), replacing it atomically, as Restore does for a blob: through a
// temporary file ".bld-tmp-*" (OutputTempPrefix) in tmpDir (created if
// missing; it must be on name's file system), or in name's own directory
// when tmpDir is "", renamed into place. It creates name's directory if
// needed, and returns what stat says of name as written (after the
// rename, which changes its status-change time). On failure, name is
// unchanged and no temporary file is left; a process killed in between
// leaves its temporary file.
//
// A temporary file beside name is renamed within its directory, which
// takes that directory's lock only; one in another directory takes the
// file system's rename lock too, and a directory that every write goes
// through makes concurrent writers wait for each other.
func WriteOutput(name, tmpDir string, data []byte, perm fs.FileMode) (os.FileInfo, error) {
	if tmpDir == "" {
		tmpDir = filepath.Dir(name)
	}
	f, err := createTemp(tmpDir, OutputTempPrefix, perm)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := commit(f, name); err != nil {
		return nil, err
	}
	return os.Stat(name)
}

// createTemp creates a temporary file, named prefix and a random suffix,
// with mode perm (less the umask) in dir, creating dir if needed. The file
// is created with its final mode, so that committing it takes a rename and
// no chmod: on a loaded machine each metadata operation costs (a file
// creation alone can take a millisecond), and the store makes several per
// action.
func createTemp(dir, prefix string, perm fs.FileMode) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := openTemp(name, perm)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			f, err = openTemp(name, perm)
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "createtemp", Path: dir, Err: fs.ErrExist}
}

// commit closes the temporary file f and renames it to name (creating
// name's directory if needed); on any failure it removes f.
func commit(f *os.File, name string) error {
	err := f.Close()
	if err == nil {
		err = renameFile(f.Name(), name)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(name), 0o777); err == nil {
				err = renameFile(f.Name(), name)
			}
		}
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// renameFile renames the file oldname to newname, replacing newname, with
// one rename(2): os.Rename first stats newname (to refuse replacing a
// directory, which rename(2) refuses too for a file), a system call per
// file the store writes.
func renameFile(oldname, newname string) error {
	if err := syscall.Rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}
