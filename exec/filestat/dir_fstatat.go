//go:build linux && (amd64 || arm64)

package filestat

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// A Dir stats files by their slash-separated paths relative to a
// directory (the workspace root), following symbolic links. Here it holds
// a descriptor of the directory and stats with fstatat(2): no absolute
// path is built, nothing is allocated, and the kernel walks only the
// relative path's components. A Dir is safe for concurrent use until
// Close.
type Dir struct {
	root string
	fd   int // -1 if root could not be opened: Stat joins paths
}

// OpenDir returns a Dir of root. It never fails: if root cannot be
// opened, its Stat stats the joined paths, which then report the error.
func OpenDir(root string) *Dir {
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return &Dir{root: root, fd: fd}
}

// Stat returns the Stat of root/rel, rel a clean slash-separated path
// relative to root; the error is an *fs.PathError naming the joined path.
func (d *Dir) Stat(rel string) (Stat, error) {
	var buf [256]byte // most paths fit; a longer one takes the slow way
	// The kernel would resolve ".." after symbolic links, where a joined
	// path is cleaned first; a NUL would end the path early. Both are
	// looked for while the path is copied (one pass: a no-op build
	// stats every file of the build).
	slow := d.fd < 0 || len(rel) >= len(buf) || len(rel) == 0 || rel[0] == '/'
	for i := 0; !slow && i < len(rel); i++ {
		c := rel[i]
		slow = c == 0 || c == '.' && i > 0 && rel[i-1] == '.'
		buf[i] = c
	}
	if slow {
		fi, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(rel)))
		if err != nil {
			return Stat{}, err
		}
		return Of(fi), nil
	}
	buf[len(rel)] = 0
	var st syscall.Stat_t
	for {
		_, _, e := syscall.Syscall6(sysFstatat, uintptr(d.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return Stat{}, &fs.PathError{Op: "stat", Path: filepath.Join(d.root, rel), Err: e}
		}
		break
	}
	return Stat{Size: st.Size, Mtime: MtimeNs(&st), Ctime: CtimeNs(&st), Ino: uint64(st.Ino), Mode: mode(st.Mode)}, nil
}

// Close releases the directory's descriptor; d must not be used after.
func (d *Dir) Close() {
	if d.fd >= 0 {
		syscall.Close(d.fd)
		d.fd = -1
	}
}

// mode returns a stat(2) mode as os.Stat's fs.FileMode gives it.
func mode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		fm |= fs.ModeDevice
	case syscall.S_IFCHR:
		fm |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		fm |= fs.ModeDir
	case syscall.S_IFIFO:
		fm |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		fm |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		fm |= fs.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		fm |= fs.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		fm |= fs.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}
