package loading

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"bld/exec/crash"
)

// DefaultMaxMemory is the default bound on bld's heap while Starlark runs
// (Options.MaxMemory, bld's --max_eval_memory): far above what loading and
// analyzing a large workspace takes (about 90 MiB for 10,000 targets, 900
// MiB for 100,000), and below what a build machine can give one process.
const DefaultMaxMemory = 4 << 30

// watchInterval is how often the watchdog samples the heap. Reading one
// runtime metric costs well under a microsecond and stops nothing.
const watchInterval = 20 * time.Millisecond

// heapMetric is the bytes of heap objects, live or not yet swept;
// liveMetric the bytes the last collection found live.
const (
	heapMetric = "/memory/classes/heap/objects:bytes"
	liveMetric = "/gc/heap/live:bytes"
)

// smallHeap is the live heap under which the watchdog keeps the runtime's
// soft memory limit low (softLimit).
const smallHeap = 64 << 20

// softLimit returns the runtime's soft memory limit while Starlark runs,
// given the live heap (as the last collection found it) and the bound
// (Options.MaxMemory). bld's GOGC of 400 lets the heap grow to 5 times what is live before
// a collection: right for a large analysis, whose collections cost in
// proportion to what is live, but for a small one (10,000 targets, about
// 30 MiB live) it makes a peak of 150 MiB of mostly garbage. So while
// less than smallHeap is live, the limit is 2.5 times the live heap, and
// at least smallHeap: a few more collections of a small heap, which cost
// little. Past smallHeap, GOGC alone decides, up to the bound.
func softLimit(live uint64, bound int64) int64 {
	if live >= smallHeap {
		return bound
	}
	return min(bound, max(smallHeap, int64(live)*5/2))
}

// threads is the set of Starlark threads that are running, each with the
// file or target it evaluates, for the watchdog to cancel.
type threads struct {
	mu   sync.Mutex
	live map[*starlark.Thread]string
}

// add records a running thread; the returned function forgets it.
func (ts *threads) add(t *starlark.Thread, what string) func() {
	ts.mu.Lock()
	if ts.live == nil {
		ts.live = map[*starlark.Thread]string{}
	}
	ts.live[t] = what
	ts.mu.Unlock()
	return func() {
		ts.mu.Lock()
		delete(ts.live, t)
		ts.mu.Unlock()
	}
}

// cancelAll cancels every running thread with a reason naming the files
// they evaluate, and returns those names.
func (ts *threads) cancelAll(reason func(names string) string) []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	names := make([]string, 0, len(ts.live))
	for _, what := range ts.live {
		names = append(names, what)
	}
	sort.Strings(names)
	msg := reason(strings.Join(names, ", "))
	for t := range ts.live {
		t.Cancel(msg)
	}
	return names
}

// WatchMemory starts the heap watchdog and returns the function that stops
// it. Until then, every watchInterval it samples the Go heap (runtime/
// metrics), and when the heap exceeds Options.MaxMemory it cancels every
// Starlark thread that is running (loading a file, or running a rule
// implementation): each fails with an error naming its file, line and
// column, the bound and the flag that sets it. While it watches, the Go
// runtime's soft memory limit (debug.SetMemoryLimit) is at most the bound,
// so that garbage is collected before it could count, and lower while
// little is live (softLimit), so that a small analysis does not peak at
// five times what it keeps. A MaxMemory of 0 (or less) watches nothing.
//
// What it cannot catch: one allocation larger than the memory the machine
// has ends the process before any sample can see it. Starlark itself
// refuses single repeats of 1 GiB and more (excessive repeat), but
// x = [0] * (1 << 29), 8 GiB in one allocation, is below that limit: where
// the memory exists the watchdog cancels the file just after; where it
// does not, the Go runtime stops with "out of memory".
func (l *Loader) WatchMemory() (stop func()) {
	limit := l.opts.MaxMemory
	if limit <= 0 {
		return func() {}
	}
	// The runtime's soft limit makes the collector work harder as the
	// heap nears the bound, so that a heap past it is live data, not
	// garbage awaiting a collection (bld runs with GOGC=400); while the
	// live heap is small, it is lower (softLimit).
	sample := []metrics.Sample{{Name: heapMetric}, {Name: liveMetric}}
	metrics.Read(sample)
	soft := softLimit(uint64Of(sample[1]), limit)
	prevLimit := debug.SetMemoryLimit(soft)
	done := make(chan struct{})
	finished := make(chan struct{})
	crash.Go(func() {
		defer close(finished)
		tick := time.NewTicker(watchInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if s := softLimit(uint64Of(sample[1]), limit); s != soft {
				soft = s
				debug.SetMemoryLimit(soft)
			}
			heap := uint64Of(sample[0])
			if heap <= uint64(limit) {
				continue
			}
			l.threads.cancelAll(func(names string) string {
				return fmt.Sprintf("bld's heap reached %s, past its bound of %s (--max_eval_memory), while it evaluated %s: "+
					"look there for a list, dict or string that grows without end, or raise the bound",
					FormatBytes(int64(heap)), FormatBytes(limit), names)
			})
		}
	})
	return func() {
		close(done)
		<-finished
		debug.SetMemoryLimit(prevLimit)
	}
}

func uint64Of(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// FormatBytes formats n bytes as KiB, MiB or GiB with one decimal.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
