package heapgoal

import (
	"bytes"
	"syscall"
	"unsafe"
)

// thpEnabled is where Linux says when it gives transparent huge pages.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// adviceGivesHugePages reports whether Linux gives huge pages to memory
// advised MADV_HUGEPAGE and not otherwise (THP mode "madvise"). It reads
// the setting with plain system calls (an os.File would register the file
// with the runtime's poller first).
func adviceGivesHugePages() bool {
	fd, err := syscall.Open(thpEnabled, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var b [128]byte // "always [madvise] never\n"
	n, err := syscall.Read(fd, b[:])
	return err == nil && bytes.Contains(b[:max(n, 0)], []byte("[madvise]"))
}

// adviseHugePages advises MADV_HUGEPAGE for the 2 MiB-aligned part of b,
// and reports whether it did (b holds at least one huge page and the
// kernel took the advice).
func adviseHugePages(b []byte) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (p + hugePageSize - 1) &^ (hugePageSize - 1)
	hi := (p + uintptr(len(b))) &^ (hugePageSize - 1)
	if hi <= lo {
		return false
	}
	return syscall.Madvise(b[lo-p:hi-p], syscall.MADV_HUGEPAGE) == nil
}
