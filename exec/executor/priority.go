package executor

import (
	"container/heap"

	"bld/exec/graph"
)

// plan is the part of the graph a build needs: the goals and everything
// they depend on, with each action's priority.
type plan struct {
	needed []bool
	ids    []int // needed action IDs, ascending
	// prio[i] is the length of the longest chain of needed actions that
	// starts at i and follows Dependents (1 for an action nothing needs).
	prio []int
}

// newPlan collects the transitive dependencies of goals and computes their
// critical-path priorities. goals must be valid IDs of an acyclic graph.
func newPlan(g *graph.Graph, goals []int) *plan {
	n := len(g.Actions)
	p := &plan{needed: make([]bool, n), prio: make([]int, n)}
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
	for id, ok := range p.needed {
		if ok {
			p.ids = append(p.ids, id)
		}
	}
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
		best := 0
		for _, d := range g.Dependents[id] {
			if p.needed[d] && p.prio[d] > best {
				best = p.prio[d]
			}
		}
		p.prio[id] = best + 1
		for _, d := range g.Deps[id] {
			left[d]--
			if left[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	return p
}

// readyQueue is a priority queue of action IDs: longest critical path
// first, then lowest ID, so that the order is deterministic.
type readyQueue struct {
	ids  []int
	prio []int
}

func (q *readyQueue) Len() int { return len(q.ids) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := q.ids[i], q.ids[j]
	if q.prio[a] != q.prio[b] {
		return q.prio[a] > q.prio[b]
	}
	return a < b
}
func (q *readyQueue) Swap(i, j int) { q.ids[i], q.ids[j] = q.ids[j], q.ids[i] }
func (q *readyQueue) Push(x any)    { q.ids = append(q.ids, x.(int)) }
func (q *readyQueue) Pop() any {
	id := q.ids[len(q.ids)-1]
	q.ids = q.ids[:len(q.ids)-1]
	return id
}

func (q *readyQueue) push(id int) { heap.Push(q, id) }
func (q *readyQueue) pop() int    { return heap.Pop(q).(int) }
