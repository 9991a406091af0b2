package heapgoal

import (
	"bytes"
	"os"
	"syscall"
	"unsafe"
)

// thpEnabled is where Linux says when it gives transparent huge pages.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// adviceGivesHugePages reports whether Linux gives huge pages to memory
// advised MADV_HUGEPAGE and not otherwise (THP mode "madvise").
func adviceGivesHugePages() bool {
	b, err := os.ReadFile(thpEnabled)
	return err == nil && bytes.Contains(b, []byte("[madvise]"))
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
