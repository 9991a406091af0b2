//go:build linux && (amd64 || arm64)

package cache

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"bld/exec/filestat"
)

// A rootDir stats files by their path relative to the workspace root with
// fstatat(2) on a descriptor of the root: no absolute path is built (no
// allocation) and the kernel walks only the relative path's components.
// A no-op build stats every output of the build this way.
type rootDir struct {
	root string
	fd   int // -1 if the root could not be opened: stat by absolute path
}

func openRootDir(root string) *rootDir {
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return &rootDir{root: root, fd: fd}
}

// stat is statStamp of root/rel, rel a clean workspace-relative path.
func (d *rootDir) stat(rel string) (stamp, bool, error) {
	var buf [512]byte
	// The kernel would resolve ".." after symbolic links, where a joined
	// path is cleaned first; a NUL would end the path early.
	if d.fd < 0 || len(rel) >= len(buf) || len(rel) == 0 || strings.Contains(rel, "..") || strings.IndexByte(rel, 0) >= 0 {
		return statStamp(filepath.Join(d.root, rel))
	}
	copy(buf[:], rel)
	buf[len(rel)] = 0
	var st syscall.Stat_t
	for {
		_, _, e := syscall.Syscall6(sysFstatat, uintptr(d.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return stamp{}, false, &os.PathError{Op: "stat", Path: filepath.Join(d.root, rel), Err: e}
		}
		break
	}
	return stamp{size: st.Size, mtime: filestat.MtimeNs(&st), ctime: filestat.CtimeNs(&st), ino: uint64(st.Ino), exec: st.Mode&0o111 != 0},
		st.Mode&syscall.S_IFMT == syscall.S_IFREG, nil
}

func (d *rootDir) close() {
	if d.fd >= 0 {
		syscall.Close(d.fd)
		d.fd = -1
	}
}
