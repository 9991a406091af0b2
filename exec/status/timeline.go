package status

import (
	"slices"
	"sync"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// Timeline is an executor.Observer that keeps every finished action with
// its times, for the reports made once the build is over (--trace,
// --timings). Safe for concurrent use.
type Timeline struct {
	mu        sync.Mutex
	results   []executor.Result
	planned   int // actions the build needed
	plannedAt time.Time
}

var _ executor.Observer = (*Timeline)(nil)

// Planned implements executor.Observer.
func (t *Timeline) Planned(actions []*graph.Action) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.planned = len(actions)
	t.plannedAt = time.Now()
	// Each planned action finishes once (or not at all): room for all,
	// rather than growing a slice of 10,000 results by doubling.
	t.results = slices.Grow(t.results, max(0, len(actions)-len(t.results)))
}

// Started implements executor.Observer.
func (t *Timeline) Started(int, *graph.Action) {}

// Finished implements executor.Observer.
func (t *Timeline) Finished(r executor.Result) {
	r.Output = nil // not reported; may be large
	t.mu.Lock()
	defer t.mu.Unlock()
	t.results = append(t.results, r)
}

// Results returns the finished actions, by start time (then ID).
func (t *Timeline) Results() []executor.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := slices.Clone(t.results)
	slices.SortStableFunc(rs, func(a, b executor.Result) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	return rs
}

// Plan returns how many actions the build needed and when the executor
// said so (Planned): from then, each waits on its dependencies until it is
// ready (Result.Ready). These are Timings.Planned and PlannedAt.
func (t *Timeline) Plan() (actions int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.planned, t.plannedAt
}

// A Phase is a stretch of a build that is not one action: loading,
// analysis, waiting for the workspace lock, execution.
type Phase struct {
	Name       string
	Start, End time.Time
}

// Lanes assigns each result (sorted by start, as Results returns them) a
// lane, numbered from 0: the lowest lane free when it starts, so that
// actions of one lane never overlap and the lanes in use at any moment are
// as many as the actions under way (the build's slots, plus the checks of
// up-to-date actions). It returns the lane of each result and the number
// of lanes.
func Lanes(rs []executor.Result) (lane []int, n int) {
	lane = make([]int, len(rs))
	var free []time.Time // per lane: when it is free again
	for i, r := range rs {
		l := -1
		for j, f := range free {
			if !f.After(r.Start) {
				l = j
				break
			}
		}
		if l < 0 {
			l = len(free)
			free = append(free, time.Time{})
		}
		free[l] = r.End
		lane[i] = l
	}
	return lane, len(free)
}

func actionsOf(rs []executor.Result) []*graph.Action {
	as := make([]*graph.Action, len(rs))
	for i, r := range rs {
		as[i] = r.Action
	}
	return as
}
