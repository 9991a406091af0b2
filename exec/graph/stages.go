package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// A StageStart is what starting a build at a stage (--from-stage) needs:
// the actions that still run, the files to put in place of the products of
// the stages it skips, and which stages those are.
type StageStart struct {
	// Actions are the graph's actions without those of the skipped
	// stages; the copied files stand for their outputs.
	Actions []*Action
	// Copies maps each output of a skipped stage that a later action
	// reads (a workspace-relative path) to the file given for it.
	Copies map[string]string
	// Skipped are the skipped stages, as StageID gives them, in the
	// order of the graph.
	Skipped []string
}

// StartAt plans a build of goals (action IDs) that starts at the stage
// named stage of every pipeline that has one, from products given to it.
//
// The skipped stages are the stages of the same pipeline that the starting
// stage's actions depend on, directly or not. Each file that an action
// which still runs reads from a skipped stage must be given: a product is
// a file or directory named after it in the directory of the stage that
// makes it (".../<stage>/<product>" or ".../<stage>/<product>/<rest>"), and
// given maps a product's name to a file (for the first form) or a
// directory holding <rest> (the second). A product not given, a given
// file that does not exist, or a given name that no stage makes is an
// error that says what to pass.
func StartAt(g *Graph, goals []int, stage string, given map[string]string) (*StageStart, error) {
	needed := g.closure(goals)
	var starts []int
	pipelines := map[string]bool{}
	stages := map[string]bool{}
	for _, id := range needed {
		a := g.Actions[id]
		if a.Stage() != "" {
			stages[a.Stage()] = true
		}
		if a.Stage() == stage {
			starts = append(starts, id)
			pipelines[a.Pipeline()] = true
		}
	}
	if len(starts) == 0 {
		if len(stages) == 0 {
			return nil, fmt.Errorf("--from-stage %s: the targets built have no stages (build a pipeline, such as a cc_pgo_binary)", stage)
		}
		names := mapKeys(stages)
		sort.Strings(names)
		return nil, fmt.Errorf("--from-stage %s: no stage of that name in this build; its stages are %s", stage, strings.Join(names, ", "))
	}
	skip := map[int]bool{}
	for _, id := range g.closure(starts) {
		a := g.Actions[id]
		if a.Stage() != "" && a.Stage() != stage && pipelines[a.Pipeline()] {
			skip[id] = true
		}
	}
	st := &StageStart{Copies: map[string]string{}}
	seen := map[string]bool{}
	for id, a := range g.Actions {
		if skip[id] {
			if s := a.StageID(); !seen[s] {
				seen[s] = true
				st.Skipped = append(st.Skipped, s)
			}
			continue
		}
		st.Actions = append(st.Actions, a)
	}
	used := map[string]bool{}
	var problems []string
	for _, id := range needed {
		if skip[id] {
			continue
		}
		for _, in := range g.Actions[id].AllInputs() {
			p, ok := g.Producer(in)
			if !ok || !skip[p] || st.Copies[in] != "" {
				continue
			}
			made := g.Actions[p]
			name, rest, ok := productOf(in, made.Stage())
			if !ok {
				problems = append(problems, fmt.Sprintf("%s reads %s from stage %s, which is not in a product directory (.../%s/<product>) and cannot be given",
					g.Actions[id].Owner, in, made.StageID(), made.Stage()))
				continue
			}
			from, ok := given[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s reads %s, product %q of stage %s: give it with --stage-input %s=PATH",
					g.Actions[id].Owner, in, name, made.StageID(), name))
				continue
			}
			used[name] = true
			src := from
			if rest != "" {
				src = filepath.Join(from, filepath.FromSlash(rest))
			}
			if fi, err := os.Stat(src); err != nil || fi.IsDir() {
				what := "does not exist"
				if err == nil {
					what = "is a directory"
				}
				problems = append(problems, fmt.Sprintf("--stage-input %s=%s: %s %s, and %s needs it as %s", name, from, src, what, g.Actions[id].Owner, in))
				continue
			}
			st.Copies[in] = src
		}
	}
	for name := range given {
		if !used[name] && len(problems) == 0 {
			problems = append(problems, fmt.Sprintf("--stage-input %s: no stage that --from-stage %s skips makes a product %q that is read later", name, stage, name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return st, nil
}

// productOf splits a path made by stage into its product's name and the
// rest of the path below the product: ".../<stage>/<product>/<rest>".
func productOf(path, stage string) (name, rest string, ok bool) {
	i := strings.LastIndex(path, "/"+stage+"/")
	if i < 0 {
		return "", "", false
	}
	name, rest, _ = strings.Cut(path[i+len(stage)+2:], "/")
	return name, rest, name != ""
}

// closure returns the IDs of the given actions and of every action they
// depend on, directly or not, sorted.
func (g *Graph) closure(ids []int) []int {
	seen := map[int]bool{}
	stack := slices.Clone(ids)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		stack = append(stack, g.Deps[id]...)
	}
	out := mapKeys(seen)
	sort.Ints(out)
	return out
}

func mapKeys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
