//go:build linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly

package cache

import (
	"io/fs"
	"os"
	"syscall"

	"bld/exec/digest"
	"bld/exec/filestat"
	"bld/exec/regfile"
)

// readHashed opens the file path, following symbolic links, checks with
// fstat that it is a regular file, reads it whole and digests it, and
// fstats it again. With keep >= 0, it reads only a file of at most keep
// bytes, and keeps its content (a larger one is left unread: only
// h.before is set); with keep < 0, it reads any file without keeping it.
// Unlike regfile.Open, it does not stat the path before opening it: call
// it on a path that a stat has just found to be a regular file, or that
// was one when last seen (a file the memo does not know yet, an output
// being settled), where the fstat of the opened file answers what a stat
// would. It opens with O_NONBLOCK, so that a FIFO there does not block
// the open, and never reads anything but a regular file
// (*regfile.NotRegularError), which it closes at once. Its system calls are the
// fewest that say this much: open, fstat, read (up to the size fstat
// gave, one read for a small file, and none to find the end), fstat and
// close, none of them through the runtime's
// poller (os.Open of a regular file asks epoll to watch it, in vain).
func readHashed(path string, keep int64) (hashedFile, error) {
	var h hashedFile
	fd, err := openRead(path)
	if err != nil {
		return h, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := fstat(fd, &st); err != nil {
		return h, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return h, &regfile.NotRegularError{Path: path, Mode: modeType(uint32(st.Mode))}
	}
	h.before = stampOfStat(&st)
	h.dev = uint64(st.Dev)
	read := func(b []byte) (int, error) {
		for {
			n, err := syscall.Read(fd, b)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return 0, &os.PathError{Op: "read", Path: path, Err: err}
			}
			return n, nil
		}
	}
	if keep >= 0 && st.Size > keep {
		return h, nil
	}
	if keep >= 0 {
		// One read of the size fstat said: a file that grew or shrank
		// meanwhile has another stamp after, which the caller sees.
		h.data = make([]byte, st.Size)
		n := 0
		for n < len(h.data) {
			k, err := read(h.data[n:])
			if err != nil {
				return h, err
			}
			if k == 0 {
				break
			}
			n += k
		}
		h.data = h.data[:n]
		h.d = digest.OfBytes(h.data)
		if len(h.data) == 0 {
			h.data = nil
		}
	} else {
		// Read no further than the size fstat gave: the read that
		// would find the end costs a system call per file, and a file
		// that grew meanwhile has another stamp after, which the
		// caller sees. A file whose size says nothing of its content
		// (0: /proc's) is read to its end.
		r := readerFunc(read)
		if st.Size > 0 {
			left := st.Size
			r = func(b []byte) (int, error) {
				if left <= 0 {
					return 0, nil
				}
				if int64(len(b)) > left {
					b = b[:left]
				}
				n, err := read(b)
				left -= int64(n)
				return n, err
			}
		}
		if h.d, err = digest.OfReader(r); err != nil {
			return h, err
		}
	}
	if err := fstat(fd, &st); err != nil {
		return h, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	h.after = stampOfStat(&st)
	return h, nil
}

// openRead opens path for reading, non-blocking, close-on-exec.
func openRead(path string) (int, error) {
	flags := syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC | oNoATime
	for {
		fd, err := syscall.Open(path, flags, 0)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EPERM && flags&oNoATime != 0:
			// O_NOATIME is for the file's owner only: read
			// another's file as anyone would.
			flags &^= oNoATime
		default:
			return fd, err
		}
	}
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// stampOfStat is stampOf of what stat(2) said.
func stampOfStat(st *syscall.Stat_t) stamp {
	return stamp{size: st.Size, mtime: filestat.MtimeNs(st), ctime: filestat.CtimeNs(st), ino: uint64(st.Ino), exec: st.Mode&0o111 != 0}
}

// modeType returns the type bits of a stat(2) mode as fs.FileMode's.
func modeType(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
