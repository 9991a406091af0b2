package status

import (
	"fmt"
	"slices"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// Estimates makes the smart status line say how long the build has left,
// "[12/40, 2 running, ~8s left] Compiling src/where.c", from how long actions took
// when they last ran (durations, the build log; executor.Estimate fills in
// the others) and jobs, the number of actions that run at once. Call it
// before Planned. Without it, or when durations knows none of the build's
// actions, the line has no estimate. A display that is not smart has no
// status line, and computes no estimate.
func (d *Display) Estimates(durations func(*graph.Action) (time.Duration, bool), jobs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.smart {
		return
	}
	d.eta = &estimator{durations: durations, jobs: max(jobs, 1)}
}

// estimator keeps what the time left is computed from: the work left, and
// the longest path left. Both assume that every action not done yet runs
// (those that turn out up to date take nearly no time, so the estimate
// drops as they are checked).
//
// Actions are numbered by their position among the planned ones: one map
// finds that number, and the rest are slices, so that a plan of 100,000
// actions costs a few megabytes and milliseconds, not a map per property.
type estimator struct {
	durations func(*graph.Action) (time.Duration, bool)
	jobs      int
	known     bool

	index   map[*graph.Action]int32 // position among the planned actions
	est     []time.Duration         // expected duration
	path    []time.Duration         // longest path from it to the end, it included
	done    []bool
	started map[int32]time.Time // the running actions
	work    time.Duration       // sum of est of the actions not done
	// byPath lists the actions longest path first; next is the first of
	// them not done: it is on the critical path left, since an action's
	// dependencies have longer paths than it, and actions only ever
	// become done.
	byPath []int32
	next   int
}

// plan computes each action's estimate and path from the planned actions.
func (e *estimator) plan(actions []*graph.Action) {
	ests, known := executor.Estimate(actions, e.durations)
	e.known = known > 0
	e.started = map[int32]time.Time{}
	if !e.known {
		return // left never answers: nothing else is needed
	}
	n := len(actions)
	e.index = make(map[*graph.Action]int32, n)
	e.est = make([]time.Duration, 0, n)
	producer := make(map[string]int32, n)
	for i, a := range actions {
		if _, dup := e.index[a]; dup {
			continue
		}
		id := int32(len(e.est))
		e.index[a] = id
		e.est = append(e.est, ests[i])
		e.work += ests[i]
		for _, out := range a.Outputs {
			producer[out] = id
		}
	}
	n = len(e.est)
	uniq := make([]*graph.Action, n)
	for a, id := range e.index {
		uniq[id] = a
	}
	// deps[id] are the producers of id's inputs, each once, in a flat
	// array: deps[start[id]:start[id+1]].
	start := make([]int32, n+1)
	var deps []int32
	mark := make([]int32, n) // mark[p] == id+1: p is already a dependency of id
	left := make([]int32, n) // dependents whose path is not known yet
	for id, a := range uniq {
		for _, in := range a.AllInputs() {
			if p, ok := producer[in]; ok && p != int32(id) && mark[p] != int32(id)+1 {
				mark[p] = int32(id) + 1
				deps = append(deps, p)
				left[p]++
			}
		}
		start[id+1] = int32(len(deps))
	}
	// From the sinks upwards (the graph was checked acyclic): an action's
	// path is its estimate plus the longest path of its dependents, which
	// push it to each dependency as they become known.
	e.path = make([]time.Duration, n)
	best := make([]time.Duration, n)
	queue := make([]int32, 0, n)
	for id := range n {
		if left[id] == 0 {
			queue = append(queue, int32(id))
		}
	}
	for i := 0; i < len(queue); i++ {
		id := queue[i]
		e.path[id] = best[id] + e.est[id]
		for _, p := range deps[start[id]:start[id+1]] {
			best[p] = max(best[p], e.path[id])
			if left[p]--; left[p] == 0 {
				queue = append(queue, p)
			}
		}
	}
	e.done = make([]bool, n)
	e.byPath = make([]int32, n)
	for id := range e.byPath {
		e.byPath[id] = int32(id)
	}
	slices.SortStableFunc(e.byPath, func(a, b int32) int {
		switch {
		case e.path[a] > e.path[b]:
			return -1
		case e.path[a] < e.path[b]:
			return 1
		}
		return 0
	})
}

func (e *estimator) start(a *graph.Action, now time.Time) {
	if id, ok := e.index[a]; ok {
		e.started[id] = now
	}
}

func (e *estimator) finish(a *graph.Action) {
	id, ok := e.index[a]
	if !ok || e.done[id] {
		return
	}
	e.done[id] = true
	e.work -= e.est[id]
	delete(e.started, id)
}

// left is the estimated time left: the longest path left, or the work left
// spread over the jobs, whichever is longer; a running action counts what
// it has left of its estimate.
func (e *estimator) left(now time.Time) (time.Duration, bool) {
	if !e.known {
		return 0, false
	}
	work := e.work
	for id, t := range e.started {
		work -= min(now.Sub(t), e.est[id])
	}
	for e.next < len(e.byPath) && e.done[e.byPath[e.next]] {
		e.next++
	}
	var path time.Duration
	if e.next < len(e.byPath) {
		id := e.byPath[e.next]
		path = e.path[id]
		if t, ok := e.started[id]; ok {
			path -= min(now.Sub(t), e.est[id])
		}
	}
	return max(path, work/time.Duration(e.jobs)), true
}

// formatLeft spells a time left for the status line: "~8s", "~2m05s".
func formatLeft(d time.Duration) string {
	s := int((d + time.Second/2) / time.Second)
	if s < 60 {
		return fmt.Sprintf("~%ds", s)
	}
	return fmt.Sprintf("~%dm%02ds", s/60, s%60)
}
