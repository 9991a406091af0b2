package snapshot

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

// An Index says which package each read, target, action and goal of a
// snapshot belongs to, so that when some of what loading and analysis read
// has changed, only the targets concerned, and those that depend on them,
// need to be analyzed again (Changes, Reassemble).
//
// Its targets are stored by column, children and packages as indices,
// which encode and decode as plain runs of varints (the index is read by
// every build); NewIndex makes one from Targets and Targets gives them
// back.
type Index struct {
	// Packages are the packages loaded, sorted by path.
	Packages []Package
	// The labels analyzed, in the order analysis finished them, which is
	// the order of their actions in Snapshot.Actions: target i is the
	// label Names[i] of package Packages[Pkgs[i]]; it declared Actions[i]
	// actions; its children are the targets whose indices are
	// Children[ChildEnd[i-1]:ChildEnd[i]], and the other packages it read
	// those whose indices are Deps[DepEnd[i-1]:DepEnd[i]] (ChildEnd[-1]
	// and DepEnd[-1] being 0).
	Names              []string
	Pkgs, Actions      []int32
	ChildEnd, Children []int32
	DepEnd, Deps       []int32
	// RootGoalEnd[i] ends the goals of the i-th root (Roots) in
	// Snapshot.Goals, which holds the roots' goals in root order.
	RootGoalEnd []int32
	// Env holds the inherited variables of the few targets with any.
	Env []TargetStrings
}

// TargetStrings are strings of target Target of an Index.
type TargetStrings struct {
	Target int32
	Values []string
}

// A Package is one package loaded for a snapshot.
type Package struct {
	Path string
	// Files are the workspace files its evaluation read: its BUILD.star
	// and the .star files it loaded, directly or not. Its globs are the
	// Reads' globs of Pkg Path.
	Files []string
	// Roots are the names of its targets and files that the target
	// patterns named, sorted.
	Roots []string
}

// RootLabels returns the labels of p's roots.
func (p *Package) RootLabels() []label.Label {
	out := make([]label.Label, len(p.Roots))
	for i, n := range p.Roots {
		out[i] = label.Label{Pkg: p.Path, Name: n}
	}
	return out
}

// NewIndex returns the index of targets (in the order of their actions)
// from packages (sorted by path), whose roots' goals, in root order, are
// goals; or nil if it cannot hold them: a target whose package is not one
// of packages, a child that is not one of targets, a label of another
// repository, a root that is not a target, goals that are not the roots'.
func NewIndex(packages []Package, targets []Target, goals []string) *Index {
	pkgIndex := make(map[string]int32, len(packages))
	for i, p := range packages {
		pkgIndex[p.Path] = int32(i)
	}
	tIndex := make(map[label.Label]int32, len(targets))
	for i, t := range targets {
		tIndex[t.Label] = int32(i)
	}
	nRoots := 0
	for _, p := range packages {
		nRoots += len(p.Roots)
	}
	nChildren, nDeps := 0, 0
	for _, t := range targets {
		nChildren += len(t.Children)
		nDeps += len(t.Deps)
	}
	x := &Index{Packages: packages, Names: make([]string, len(targets)), Pkgs: make([]int32, len(targets)),
		Actions: make([]int32, len(targets)), ChildEnd: make([]int32, len(targets)), DepEnd: make([]int32, len(targets)),
		Children: withRoom(nChildren), Deps: withRoom(nDeps), RootGoalEnd: withRoom(nRoots)}
	// The roots (Roots, without making them), their goals, and which
	// targets they are.
	isRoot := make([]bool, len(targets))
	rootGoals := make([]string, 0, len(goals))
	for _, p := range packages {
		for _, name := range p.Roots {
			i, ok := tIndex[label.Label{Pkg: p.Path, Name: name}]
			if !ok {
				return nil
			}
			isRoot[i] = true
			rootGoals = append(rootGoals, targets[i].Goals...)
			x.RootGoalEnd = append(x.RootGoalEnd, int32(len(rootGoals)))
		}
	}
	for i, t := range targets {
		pi, ok := pkgIndex[t.Label.Pkg]
		if !ok || t.Label.Repo != "" {
			return nil
		}
		x.Names[i], x.Pkgs[i], x.Actions[i] = t.Label.Name, pi, int32(t.Actions)
		for _, c := range t.Children {
			ci, ok := tIndex[c]
			if !ok {
				return nil
			}
			x.Children = append(x.Children, ci)
		}
		x.ChildEnd[i] = int32(len(x.Children))
		for _, d := range t.Deps {
			di, ok := pkgIndex[d]
			if !ok {
				return nil
			}
			x.Deps = append(x.Deps, di)
		}
		x.DepEnd[i] = int32(len(x.Deps))
		if len(t.Goals) > 0 && !isRoot[i] {
			return nil
		}
		if len(t.Env) > 0 {
			x.Env = append(x.Env, TargetStrings{int32(i), t.Env})
		}
	}
	if !slices.Equal(rootGoals, goals) {
		return nil
	}
	return x
}

