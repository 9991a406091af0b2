package executor

import (
	"time"

	"bld/exec/graph"
)

// plan is the part of the graph a build needs: the goals and everything
// they depend on, with each action's priority.
type plan struct {
	needed []bool
	ids    []int // needed action IDs, ascending
	// prio[i] is the length of the longest chain of needed actions that
	// starts at i and follows Dependents, each action counting its weight
	// (weights): the time left, on the critical path, once i starts.
	prio []int64
	// prioritized: prio is computed (it is all 0 before).
	prioritized bool
}

// newPlan collects the transitive dependencies of goals and computes their
// critical-path priorities, with the weights that durations gives
// (weights). goals must be valid IDs of an acyclic graph.
func newPlan(g *graph.Graph, goals []int, durations func(*graph.Action) (time.Duration, bool)) *plan {
	p := neededPlan(g, goals)
	p.prioritize(g, durations)
	return p
}

// neededPlan collects the transitive dependencies of goals, with every
// priority 0 until prioritize computes them: a no-op build, which
// schedules nothing, never needs them.
func neededPlan(g *graph.Graph, goals []int) *plan {
	n := len(g.Actions)
	p := &plan{needed: make([]bool, n), prio: make([]int64, n)}
	stack := make([]int, 0, len(goals))
	for _, id := range goals {
		if !p.needed[id] {
			p.needed[id] = true
			stack = append(stack, id)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, d := range g.Deps[id] {
			if !p.needed[d] {
				p.needed[d] = true
				stack = append(stack, d)
			}
		}
	}
	// Counted first: appending 10,000 IDs one by one copies them as the
	// slice grows, each copy fresh heap that a no-op pays in page faults.
	count := 0
	for _, ok := range p.needed {
		if ok {
			count++
		}
	}
	p.ids = make([]int, 0, count)
	for id, ok := range p.needed {
		if ok {
			p.ids = append(p.ids, id)
		}
	}
	return p
}

// prioritize computes the priorities of p's actions (see plan), once.
func (p *plan) prioritize(g *graph.Graph, durations func(*graph.Action) (time.Duration, bool)) {
	if p.prioritized {
		return
	}
	p.prioritized = true
	n := len(g.Actions)
	weight := weights(g, p.ids, durations)
	// Kahn's algorithm from the sinks (no needed dependents) upwards: an
	// action's priority is known once all its needed dependents' are.
	left := make([]int, n)
	var queue []int
	for _, id := range p.ids {
		for _, d := range g.Dependents[id] {
			if p.needed[d] {
				left[id]++
			}
		}
		if left[id] == 0 {
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		var best int64
		for _, d := range g.Dependents[id] {
			if p.needed[d] && p.prio[d] > best {
				best = p.prio[d]
			}
		}
		p.prio[id] = best + weight[id]
		for _, d := range g.Deps[id] {
			left[d]--
			if left[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
}

// weights returns the weight of each needed action (ids) in the critical
// path: its Estimate in microseconds (at least 1). When durations knows
// none of the actions (or is nil), every action weighs 1, so that
// priorities are depths, the estimate of a workspace without a build log.
func weights(g *graph.Graph, ids []int, durations func(*graph.Action) (time.Duration, bool)) []int64 {
	w := make([]int64, len(g.Actions))
	actions := make([]*graph.Action, len(ids))
	for i, id := range ids {
		actions[i] = g.Actions[id]
	}
	est, known := Estimate(actions, durations)
	for i, id := range ids {
		if known == 0 {
			w[id] = 1
		} else {
			w[id] = max(est[i].Microseconds(), 1)
		}
	}
	return w
}

// Estimate returns how long each action is expected to take when it runs:
// what durations (the build log) says it took when it last ran, else the
// mean of the known actions of its mnemonic, else the mean of all known
// ones, else 0; and how many actions durations knew. durations may be nil.
// It is the one estimate of bld: the scheduler's priorities and the status
// line's time left both use it.
func Estimate(actions []*graph.Action, durations func(*graph.Action) (time.Duration, bool)) (est []time.Duration, known int) {
	est = make([]time.Duration, len(actions))
	if durations == nil {
		return est, 0
	}
	type mean struct {
		sum time.Duration
		n   int
	}
	isKnown := make([]bool, len(actions))
	byMnemonic := map[string]mean{}
	var all mean
	for i, a := range actions {
		d, ok := durations(a)
		if !ok {
			continue
		}
		est[i], isKnown[i] = d, true
		m := byMnemonic[a.Mnemonic]
		byMnemonic[a.Mnemonic] = mean{m.sum + d, m.n + 1}
		all = mean{all.sum + d, all.n + 1}
		known++
	}
	if known == 0 {
		return est, 0
	}
	for i, a := range actions {
		switch m := byMnemonic[a.Mnemonic]; {
		case isKnown[i]:
		case m.n > 0:
			est[i] = m.sum / time.Duration(m.n)
		default:
			est[i] = all.sum / time.Duration(all.n)
		}
	}
	return est, known
}

// readyQueue is a priority queue of action IDs: longest critical path
// first, then lowest ID, so that the order is deterministic. It is a
// binary heap on ids, without container/heap's boxing of every ID pushed.
type readyQueue struct {
	ids  []int
	prio []int64
}

func (q *readyQueue) Len() int { return len(q.ids) }

// before reports whether the ID at i goes before the one at j.
func (q *readyQueue) before(i, j int) bool {
	a, b := q.ids[i], q.ids[j]
	if q.prio[a] != q.prio[b] {
		return q.prio[a] > q.prio[b]
	}
	return a < b
}

// reheap restores the heap's order after the priorities changed.
func (q *readyQueue) reheap() {
	ids := q.ids
	q.ids = make([]int, 0, len(ids))
	for _, id := range ids {
		q.push(id)
	}
}

func (q *readyQueue) push(id int) {
	q.ids = append(q.ids, id)
	for i := len(q.ids) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.before(i, parent) {
			break
		}
		q.ids[i], q.ids[parent] = q.ids[parent], q.ids[i]
		i = parent
	}
}

func (q *readyQueue) pop() int {
	top := q.ids[0]
	last := len(q.ids) - 1
	q.ids[0] = q.ids[last]
	q.ids = q.ids[:last]
	for i := 0; ; {
		first := i
		if l := 2*i + 1; l < last && q.before(l, first) {
			first = l
		}
		if r := 2*i + 2; r < last && q.before(r, first) {
			first = r
		}
		if first == i {
			break
		}
		q.ids[i], q.ids[first] = q.ids[first], q.ids[i]
		i = first
	}
	return top
}
