// Package regfile opens files that must be regular files without ever
// blocking: opening a FIFO for reading waits for a writer, and opening a
// device can wait or have effects, so a path is checked with lstat (or
// stat) before it is opened, opened with O_NONBLOCK (which closes the race
// between the check and the open), and the opened file is checked again
// with fstat before anything is read. Reads of a regular file ignore
// O_NONBLOCK.
package regfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// A NotRegularError says that a path that must be a regular file is
// something else.
type NotRegularError struct {
	Path string
	Mode fs.FileMode // the type bits say what it is
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s)", e.Path, Kind(e.Mode))
}

// Kind names the type of a file of mode for people, with an article: "a
// regular file", "a directory", "a symbolic link", "a FIFO", "a socket",
// "a character device", "a block device", or "an irregular file".
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode&fs.ModeDir != 0:
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "an irregular file"
	}
}

// Open opens the regular file name for reading and returns it with what
// fstat says of it. It never blocks on a FIFO or a device: anything but a
// regular file is a *NotRegularError, found before it is opened where
// possible and always before it is read. If follow is false, a symbolic
// link at name is a *NotRegularError too (where the system has
// O_NOFOLLOW, also one that appears between the check and the open);
// else it is followed. Other errors are those of lstat, stat and open
// (*fs.PathError).
func Open(name string, follow bool) (*os.File, fs.FileInfo, error) {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(name)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: name, Mode: fi.Mode()}
	}
	f, err := os.OpenFile(name, os.O_RDONLY|openFlags(follow), 0)
	if err != nil {
		if isLoop(err) {
			return nil, nil, &NotRegularError{Path: name, Mode: fs.ModeSymlink}
		}
		return nil, nil, err
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: name, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// ReadFile returns the content of the regular file name and what fstat
// said of it when it was opened, as Open checks it: it never blocks on a
// FIFO or a device.
func ReadFile(name string, follow bool) ([]byte, fs.FileInfo, error) {
	f, fi, err := Open(name, follow)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	// Sized by fstat (one more byte to see the end at once), so that the
	// read does not grow its buffer step by step; a file that grew since
	// is still read whole.
	data := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, fi, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}
