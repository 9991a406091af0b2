package status

import (
	"container/heap"
	"fmt"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// Estimates makes the smart status line say how long the build has left,
// "[12/40, ~8s left] Compiling src/where.c", from how long actions took
// when they last ran (durations, the build log; executor.Estimate fills in
// the others) and jobs, the number of actions that run at once. Call it
// before Planned. Without it, or when durations knows none of the build's
// actions, the line has no estimate.
func (d *Display) Estimates(durations func(*graph.Action) (time.Duration, bool), jobs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.eta = &estimator{durations: durations, jobs: max(jobs, 1)}
}

// estimator keeps what the time left is computed from: the work left, and
// the longest path left. Both assume that every action not done yet runs
// (those that turn out up to date take nearly no time, so the estimate
// drops as they are checked).
type estimator struct {
	durations func(*graph.Action) (time.Duration, bool)
	jobs      int
	known     bool

	est     map[*graph.Action]time.Duration // expected duration
	path    map[*graph.Action]time.Duration // longest path from it to the end, it included
	started map[*graph.Action]time.Time
	done    map[*graph.Action]bool
	work    time.Duration // sum of est of the actions not done
	// byPath holds the actions not done, longest path first (finished
	// ones are dropped lazily): the first is on the critical path left,
	// since an action's dependencies have longer paths than it.
	byPath pathHeap
}

// plan computes each action's estimate and path from the planned actions.
func (e *estimator) plan(actions []*graph.Action) {
	ests, known := executor.Estimate(actions, e.durations)
	e.known = known > 0
	e.est = make(map[*graph.Action]time.Duration, len(actions))
	e.path = make(map[*graph.Action]time.Duration, len(actions))
	e.started = map[*graph.Action]time.Time{}
	e.done = map[*graph.Action]bool{}
	producer := make(map[string]*graph.Action, len(actions))
	for i, a := range actions {
		if _, dup := e.est[a]; dup {
			continue
		}
		e.est[a] = ests[i]
		e.work += ests[i]
		for _, out := range a.Outputs {
			producer[out] = a
		}
	}
	dependents := map[*graph.Action][]*graph.Action{}
	left := map[*graph.Action]int{} // dependents whose path is not known yet
	for a := range e.est {
		seen := map[*graph.Action]bool{}
		for _, in := range a.AllInputs() {
			if p, ok := producer[in]; ok && !seen[p] && p != a {
				seen[p] = true
				dependents[p] = append(dependents[p], a)
				left[p]++
			}
		}
	}
	// From the sinks upwards (the graph was checked acyclic).
	var queue []*graph.Action
	for a := range e.est {
		if left[a] == 0 {
			queue = append(queue, a)
		}
	}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		var best time.Duration
		for _, dep := range dependents[a] {
			best = max(best, e.path[dep])
		}
		e.path[a] = best + e.est[a]
		seen := map[*graph.Action]bool{}
		for _, in := range a.AllInputs() {
			if p, ok := producer[in]; ok && !seen[p] && p != a {
				seen[p] = true
				if left[p]--; left[p] == 0 {
					queue = append(queue, p)
				}
			}
		}
	}
	e.byPath = pathHeap{path: e.path}
	for a := range e.est {
		e.byPath.actions = append(e.byPath.actions, a)
	}
	heap.Init(&e.byPath)
}

func (e *estimator) start(a *graph.Action, now time.Time) { e.started[a] = now }

func (e *estimator) finish(a *graph.Action) {
	if e.done[a] {
		return
	}
	e.done[a] = true
	e.work -= e.est[a]
	delete(e.started, a)
}

// left is the estimated time left: the longest path left, or the work left
// spread over the jobs, whichever is longer; a running action counts what
// it has left of its estimate.
func (e *estimator) left(now time.Time) (time.Duration, bool) {
	if !e.known {
		return 0, false
	}
	work := e.work
	for a, t := range e.started {
		work -= min(now.Sub(t), e.est[a])
	}
	for e.byPath.Len() > 0 && e.done[e.byPath.actions[0]] {
		heap.Pop(&e.byPath)
	}
	var path time.Duration
	if e.byPath.Len() > 0 {
		a := e.byPath.actions[0]
		path = e.path[a]
		if t, ok := e.started[a]; ok {
			path -= min(now.Sub(t), e.est[a])
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

// pathHeap is a max-heap of actions by their path.
type pathHeap struct {
	actions []*graph.Action
	path    map[*graph.Action]time.Duration
}

func (h *pathHeap) Len() int           { return len(h.actions) }
func (h *pathHeap) Less(i, j int) bool { return h.path[h.actions[i]] > h.path[h.actions[j]] }
func (h *pathHeap) Swap(i, j int)      { h.actions[i], h.actions[j] = h.actions[j], h.actions[i] }
func (h *pathHeap) Push(x any)         { h.actions = append(h.actions, x.(*graph.Action)) }
func (h *pathHeap) Pop() any {
	a := h.actions[len(h.actions)-1]
	h.actions = h.actions[:len(h.actions)-1]
	return a
}
