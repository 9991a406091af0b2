package graph

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// A Graph is a checked set of actions with the dependency edges between them.
// An action depends on the actions that produce its inputs.
//
// A Graph is immutable once built and safe for concurrent reads.
type Graph struct {
	// Actions in the order they were given; indices into this slice are
	// the action IDs used by Deps, Dependents and Producer.
	Actions []*Action
	// Deps[i] lists the IDs of the actions that produce inputs of action i,
	// sorted and unique.
	Deps [][]int
	// Dependents[i] lists the IDs of the actions that read outputs of
	// action i, sorted and unique.
	Dependents [][]int

	// producer maps each output to its action; a graph made by
	// FromEdges builds it at its first use (producerOnce).
	producer     map[string]int
	producerOnce sync.Once
	// inputProducer holds, for each action in turn, the producer of each
	// of its inputs (AllInputs' order), -1 for a source: action i's are
	// inputProducer[inputStart[i]:inputStart[i+1]].
	inputProducer []int32
	inputStart    []int32

	// kept are the FieldsDigests of some of the actions (UseKeptDigests).
	kept KeptDigests
}

// KeptDigests are the FieldsDigests of a list of actions, kept with them
// where they were stored (the analysis snapshot), so that a build that
// takes its actions from there hashes none of their descriptions:
// Digests[i] is Actions[i].FieldsDigest().
type KeptDigests struct {
	Actions []*Action
	Digests [][32]byte
	// Replaced, if not nil, holds the digests of the actions at those
	// indices instead of Digests (what a snapshot's patch replaced:
	// Digests is then the base's, kept as read, not copied).
	Replaced map[int][32]byte
}

// UseKeptDigests has g take the FieldsDigest of each of its actions that
// is in k at the same index, the same *Action, from k, rather than compute
// it: a graph made from k's actions with a few replaced (an incremental
// analysis) computes only the digests of those. k must hold the true
// digests of actions that are not changed afterwards (see KeptDigests):
// they decide whether a recorded result is reused. Call it before g is
// shared between goroutines.
func (g *Graph) UseKeptDigests(k KeptDigests) {
	if len(k.Digests) != len(k.Actions) {
		return
	}
	g.kept = k
}

// Digest returns the digest k keeps for a at index id, if k keeps one
// for that very action there.
func (k *KeptDigests) Digest(id int, a *Action) ([32]byte, bool) {
	if id < 0 || id >= len(k.Actions) || k.Actions[id] != a || id >= len(k.Digests) {
		return [32]byte{}, false
	}
	if len(k.Replaced) > 0 {
		if d, ok := k.Replaced[id]; ok {
			return d, true
		}
	}
	return k.Digests[id], true
}

// FieldsDigest returns the FieldsDigest of action id: the one kept
// (UseKeptDigests) if that is of this very action, else computed.
func (g *Graph) FieldsDigest(id int) [32]byte {
	a := g.Actions[id]
	if d, ok := g.kept.Digest(id, a); ok {
		return d
	}
	return a.FieldsDigest()
}

// SourceChecker reports whether a source file (a workspace-relative path that
// no action produces) exists.
type SourceChecker func(path string) bool

