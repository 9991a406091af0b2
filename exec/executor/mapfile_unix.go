//go:build unix

package executor

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f, shared, for reading and writing.
func mapFile(f *os.File, size int) ([]byte, error) {
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return m, nil
}

// unmapFile unmaps what mapFile mapped.
func unmapFile(m []byte) { syscall.Munmap(m) }
