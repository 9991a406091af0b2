package build

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"bld/exec/crash"
)

// Bounding the heap while actions run.
//
// bld runs with GOGC=400 (cmd/bld), which lets the heap grow to five
// times its live data between collections: cheap for loading and
// analysis, whose live data is small and short-lived, but while actions
// run the live data is the action graph and the cache's indexes (tens of
// megabytes at 10,000 actions), and four times that again is garbage
// nobody needs. So while Execute runs, the heap may grow past its live
// data by heapHeadroom only: GOGC is set, after every collection, to the
// percentage of the live data that the headroom is.

const (
	// minHeadroom and headroomShare size the headroom: a quarter of the
	// live heap, at least 16 MiB, so that a small build collects rarely
	// and a large one holds at most a quarter more than it needs.
	minHeadroom   = 16 << 20
	headroomShare = 4
	// maxPercent is GOGC for a heap so small that the headroom is more
	// than 4 times it: bld's own default.
	maxPercent = 400
	// heapPoll is how often the bound follows the live heap.
	heapPoll = 20 * time.Millisecond
)

// gcPercent is the GOGC that lets a heap of live bytes of live data grow
// by its headroom: max(16 MiB, live/4), as a percentage of live, at most
// maxPercent.
func gcPercent(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	headroom := max(minHeadroom, live/headroomShare)
	return int(min(headroom*100/live, maxPercent))
}

// heapMetrics are what boundHeap reads, in this order.
var heapMetrics = []string{
	"/gc/heap/live:bytes",
	"/gc/cycles/total:gc-cycles",
}

// boundHeap holds the heap to its live data plus its headroom (gcPercent)
// until the function it returns is called, which restores GOGC. It does
// nothing when the user set GOGC or GOMEMLIMIT: theirs is the say.
func boundHeap() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	cycles := ^uint64(0)
	set := func() {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return // not this runtime's metrics: leave GOGC alone
			}
		}
		if c := samples[1].Value.Uint64(); c != cycles {
			cycles = c
			debug.SetGCPercent(gcPercent(samples[0].Value.Uint64()))
		}
	}
	prev := debug.SetGCPercent(maxPercent)
	set()
	done := make(chan struct{})
	finished := make(chan struct{})
	crash.Go(func() {
		defer close(finished)
		tick := time.NewTicker(heapPoll)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				set()
			}
		}
	})
	return func() {
		close(done)
		<-finished
		debug.SetGCPercent(prev)
	}
}
