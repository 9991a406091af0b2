package analysis

import (
	"context"
	"slices"

	"bld/starlark/label"
	"bld/starlark/loading"
)

// A Record is what the analysis of one label asked for, which is what an
// incremental re-analysis needs to know to reuse it (package snapshot):
// the labels it analyzed, in order (their actions come before its own),
// the packages it read, and the variables of bld's environment its
// actions inherited. A target's analysis depends on nothing else but its
// own package and these.
//
// A label's Record is kept in its entry, which only the goroutine that
// analyzes the label writes, so it is the same whether Prepare analyzed
// the targets in parallel or Analyze one at a time.
type Record struct {
	// Children are the labels analyzed on the label's behalf, in the order
	// analysis asked for them: its dependencies (among them the
	// conditions of its select()s), and for a declared output, the
	// target that declares it.
	Children []label.Label
	// Packages are the packages loaded on its behalf, sorted and unique:
	// its own, those of its select() conditions and of the
	// package_groups of its dependencies' visibility.
	Packages []string
	// Env are the variables of bld's environment its actions inherited
	// (env_inherit), sorted and unique.
	Env []string
}

// Record returns what the analysis of l asked for, if l was analyzed
// (successfully or not) and its analysis is over. It must not be called
// while Prepare or Analyze runs.
func (a *Analyzer) Record(l label.Label) (*Record, bool) {
	e, ok := a.st.entries[l]
	if !ok {
		return nil, false
	}
	if !e.finished {
		return nil, false // interrupted
	}
	// Every analysis loads the label's own package first (compute).
	r := &Record{Packages: []string{e.l.Pkg}}
	if e.reads != nil {
		r.Packages = insertSorted(slices.Clone(e.reads.pkgs), e.l.Pkg)
		r.Env = e.reads.env
	}
	if len(e.visits) > 0 {
		r.Children = make([]label.Label, len(e.visits))
		for i, v := range e.visits {
			r.Children[i] = v.l
		}
	}
	return r, true
}

// EachCommitted calls f for each label whose analysis was committed to the
// action list (by Analyze), in commit order, which is the order of their
// actions in Actions and the order in which a replay of the analysis from
// the targets given to Analyze (snapshot.Assemble) meets them: seq is the
// label's place in that order, children are the places of its Record's
// Children (each before seq), and pkgs and env are its Record's Packages
// but its own and its Env. children is only valid during the call. It
// returns false, having called f for none, if the analysis of a label
// committed failed (f then would not see a complete analysis). Like
// Record, it must not be called while Prepare or Analyze runs.
//
// It is what an incremental analysis' index is made of, with no map of
// labels and no replay.
func (a *Analyzer) EachCommitted(f func(seq int, l label.Label, children []int32, pkgs, env []string)) bool {
	for _, e := range a.committed {
		if e.err != nil {
			return false
		}
	}
	var children []int32
	for seq, e := range a.committed {
		children = children[:0]
		for _, v := range e.visits {
			children = append(children, v.seq)
		}
		var pkgs, env []string
		if e.reads != nil {
			pkgs, env = e.reads.pkgs, e.reads.env
		}
		f(seq, e.l, children, pkgs, env)
	}
	return true
}

// Result returns what the analysis of l gave, if l was analyzed
// successfully. Like Record, it must not be called while Prepare or
// Analyze runs.
func (a *Analyzer) Result(l label.Label) (*Configured, bool) {
	e, ok := a.st.entries[l]
	if !ok || !e.finished || e.err != nil || e.c == nil {
		return nil, false
	}
	return e.c, true
}

// loadPackage is the loader's LoadPackage, recorded as read on behalf of
// the label of entry e (if not nil), which the calling goroutine is
// analyzing.
func (a *Analyzer) loadPackage(ctx context.Context, e *entry, pkg string) (*loading.Package, error) {
	if e != nil && pkg != e.l.Pkg {
		r := e.readsOf()
		r.pkgs = insertSorted(r.pkgs, pkg)
	}
	return a.loader.LoadPackage(ctx, pkg)
}

func insertSorted(s []string, x string) []string {
	i, found := slices.BinarySearch(s, x)
	if found {
		return s
	}
	return slices.Insert(s, i, x)
}