// withRoom returns an empty slice with room for n, nil if n is 0 (as a
// decoded index has it).
func withRoom(n int) []int32 {
	if n == 0 {
		return nil
	}
	return make([]int32, 0, n)
}

// x0Roots returns the roots of packages, package by package (Index.Roots).
func x0Roots(packages []Package) []label.Label {
	n := 0
	for _, p := range packages {
		n += len(p.Roots)
	}
	roots := make([]label.Label, 0, n)
	for _, p := range packages {
		roots = append(roots, p.RootLabels()...)
	}
	return roots
}

// NumTargets returns how many targets the index holds.
func (x *Index) NumTargets() int { return len(x.Names) }

func (x *Index) label(i int32) label.Label {
	return label.Label{Pkg: x.Packages[x.Pkgs[i]].Path, Name: x.Names[i]}
}

func (x *Index) children(i int) []int32 {
	start := int32(0)
	if i > 0 {
		start = x.ChildEnd[i-1]
	}
	return x.Children[start:x.ChildEnd[i]]
}

func (x *Index) deps(i int) []int32 {
	start := int32(0)
	if i > 0 {
		start = x.DepEnd[i-1]
	}
	return x.Deps[start:x.DepEnd[i]]
}

// Targets returns the targets of s's index, as NewIndex took them.
func (s *Snapshot) Targets() []Target {
	return s.Index.targets(s.Goals)
}

// targets returns the index's targets; goals are the snapshot's.
func (x *Index) targets(goals []string) []Target {
	labels := make([]label.Label, len(x.Names))
	for i := range labels {
		labels[i] = x.label(int32(i))
	}
	out := make([]Target, len(x.Names))
	for i := range out {
		t := Target{Label: labels[i], Actions: int(x.Actions[i])}
		for _, c := range x.children(i) {
			t.Children = append(t.Children, labels[c])
		}
		for _, d := range x.deps(i) {
			t.Deps = append(t.Deps, x.Packages[d].Path)
		}
		out[i] = t
	}
	idx := make(map[label.Label]int, len(labels))
	for i, l := range labels {
		idx[l] = i
	}
	start := int32(0)
	for i, r := range x.Roots() {
		if j, ok := idx[r]; ok {
			out[j].Goals = goals[start:x.RootGoalEnd[i]:x.RootGoalEnd[i]]
		}
		start = x.RootGoalEnd[i]
	}
	for _, e := range x.Env {
		out[e.Target].Env = e.Values
	}
	return out
}

// A Target is the analysis of one label.
type Target struct {
	Label label.Label
	// Children are the labels its analysis asked for, in order
	// (analysis.Record).
	Children []label.Label
	// Deps are the other packages its analysis read, sorted: those of
	// Children and those it loaded (analysis.Record.Packages).
	Deps []string
	// Actions is how many actions it declared: in Snapshot.Actions, they
	// follow those of the targets before it.
	Actions int
	// Goals are, for a label the patterns named, the outputs that building
	// it brings up to date.
	Goals []string
	// Env are the variables of bld's environment its actions inherit.
	Env []string
}

// Analyzed is what Assemble needs of the analysis of one label.
type Analyzed struct {
	Children []label.Label
	// Packages are the packages it loaded besides those of Children.
	Packages []string
	Actions  []*graph.Action
	// Goals are the outputs that building it brings up to date; only those
	// of roots are kept.
	Goals []string
	Env   []string
}