// New checks actions and links them into a Graph. It reports, in one error,
// every output declared by two actions, every input that no action produces
// and that sourceExists rejects, and a dependency cycle if there is one,
// printed as the chain of actions that forms it.
func New(actions []*Action, sourceExists SourceChecker) (*Graph, error) {
	g := &Graph{
		Actions:  actions,
		producer: make(map[string]int, len(actions)),
	}
	var problems []string
	for i, a := range actions {
		if len(a.Outputs) == 0 {
			problems = append(problems, fmt.Sprintf("%s: action %s declares no outputs", a.Owner, a.Mnemonic))
		}
		for _, out := range a.Outputs {
			if j, dup := g.producer[out]; dup {
				problems = append(problems, fmt.Sprintf(
					"output %s is declared by two actions: %s (%s) and %s (%s); give one of them another name",
					out, actions[j].Owner, actions[j].Mnemonic, a.Owner, a.Mnemonic))
				continue
			}
			g.producer[out] = i
		}
	}
	missing := map[string][]string{} // source path -> owners that read it
	inputs := 0
	for _, a := range actions {
		inputs += len(a.Inputs) + len(a.Discoverable())
	}
	g.inputProducer = make([]int32, 0, inputs)
	g.inputStart = make([]int32, len(actions)+1)
	for i, a := range actions {
		for _, in := range a.Inputs {
			g.edge(in, a.Owner, sourceExists, missing)
		}
		for _, in := range a.Discoverable() {
			g.edge(in, a.Owner, sourceExists, missing)
		}
		g.inputStart[i+1] = int32(len(g.inputProducer))
	}
	g.producerOnce.Do(func() {}) // made above
	g.link()
	for path, owners := range missing {
		problems = append(problems, fmt.Sprintf(
			"missing input file %s, needed by %s: no rule produces it and it does not exist in the workspace",
			path, strings.Join(sortedUniqueStrings(owners), ", ")))
	}
	if cycle := g.findCycle(); cycle != nil {
		var chain []string
		for _, id := range cycle {
			a := actions[id]
			chain = append(chain, fmt.Sprintf("%s (%s %s)", a.Owner, a.Mnemonic, a.Outputs[0]))
		}
		problems = append(problems, "dependency cycle among actions:\n    "+strings.Join(chain, "\n -> "))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &Error{Problems: problems}
	}
	return g, nil
}

// edge appends the producer of in, an input of an action of owner, to
// g.inputProducer (-1 for none), and records in missing an input that no
// action produces and that sourceExists rejects.
func (g *Graph) edge(in, owner string, sourceExists SourceChecker, missing map[string][]string) {
	if p, ok := g.producer[in]; ok {
		g.inputProducer = append(g.inputProducer, int32(p))
		return
	}
	g.inputProducer = append(g.inputProducer, -1)
	if sourceExists != nil && !sourceExists(in) {
		missing[in] = append(missing[in], owner)
	}
}

// link makes Deps and Dependents from g.inputProducer and g.inputStart.
// The edges of every action live in one array each way, each action's a
// slice of it whose capacity ends where its own edges do, so that a
// caller's append cannot reach the next.
func (g *Graph) link() {
	n := len(g.Actions)
	g.Deps = make([][]int, n)
	g.Dependents = make([][]int, n)
	edges := make([]int, 0, len(g.inputProducer))
	dependents := make([]int, n) // how many actions read each one's outputs
	for i := range n {
		start := len(edges)
		for _, p := range g.inputProducer[g.inputStart[i]:g.inputStart[i+1]] {
			if p >= 0 {
				edges = append(edges, int(p))
			}
		}
		deps := edges[start:]
		slices.Sort(deps)
		deps = slices.Compact(deps)
		edges = edges[:start+len(deps)]
		if len(deps) > 0 {
			g.Deps[i] = deps[:len(deps):len(deps)]
		}
		for _, d := range deps {
			dependents[d]++
		}
	}
	back := make([]int, len(edges))
	next := 0
	for d, c := range dependents {
		if c > 0 {
			g.Dependents[d] = back[next : next : next+c]
		}
		next += c
	}
	for i, deps := range g.Deps {
		for _, d := range deps {
			g.Dependents[d] = append(g.Dependents[d], i)
		}
	}
}

// Edges returns the producer of each input of each action, in turn
// (AllInputs' order), -1 for a source: what FromEdges takes to make g
// again without looking up a path. The slice is g's: not to be modified.
func (g *Graph) Edges() []int32 {
	return g.inputProducer
}

