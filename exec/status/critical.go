package status

import (
	"bld/exec/executor"
	"bld/exec/graph"
)

// CriticalPath returns the indices into rs of the build's critical path as
// it happened, first action first: from the action that finished last,
// back through the dependency of each that finished last (the one it
// waited for), until an action that waited for none of the build's. The
// dependencies of an action are the results whose outputs are among its
// inputs. Empty when rs is.
func CriticalPath(rs []executor.Result) []int {
	if len(rs) == 0 {
		return nil
	}
	producer := map[string]int{}
	for i, r := range rs {
		for _, out := range r.Action.Outputs {
			producer[out] = i
		}
	}
	last := 0
	for i, r := range rs {
		if r.End.After(rs[last].End) {
			last = i
		}
	}
	var path []int
	seen := map[int]bool{}
	for cur := last; cur >= 0 && !seen[cur]; {
		seen[cur] = true
		path = append(path, cur)
		next := -1
		for _, in := range inputsOf(rs[cur].Action) {
			if p, ok := producer[in]; ok && p != cur && (next < 0 || rs[p].End.After(rs[next].End)) {
				next = p
			}
		}
		cur = next
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

func inputsOf(a *graph.Action) []string { return a.AllInputs() }
