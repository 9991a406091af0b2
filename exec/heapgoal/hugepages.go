package heapgoal

import (
	"runtime"
	"runtime/debug"
)

// hugePageSize is the size of a transparent huge page (x86-64's and
// arm64's with 4 KiB pages).
const hugePageSize = 2 << 20

// HugePages readies the next n bytes of heap to be backed by transparent
// huge pages, where Linux gives them only to memory advised so (THP mode
// "madvise", the common default): it allocates n bytes, advises huge pages
// for the 2 MiB-aligned part of them, and collects, so that the
// allocations that follow take those pages (the runtime's page allocator
// takes the lowest free addresses first). A fresh page costs a fault when
// first written: then one per 2 MiB instead of one per 4 KiB. On a VM
// where a fault costs 15-27 µs, the faults were most of the time a build
// took to decode its analysis snapshot (docs/benchmarks.md, incr12).
//
// It runs a collection, so it must come before Reserve (which ends at the
// first collection), and only where a collection is cheap: at the start of
// a command, before it has allocated much. What that collection finds live
// is under the runtime's floor, which PercentFrom takes for no measure.
// The advice outlives the collection: a page the runtime later gives back
// to the kernel (scavenging) and takes again is a huge one again where the
// kernel can. It does nothing where the advice changes nothing (THP
// "never" or "always", other systems) or n is under one huge page, and
// reports whether it advised.
func HugePages(n uint64) bool {
	if n < hugePageSize || !adviceGivesHugePages() {
		return false
	}
	prev := debug.SetGCPercent(-1) // the allocation starts no collection of its own
	ok := adviseHugePages(make([]byte, n+hugePageSize))
	runtime.GC() // one collection, of a heap that is still small
	debug.SetGCPercent(prev)
	return ok
}