// Assemble replays an analysis from the roots (in order): depth first, each
// label once, a label's children before the label itself, which is the order
// in which analysis declares actions. get returns what the analysis of a
// label produced (from a snapshot or from analysis just done). It returns
// the actions and goals in the order a complete analysis of the roots gives,
// and the targets of a new Index.
func Assemble(roots []label.Label, get func(label.Label) (*Analyzed, error)) (actions []*graph.Action, goals []string, targets []Target, err error) {
	return assemble(roots, get, 0, 0)
}

// assemble is Assemble with room for about nTargets targets and nActions
// actions.
func assemble(roots []label.Label, get func(label.Label) (*Analyzed, error), nTargets, nActions int) (actions []*graph.Action, goals []string, targets []Target, err error) {
	// state[l] is 0 for a label not met yet, root for a root not
	// visited yet, and 1 + its index in targets once visited.
	const root = -1
	state := make(map[label.Label]int32, max(nTargets, len(roots)))
	for _, r := range roots {
		state[r] = root
	}
	targets = make([]Target, 0, nTargets)
	actions = make([]*graph.Action, 0, nActions)
	var visit func(l label.Label) error
	visit = func(l label.Label) error {
		st := state[l]
		if st > 0 {
			return nil
		}
		state[l] = int32(len(targets)) + 1 // (its index is set below; a cycle stops here)
		a, err := get(l)
		if err != nil {
			return err
		}
		for _, c := range a.Children {
			if err := visit(c); err != nil {
				return err
			}
		}
		t := Target{Label: l, Children: a.Children, Actions: len(a.Actions), Env: a.Env, Deps: packageDeps(l.Pkg, a)}
		if st == root {
			t.Goals = a.Goals
		}
		state[l] = int32(len(targets)) + 1
		targets = append(targets, t)
		actions = append(actions, a.Actions...)
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, nil, nil, err
		}
		goals = append(goals, targets[state[r]-1].Goals...)
	}
	return actions, goals, targets, nil
}

// Reassemble is Assemble for an incremental analysis of s: a label whose
// analysis s holds and that is not dirty (Changes.DirtyLabels) is taken
// from s; analyze returns what the analysis of any other produced.
func (s *Snapshot) Reassemble(roots []label.Label, dirty map[label.Label]bool, analyze func(label.Label) (*Analyzed, error)) (actions []*graph.Action, goals []string, targets []Target, err error) {
	r := s.reuser()
	return assemble(roots, func(l label.Label) (*Analyzed, error) {
		if i, ok := r.index[l]; ok && !dirty[l] {
			return r.analyzed(i), nil
		}
		return analyze(l)
	}, s.Index.NumTargets()+len(roots), len(s.Actions))
}