// FromEdges returns the Graph that New(actions, nil) returned for the
// same actions, given that graph's Edges: no output map is made (Producer
// makes it at its first call) and no input is looked up by path. It
// checks what it is given against actions (each input's count, each
// producer's range and that it declares that input as an output, no
// cycle) and reports a mismatch as an error, never as a wrong graph; it
// cannot tell an edge left out (a source that an action produces), so
// edges must be those of a graph of the same actions (a snapshot's, saved
// with them). edges is kept, not copied.
func FromEdges(actions []*Action, edges []int32) (*Graph, error) {
	g := &Graph{Actions: actions, inputProducer: edges, inputStart: make([]int32, len(actions)+1)}
	k := 0
	for i, a := range actions {
		for _, ins := range [2][]string{a.Inputs, a.Discoverable()} {
			for _, in := range ins {
				if k >= len(edges) {
					return nil, errEdges
				}
				if p := edges[k]; p < -1 || p >= 0 && (int(p) >= len(actions) || int(p) == i || !slices.Contains(actions[p].Outputs, in)) {
					return nil, errEdges
				}
				k++
			}
		}
		if len(a.Outputs) == 0 {
			return nil, errEdges
		}
		g.inputStart[i+1] = int32(k)
	}
	if k != len(edges) {
		return nil, errEdges
	}
	g.link()
	if g.findCycle() != nil {
		return nil, errEdges
	}
	return g, nil
}

// errEdges is FromEdges' error for edges that are not those of actions.
var errEdges = errors.New("action graph: the edges given are not those of the actions")

// InputProducer returns the ID of the action that produces input k of
// action id, k indexing AllInputs (Inputs, then Discoverable): what
// Producer says of that path, without a lookup by name.
func (g *Graph) InputProducer(id, k int) (int, bool) {
	i := int(g.inputStart[id]) + k
	if k < 0 || i >= int(g.inputStart[id+1]) {
		return 0, false
	}
	if p := g.inputProducer[i]; p >= 0 {
		return int(p), true
	}
	return 0, false
}

// Producer returns the ID of the action that declares path as an output.
func (g *Graph) Producer(path string) (int, bool) {
	g.producerOnce.Do(g.makeProducer)
	id, ok := g.producer[path]
	return id, ok
}

// makeProducer makes the output map of a graph made by FromEdges, whose
// actions declare each output once.
func (g *Graph) makeProducer() {
	g.producer = make(map[string]int, len(g.Actions))
	for i, a := range g.Actions {
		for _, out := range a.Outputs {
			g.producer[out] = i
		}
	}
}

// Error lists every problem found in a graph.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "action graph: " + e.Problems[0]
	}
	return "action graph has " + fmt.Sprint(len(e.Problems)) + " problems:\n  " + strings.Join(e.Problems, "\n  ")
}

// ErrCycle is matched by errors.Is for an Error that reports a cycle.
var ErrCycle = errors.New("dependency cycle")

func (e *Error) Is(target error) bool {
	if target != ErrCycle {
		return false
	}
	for _, p := range e.Problems {
		if strings.HasPrefix(p, "dependency cycle") {
			return true
		}
	}
	return false
}

// findCycle returns the IDs of a cycle in dependency order (each action
// depends on the next, the last on the first), or nil. It is iterative so
// that deep graphs do not exhaust the stack.
func (g *Graph) findCycle() []int {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]uint8, len(g.Actions))
	type frame struct{ id, next int }
	for root := range g.Actions {
		if state[root] != unvisited {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = onStack
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(g.Deps[top.id]) {
				state[top.id] = done
				stack = stack[:len(stack)-1]
				continue
			}
			dep := g.Deps[top.id][top.next]
			top.next++
			switch state[dep] {
			case unvisited:
				state[dep] = onStack
				stack = append(stack, frame{dep, 0})
			case onStack:
				var cycle []int
				for i := len(stack) - 1; i >= 0; i-- {
					cycle = append([]int{stack[i].id}, cycle...)
					if stack[i].id == dep {
						break
					}
				}
				return cycle
			}
		}
	}
	return nil
}

func sortedUniqueStrings(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
