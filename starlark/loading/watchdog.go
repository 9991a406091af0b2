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
	"bld/exec/heapgoal"
)

// DefaultMaxMemory is the default bound on bld's heap while Starlark runs
// (Options.MaxMemory, bld's --max_eval_memory): far above what loading and
// analyzing a large workspace takes (about 90 MiB of peak RSS for 10,000
// targets, 550 MiB for 100,000), and below what a build machine can give
// one process.
const DefaultMaxMemory = 4 << 30

// watchInterval is how often the watchdog samples the heap. Reading one
// runtime metric costs well under a microsecond and stops nothing.
const watchInterval = 20 * time.Millisecond

// heapMetric is the bytes of heap objects, live or not yet swept.
const heapMetric = "/memory/classes/heap/objects:bytes"

// threads is the set of Starlark threads that are running, each with the
// file or target it evaluates (and the ThreadGroup it is in, if any), for
// the watchdog and the groups to cancel.
type threads struct {
	mu   sync.Mutex
	live map[*starlark.Thread]running
}

// running is what threads knows of a running thread.
type running struct {
	what  string
	group *ThreadGroup // nil: not in a group
}

// add records a running thread, until remove.
func (ts *threads) add(t *starlark.Thread, what string, g *ThreadGroup) {
	ts.mu.Lock()
	if ts.live == nil {
		ts.live = map[*starlark.Thread]running{}
	}
	ts.live[t] = running{what, g}
	ts.mu.Unlock()
}

// remove forgets a thread that add recorded.
func (ts *threads) remove(t *starlark.Thread) {
	ts.mu.Lock()
	delete(ts.live, t)
	ts.mu.Unlock()
}

// cancelGroup cancels every running thread of the group g.
func (ts *threads) cancelGroup(g *ThreadGroup, reason string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for t, r := range ts.live {
		if r.group == g {
			t.Cancel(reason)
		}
	}
}

// cancelAll cancels every running thread with a reason naming the files
// they evaluate, and returns those names.
func (ts *threads) cancelAll(reason func(names string) string) []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	names := make([]string, 0, len(ts.live))
	for _, r := range ts.live {
		names = append(names, r.what)
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
// runtime's soft memory limit (debug.SetMemoryLimit) is the bound, so that
// garbage is collected before it could count, and the heap follows its
// live data by heapgoal.Analysis (bld's one heap policy), so that an
// analysis does not peak at five times what it keeps (GOGC=400). A
// MaxMemory of 0 (or less) watches nothing, and leaves GOGC alone. pr,
// if not nil, is how far the analysis that follows is through its targets
// (analysis.Analyzer.CountProgress): the goal then tightens towards its end
// (heapgoal.FollowProgress).
//
// What it cannot catch: one allocation larger than the memory the machine
// has ends the process before any sample can see it. Starlark itself
// refuses single repeats of 1 GiB and more (excessive repeat), but
// x = [0] * (1 << 29), 8 GiB in one allocation, is below that limit: where
// the memory exists the watchdog cancels the file just after; where it
// does not, the Go runtime stops with "out of memory".
func (l *Loader) WatchMemory(pr *heapgoal.Progress) (stop func()) {
	limit := l.opts.MaxMemory
	if limit <= 0 {
		return func() {}
	}
	// The runtime's soft limit makes the collector work harder as the
	// heap nears the bound, so that a heap past it is live data, not
	// garbage awaiting a collection.
	sample := []metrics.Sample{{Name: heapMetric}}
	prevLimit := debug.SetMemoryLimit(limit)
	stopGoal := heapgoal.FollowProgress(heapgoal.Analysis, pr)
	stopWatching := crash.Every(watchInterval, func() {
		metrics.Read(sample)
		heap := uint64Of(sample[0])
		if heap <= uint64(limit) {
			return
		}
		l.threads.cancelAll(func(names string) string {
			return fmt.Sprintf("bld's heap reached %s, past its bound of %s (--max_eval_memory), while it evaluated %s: "+
				"look there for a list, dict or string that grows without end, or raise the bound",
				FormatBytes(int64(heap)), FormatBytes(limit), names)
		})
	})
	return func() {
		stopWatching()
		stopGoal()
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