// Patch is the fast way of Reassemble: when the analysis of every dirty
// label (changes, which Changes returned for s) gives the same children,
// number of actions, outputs, packages read, inherited variables and
// number of goals as before, and the roots are the same, the order of the
// actions is the same (and their outputs, which a complete analysis
// checked) and only the dirty labels' actions and goals change: Patch
// returns s's actions and goals with those replaced, and s's index with
// the packages that reloaded returns (those loaded again) replaced. ok is
// false when a dirty label's analysis differs in shape or fails, or
// reloaded fails: then Reassemble.
func (s *Snapshot) Patch(changes *Changes, reloaded func() ([]Package, bool), analyze func(label.Label) (*Analyzed, error)) (actions []*graph.Action, goals []string, x *Index, ok bool) {
	old := s.Index
	n := old.NumTargets()
	actionEnd := make([]int, n)
	end := 0
	for i := range n {
		end += int(old.Actions[i])
		actionEnd[i] = end
	}
	// Where the goals of the dirty roots are in s.Goals: roots are in
	// package order, each package's by name.
	dirtyPkgs := map[int32]map[string]int32{} // package -> name -> dirty target
	for _, i := range changes.dirty {
		if dirtyPkgs[old.Pkgs[i]] == nil {
			dirtyPkgs[old.Pkgs[i]] = map[string]int32{}
		}
		dirtyPkgs[old.Pkgs[i]][old.Names[i]] = i
	}
	goalStart, goalEnd := map[int32]int32{}, map[int32]int32{}
	k, start := 0, int32(0)
	for p, pkg := range old.Packages {
		names := dirtyPkgs[int32(p)]
		for _, name := range pkg.Roots {
			if i, ok := names[name]; ok {
				goalStart[i], goalEnd[i] = start, old.RootGoalEnd[k]
			}
			start = old.RootGoalEnd[k]
			k++
		}
	}
	actions = slices.Clone(s.Actions)
	goals = slices.Clone(s.Goals)
	env := map[int32][]string{}
	for _, e := range old.Env {
		env[e.Target] = e.Values
	}
	for _, i := range changes.dirty {
		l := old.label(i)
		a, err := analyze(l)
		if err != nil {
			return nil, nil, nil, false
		}
		var children []label.Label
		for _, c := range old.children(int(i)) {
			children = append(children, old.label(c))
		}
		var deps []string
		for _, d := range old.deps(int(i)) {
			deps = append(deps, old.Packages[d].Path)
		}
		actionStart := 0
		if i > 0 {
			actionStart = actionEnd[i-1]
		}
		if !slices.Equal(a.Children, children) || len(a.Actions) != actionEnd[i]-actionStart ||
			!slices.Equal(packageDeps(l.Pkg, a), deps) || !slices.Equal(a.Env, env[i]) {
			return nil, nil, nil, false
		}
		if gs, ok := goalStart[i]; ok {
			if len(a.Goals) != int(goalEnd[i]-gs) {
				return nil, nil, nil, false
			}
			copy(goals[gs:], a.Goals)
		}
		for j, act := range a.Actions {
			if !slices.Equal(act.Outputs, actions[actionStart+j].Outputs) {
				return nil, nil, nil, false
			}
		}
		copy(actions[actionStart:actionEnd[i]], a.Actions)
	}
	x = &Index{}
	*x = *old
	x.Packages = slices.Clone(old.Packages)
	pkgs, ok := reloaded()
	if !ok {
		return nil, nil, nil, false
	}
	for _, p := range pkgs {
		j, found := slices.BinarySearchFunc(x.Packages, p.Path, func(q Package, path string) int { return strings.Compare(q.Path, path) })
		if !found || !slices.Equal(p.Roots, x.Packages[j].Roots) {
			return nil, nil, nil, false
		}
		x.Packages[j] = p
	}
	return actions, goals, x, true
}

// packageDeps returns the packages other than pkg of a's children and of
// a.Packages, sorted and unique.
func packageDeps(pkg string, a *Analyzed) []string {
	var deps []string
	for _, c := range a.Children {
		if c.Pkg != pkg {
			deps = append(deps, c.Pkg)
		}
	}
	for _, p := range a.Packages {
		if p != pkg {
			deps = append(deps, p)
		}
	}
	if len(deps) < 2 {
		return deps
	}
	sort.Strings(deps)
	return slices.Compact(deps)
}

// Roots returns the labels the patterns named: every package's, in
// package order (which, packages being sorted and their roots too, is
// label order).
func (x *Index) Roots() []label.Label { return x0Roots(x.Packages) }

// SortLabels sorts labels as the loader's Expand does.
func SortLabels(ls []label.Label) {
	slices.SortFunc(ls, func(a, b label.Label) int {
		if label.Less(a, b) {
			return -1
		}
		if label.Less(b, a) {
			return 1
		}
		return 0
	})
}

// Reuse returns, for each label analyzed, what its analysis produced, as
// Assemble's get wants it; actions are those of s.
func (s *Snapshot) Reuse() map[label.Label]*Analyzed {
	r := s.reuser()
	out := make(map[label.Label]*Analyzed, len(r.index))
	for l, i := range r.index {
		out[l] = r.analyzed(i)
	}
	return out
}

// A reuser gives what the analysis of each label of a snapshot produced.
type reuser struct {
	s         *Snapshot
	index     map[label.Label]int32
	actionEnd []int
	goals     map[int32][]string
	env       map[int32][]string
}

