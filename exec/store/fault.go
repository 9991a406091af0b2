package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// A Fault is an error of the store's directory itself, not of what the
// caller gave or asked for: the directory cannot be read or written
// (permissions, a read-only or full file system, a broken disk), or holds
// a directory or other non-file where a blob or entry should be. The
// store is an optimization: a caller should take a Fault as a miss (when
// reading) or as nothing stored (when writing), say so, and go on. Errors
// of the caller's files (the file PutFile reads, the destination Restore
// writes) are never Faults.
type Fault struct {
	Op   string // what the store was doing: "read", "write", ...
	Path string // the file or directory of the store concerned
	Err  error
}

func (f *Fault) Error() string {
	return fmt.Sprintf("cache %s %s: %v", f.Op, f.Path, f.Err)
}

func (f *Fault) Unwrap() error { return f.Err }

// IsFault reports whether err is, or wraps, a Fault.
func IsFault(err error) bool {
	var f *Fault
	return errors.As(err, &f)
}

// errNotFile is the Err of a Fault for a non-file where a file should be.
var errNotFile = errors.New("not a regular file")

// fault returns err as a Fault of op on path, or nil if err is nil. A
// *fs.PathError's own path and operation are dropped, as path and op say
// the same.
func fault(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return &Fault{Op: op, Path: path, Err: err}
}

// causedBy reports whether err is an error of the file name (an
// *fs.PathError naming it), so that a failed copy can be blamed on its
// source or its destination.
func causedBy(err error, name string) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Path == name
}
