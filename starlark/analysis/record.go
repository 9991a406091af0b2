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
type Record struct {
	// Children are the labels analyzed on the label's behalf, in the order
	// analysis asked for them: its dependencies, the
	// conditions of its select()s, and for a declared output, the target
	// that declares it.
	Children []label.Label
	// Packages are the packages loaded on its behalf, sorted and unique:
	// its own, its dependencies', those of the package_groups of its
	// dependencies' visibility and of its select() conditions.
	Packages []string
	// Env are the variables of bld's environment its actions inherited
	// (env_inherit), sorted and unique.
	Env []string
}

// recorder keeps a Record for every label analyzed; stack holds the labels
// being analyzed, innermost last.
type recorder struct {
	records map[label.Label]*Record
	stack   []label.Label
}

// Record returns what the analysis of l asked for, if l was analyzed
// (successfully or not).
func (a *Analyzer) Record(l label.Label) (*Record, bool) {
	r, ok := a.rec.records[l]
	return r, ok
}

// current returns the record of the label being analyzed, nil at the top
// level.
func (r *recorder) current() *Record {
	if len(r.stack) == 0 {
		return nil
	}
	return r.records[r.stack[len(r.stack)-1]]
}

// child records that the label being analyzed asked for l.
func (r *recorder) child(l label.Label) {
	if c := r.current(); c != nil {
		c.Children = append(c.Children, l)
	}
}

// push starts the record of l; pop ends it.
func (r *recorder) push(l label.Label) {
	if r.records[l] == nil {
		r.records[l] = &Record{}
	}
	r.stack = append(r.stack, l)
}

func (r *recorder) pop() { r.stack = r.stack[:len(r.stack)-1] }

// env records that the label being analyzed inherited variable name.
func (r *recorder) env(name string) {
	if c := r.current(); c != nil {
		c.Env = insertSorted(c.Env, name)
	}
}

// loadPackage is the loader's LoadPackage, recorded as read by the label
// being analyzed.
func (a *Analyzer) loadPackage(ctx context.Context, pkg string) (*loading.Package, error) {
	if c := a.rec.current(); c != nil {
		c.Packages = insertSorted(c.Packages, pkg)
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