func (s *Snapshot) reuser() *reuser {
	x := s.Index
	n := x.NumTargets()
	r := &reuser{s: s, index: make(map[label.Label]int32, n), actionEnd: make([]int, n),
		goals: make(map[int32][]string), env: make(map[int32][]string, len(x.Env))}
	end := 0
	for i := range n {
		r.index[x.label(int32(i))] = int32(i)
		end += int(x.Actions[i])
		r.actionEnd[i] = end
	}
	start := int32(0)
	for i, root := range x.Roots() {
		if t, ok := r.index[root]; ok {
			r.goals[t] = s.Goals[start:x.RootGoalEnd[i]:x.RootGoalEnd[i]]
		}
		start = x.RootGoalEnd[i]
	}
	for _, e := range x.Env {
		r.env[e.Target] = e.Values
	}
	return r
}

// analyzed returns what the analysis of target i produced.
func (r *reuser) analyzed(i int32) *Analyzed {
	x := r.s.Index
	a := &Analyzed{Goals: r.goals[i], Env: r.env[i]}
	if ch := x.children(int(i)); len(ch) > 0 {
		a.Children = make([]label.Label, len(ch))
		for j, c := range ch {
			a.Children[j] = x.label(c)
		}
	}
	for _, d := range x.deps(int(i)) {
		a.Packages = append(a.Packages, x.Packages[d].Path)
	}
	start := 0
	if i > 0 {
		start = r.actionEnd[i-1]
	}
	a.Actions = r.s.Actions[start:r.actionEnd[i]:r.actionEnd[i]]
	return a
}

// SourceChecker returns a graph.SourceChecker that answers from the
// snapshot's reads and diff (the answers Changes just got, Known) and
// asks isFile about any other path.
func (s *Snapshot) SourceChecker(diff *workspace.Diff, isFile func(string) bool) graph.SourceChecker {
	known := s.Known(diff)
	return func(p string) bool {
		if ok, found := known(p); found {
			return ok
		}
		return isFile(p)
	}
}

// Known returns the answers Changes just got to the snapshot's questions
// of existence (IsFile's), diff being its Diff: for a path among them,
// whether it exists now (found true).
func (s *Snapshot) Known(diff *workspace.Diff) func(p string) (exists, found bool) {
	return func(p string) (bool, bool) {
		if diff != nil {
			if ok, found := diff.Exists[p]; found {
				return ok, true
			}
		}
		ok, found := s.Reads.Exists[p]
		return ok, found
	}
}

// KeptSourcesExist reports whether every source input of the actions of
// the snapshot that c's changes are of still exists: each is among the
// snapshot's existence answers, all of them true when it was saved (the
// analysis that saved it checked its graph through them, or through
// SourceChecker), and none of those answers turned false since (c.Diff).
// Then a graph of those actions with a few replaced needs only the
// replaced ones' sources checked.
func (c *Changes) KeptSourcesExist() bool {
	if c.Diff == nil {
		return true
	}
	for _, ok := range c.Diff.Exists {
		if !ok {
			return false
		}
	}
	return true
}

// valid reports whether the index fits the snapshot's actions (a decoded
// file may hold anything).
func (x *Index) valid(actions, goals int) bool {
	n := len(x.Names)
	if len(x.Pkgs) != n || len(x.Actions) != n || len(x.ChildEnd) != n || len(x.DepEnd) != n {
		return false
	}
	total, child, dep := 0, int32(0), int32(0)
	for i := range n {
		if x.Pkgs[i] < 0 || int(x.Pkgs[i]) >= len(x.Packages) || x.Actions[i] < 0 || int(x.Actions[i]) > actions-total ||
			x.ChildEnd[i] < child || int(x.ChildEnd[i]) > len(x.Children) || x.DepEnd[i] < dep || int(x.DepEnd[i]) > len(x.Deps) {
			return false
		}
		total += int(x.Actions[i])
		child, dep = x.ChildEnd[i], x.DepEnd[i]
	}
	inRange := func(s []int32, n int) bool {
		return !slices.ContainsFunc(s, func(v int32) bool { return v < 0 || int(v) >= n })
	}
	for _, t := range x.Env {
		if t.Target < 0 || int(t.Target) >= n {
			return false
		}
	}
	roots, end := 0, int32(0)
	for _, p := range x.Packages {
		roots += len(p.Roots)
	}
	if len(x.RootGoalEnd) != roots || !slices.IsSorted(x.RootGoalEnd) || roots > 0 && x.RootGoalEnd[0] < 0 {
		return false
	}
	if roots > 0 {
		end = x.RootGoalEnd[roots-1]
	}
	if int(end) != goals || end < 0 {
		return false
	}
	return total == actions && inRange(x.Children, n) && inRange(x.Deps, len(x.Packages)) &&
		slices.IsSortedFunc(x.Packages, func(a, b Package) int { return strings.Compare(a.Path, b.Path) })
}

// Changes is what changed in the workspace since a snapshot was taken.
type Changes struct {
	// Diff lists the reads whose answers changed.
	Diff *workspace.Diff
	// Stats are the stats of the files whose existence the check asked
	// about (every file found), for the build to use instead of stat'ing
	// them again (exec/filestat).
	Stats *filestat.Set
	// Full, when not "", says why everything must be loaded and analyzed
	// again: a change that cannot be tied to packages (a package search
	// whose answer changed, a variable of bld's environment, a file read
	// for no package), or a snapshot without an index.
	Full string
	// Changed are the packages whose reads changed. DirtyLabels are the
	// labels analyzed before whose analysis must be done again: those of
	// the changed packages, those whose analysis read a changed package,
	// and those whose analysis asked for a dirty label, transitively.
	// Dirty are the packages of those labels, and the changed ones: the
	// packages to load again. Changed and Dirty are sorted.
	Changed, Dirty []string
	DirtyLabels    map[label.Label]bool
	// dirty are the indices in the snapshot's index of DirtyLabels, in
	// index order.
	dirty []int32
}

// None reports whether nothing the snapshot depends on changed.
func (c *Changes) None() bool { return c.Full == "" && len(c.Changed) == 0 }

// Changes re-reads what the snapshot depends on in the workspace at root,
// and with getenv bld's environment, and says what changed and which
// packages it concerns.
func (s *Snapshot) Changes(root string, getenv func(string) (string, bool)) *Changes {
	for _, name := range sortedKeys(s.Env) {
		want := s.Env[name]
		v, ok := getenv(name)
		if ok != want.Set || v != want.Value {
			return &Changes{Full: "$" + name + " changed"}
		}
	}
	stats := filestat.New(len(s.Reads.Exists))
	c := &Changes{Diff: s.Reads.DiffStats(root, stats), Stats: stats}
	if c.Diff.Empty() {
		return c
	}
	if len(c.Diff.Packages) > 0 {
		c.Full = "the packages under //" + c.Diff.Packages[0] + " changed"
		return c
	}
	if s.Index == nil {
		c.Full = "the snapshot has no index"
		return c
	}
	known := make(map[string]bool, len(s.Index.Packages))
	owners := map[string][]string{} // file -> packages that read it
	for _, p := range s.Index.Packages {
		known[p.Path] = true
		for _, f := range p.Files {
			owners[f] = append(owners[f], p.Path)
		}
	}
	changed := map[string]bool{}
	for _, f := range sortedKeys(c.Diff.Files) {
		if len(owners[f]) == 0 {
			c.Full = f + " changed"
			return c
		}
		for _, p := range owners[f] {
			changed[p] = true
		}
	}
	for _, g := range c.Diff.Globs {
		if !known[g.Pkg] {
			c.Full = fmt.Sprintf("glob(%q) in //%s matches other files", g.Include, g.Pkg)
			return c
		}
		changed[g.Pkg] = true
	}
	for _, f := range sortedKeys(c.Diff.Exists) {
		// The label of a source file is in one of the packages above
		// it: whichever asked, it is marked.
		found := false
		for d := path.Dir(f); ; d = path.Dir(d) {
			if d == "." {
				d = ""
			}
			if known[d] {
				changed[d] = true
				found = true
			}
			if d == "" {
				break
			}
		}
		if !found {
			c.Full = f + " appeared or disappeared"
			return c
		}
	}
	// A label's analysis must be done again if its package changed, if
	// it read a package that changed, or if the analysis of one of its
	// children must.
	x := s.Index
	n := x.NumTargets()
	// Each label's parents, as one array: the parents of ch are
	// parents[start[ch]:start[ch+1]] (a slice per label took 24 bytes
	// each, 0.5 MB of fresh heap at 20,000 labels).
	start := make([]int32, n+1)
	for i := range n {
		for _, ch := range x.children(i) {
			start[ch+1]++
		}
	}
	for i := range n {
		start[i+1] += start[i]
	}
	parents := make([]int32, start[n])
	fill := slices.Clone(start[:n])
	for i := range n {
		for _, ch := range x.children(i) {
			parents[fill[ch]] = int32(i)
			fill[ch]++
		}
	}
	marked := make([]bool, n)
	var todo []int32
	for i := range n {
		if changed[x.Packages[x.Pkgs[i]].Path] || slices.ContainsFunc(x.deps(i), func(p int32) bool { return changed[x.Packages[p].Path] }) {
			marked[i] = true
			todo = append(todo, int32(i))
		}
	}
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, j := range parents[start[i]:start[i+1]] {
			if !marked[j] {
				marked[j] = true
				todo = append(todo, j)
			}
		}
	}
	dirty := map[string]bool{}
	c.DirtyLabels = map[label.Label]bool{}
	for p := range changed {
		c.Changed = append(c.Changed, p)
		dirty[p] = true
	}
	for i := range n {
		if marked[i] {
			l := x.label(int32(i))
			c.DirtyLabels[l] = true
			c.dirty = append(c.dirty, int32(i))
			dirty[l.Pkg] = true
		}
	}
	for p := range dirty {
		c.Dirty = append(c.Dirty, p)
	}
	sort.Strings(c.Changed)
	sort.Strings(c.Dirty)
	return c
}

// UpdateReads returns the reads of an incremental analysis: the snapshot's,
// with every answer that changed (diff) as it is now, and what fresh (the
// reads of the incremental analysis) answered; the globs of the packages
// it loaded again (reloaded) are fresh's.
func (s *Snapshot) UpdateReads(diff *workspace.Diff, reloaded map[string]bool, fresh *workspace.Reads) *workspace.Reads {
	r := &workspace.Reads{
		Files:    make(map[string]string, len(s.Reads.Files)+len(fresh.Files)),
		Packages: s.Reads.Packages,
		Exists:   make(map[string]bool, len(s.Reads.Exists)+len(fresh.Exists)),
	}
	for _, m := range []map[string]string{s.Reads.Files, diff.Files, fresh.Files} {
		for k, v := range m {
			r.Files[k] = v
		}
	}
	for _, m := range []map[string]bool{s.Reads.Exists, diff.Exists, fresh.Exists} {
		for k, v := range m {
			r.Exists[k] = v
		}
	}
	for k, v := range fresh.Packages {
		if r.Packages == nil {
			r.Packages = map[string][]string{}
		}
		r.Packages[k] = v
	}
	for _, g := range s.Reads.Globs {
		if !reloaded[g.Pkg] {
			r.Globs = append(r.Globs, g)
		}
	}
	r.Globs = append(r.Globs, fresh.Globs...)
	workspace.SortGlobs(r.Globs)
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// An IndexBuilder makes the Index of a complete analysis from its targets
// given one at a time in the order of their actions, which the analysis
// knows (analysis.Analyzer.EachCommitted): the Index that NewIndex makes
// of the targets a replay (Assemble) gives, without the replay, its
// targets and its maps of labels, which at 100,000 targets were most of
// the memory of the end of an analysis.
//
// The packages are given last (Index), as they are known only once the
// analysis is over: until then a package is numbered in the order it
// is first seen (pkgPaths), and Index renumbers them.
type IndexBuilder struct {
	x        *Index
	pkgIndex map[string]int32
	pkgPaths []string
	deps     []int32
	failed   bool
}

// NewIndexBuilder returns a builder of the index of about nTargets
// targets.
func NewIndexBuilder(nTargets int) *IndexBuilder {
	b := &IndexBuilder{pkgIndex: map[string]int32{}}
	b.x = &Index{Names: make([]string, 0, nTargets), Pkgs: make([]int32, 0, nTargets),
		Actions: make([]int32, 0, nTargets), ChildEnd: make([]int32, 0, nTargets), DepEnd: make([]int32, 0, nTargets)}
	return b
}

// pkg returns the number of package p, numbered if new.
func (b *IndexBuilder) pkg(p string) int32 {
	i, ok := b.pkgIndex[p]
	if !ok {
		i = int32(len(b.pkgPaths))
		b.pkgIndex[p] = i
		b.pkgPaths = append(b.pkgPaths, p)
	}
	return i
}

// Add adds the next target: label l, which declared actions actions, whose
// children (Target.Children) are the targets added at those places, which
// read the packages pkgs besides its own and its children's, and whose
// actions inherit the variables env. children and pkgs are not kept; env
// is.
func (b *IndexBuilder) Add(l label.Label, actions int, children []int32, pkgs, env []string) {
	x := b.x
	i := int32(len(x.Names))
	if l.Repo != "" {
		b.failed = true
		return
	}
	pi := b.pkg(l.Pkg)
	x.Names, x.Pkgs, x.Actions = append(x.Names, l.Name), append(x.Pkgs, pi), append(x.Actions, int32(actions))
	deps := b.deps[:0]
	for _, c := range children {
		if c < 0 || c >= i {
			b.failed = true
			return
		}
		if x.Pkgs[c] != pi {
			deps = append(deps, x.Pkgs[c])
		}
	}
	x.Children = append(x.Children, children...)
	x.ChildEnd = append(x.ChildEnd, int32(len(x.Children)))
	for _, p := range pkgs {
		if p == l.Pkg {
			continue
		}
		deps = append(deps, b.pkg(p))
	}
	// Unique for now; sorted by path once the packages are known (Index).
	slices.Sort(deps)
	deps = slices.Compact(deps)
	x.Deps = append(x.Deps, deps...)
	x.DepEnd = append(x.DepEnd, int32(len(x.Deps)))
	b.deps = deps
	if len(env) > 0 {
		x.Env = append(x.Env, TargetStrings{i, env})
	}
}

// Index returns the index of the targets added, of packages (sorted by
// path), whose roots have the goals rootGoals gives (each root's, in root
// order, being goals), or nil if it cannot hold them (see NewIndex).
// rootGoals returns ok false for a root that is not a target added.
func (b *IndexBuilder) Index(packages []Package, goals []string, rootGoals func(label.Label) (goals []string, ok bool)) *Index {
	if b.failed {
		return nil
	}
	x := b.x
	x.Packages = packages
	// The packages numbered as seen, numbered by path.
	renumber := make([]int32, len(b.pkgPaths))
	for i, p := range b.pkgPaths {
		j, ok := slices.BinarySearchFunc(packages, p, func(q Package, p string) int { return strings.Compare(q.Path, p) })
		if !ok {
			return nil
		}
		renumber[i] = int32(j)
	}
	for i, p := range x.Pkgs {
		x.Pkgs[i] = renumber[p]
	}
	start := int32(0)
	for _, end := range x.DepEnd {
		deps := x.Deps[start:end]
		for i, d := range deps {
			deps[i] = renumber[d]
		}
		// Packages are sorted by path: their indices sort as
		// packageDeps sorts their paths.
		slices.Sort(deps)
		start = end
	}
	n := 0
	for _, p := range x.Packages {
		n += len(p.Roots)
	}
	x.RootGoalEnd = withRoom(n)
	end := 0
	for _, p := range x.Packages {
		for _, name := range p.Roots {
			g, ok := rootGoals(label.Label{Pkg: p.Path, Name: name})
			if !ok || end+len(g) > len(goals) || !slices.Equal(g, goals[end:end+len(g)]) {
				return nil
			}
			end += len(g)
			x.RootGoalEnd = append(x.RootGoalEnd, int32(end))
		}
	}
	if end != len(goals) {
		return nil
	}
	if len(x.Children) == 0 {
		x.Children = nil
	}
	if len(x.Deps) == 0 {
		x.Deps = nil
	}
	return x
}
