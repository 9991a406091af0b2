package build

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	"bld/exec/graph"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/snapshot"
	"bld/starlark/workspace"
)

// analyzeIncremental analyzes again only the labels that changes marks
// dirty (those of the packages whose reads changed, and those whose
// analysis read them, directly or not), takes the others' actions from
// snap, and saves the new snapshot. ok is false, with no error, when it cannot answer as a
// complete analysis would (a package that does not load, an analysis that
// fails, outputs in conflict): the caller then analyzes everything, which
// reports the errors as usual. err is only ctx's.
//
// The plan it returns is the one a complete analysis gives, actions in the
// same order: Reassemble replays the analysis in its order, taking each
// clean label from the snapshot (its analysis read nothing that changed)
// and each other from the analyzer, which analyzes it and, in memory,
// whatever it depends on.
func analyzeIncremental(ctx context.Context, req Request, key string, snap *snapshot.Loaded, changes *snapshot.Changes, start time.Time) (plan *Plan, ok bool, err error) {
	changed := make(map[string]bool, len(changes.Changed))
	for _, p := range changes.Changed {
		changed[p] = true
	}
	loader := req.Loader
	// The staleness check stat'ed every source the analysis asked about:
	// the packages analyzed again ask about theirs once more, and get
	// those answers (one stat of each a build).
	loader.View().UseKnown(snap.Known(changes.Diff))
	// The patterns name the same labels in a package that did not change;
	// each changed package is loaded here for its roots. (It is loaded
	// even when Patch succeeds: Patch compares the roots of the packages
	// loaded, and a changed package none of whose labels is dirty, one
	// that had no target, would not be loaded otherwise; TestIncremental's
	// "a target in the empty package".) All the roots are only needed to
	// replay the analysis (Reassemble): the clean packages' are gathered
	// only if Patch fails (at 10k targets, 10,000 labels made and sorted
	// for nothing in the common case).
	changedRoots := map[string][]label.Label{}
	for _, p := range snap.Index.Packages {
		if !changed[p.Path] {
			continue
		}
		pkg, err := loader.LoadPackage(ctx, p.Path)
		if err != nil {
			return nil, false, ctx.Err()
		}
		rs, err := loader.PatternTargets(pkg, req.Patterns)
		if err != nil {
			return nil, false, ctx.Err()
		}
		changedRoots[p.Path] = rs
	}
	allRoots := func() []label.Label {
		var roots []label.Label
		for _, p := range snap.Index.Packages {
			if rs, ok := changedRoots[p.Path]; ok {
				roots = append(roots, rs...)
			} else {
				roots = append(roots, p.RootLabels()...)
			}
		}
		snapshot.SortLabels(roots)
		return roots
	}

	an := analysis.New(loader, req.Config, req.Base, req.HostEnv)
	owned := ownedActions(an)
	analyze := func(l label.Label) (*snapshot.Analyzed, error) {
		c, err := an.Analyze(ctx, l)
		if err != nil {
			return nil, err
		}
		return analyzed(an, l, c, owned(l)), nil
	}
	reloaded := func() ([]snapshot.Package, bool) {
		var pkgs []snapshot.Package
		for _, p := range loader.LoadedPackages() {
			pi, err := packageIndex(ctx, loader, p, req.Patterns)
			if err != nil {
				return nil, false
			}
			pkgs = append(pkgs, pi)
		}
		return pkgs, true
	}
	// Mostly, the dirty labels' analysis has the same shape as before
	// and their actions replace the old ones in place; else the analysis
	// is replayed.
	actions, goals, index, patched := snap.Patch(changes, reloaded, analyze)
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	var targets []snapshot.Target
	if !patched {
		actions, goals, targets, err = snap.Reassemble(allRoots(), changes.DirtyLabels, analyze)
		if err != nil {
			return nil, false, ctx.Err()
		}
	}
	if !patched && outputConflict(actions) != "" {
		return nil, false, nil
	}
	view := loader.View()
	isFile := snap.SourceChecker(changes.Diff, view.IsFile)
	if patched && changes.KeptSourcesExist() {
		plan, err = newPatchedPlan(actions, goals, snap.Snapshot, isFile)
	} else {
		plan, err = NewPlan(actions, goals, isFile)
	}
	if err != nil {
		return nil, false, nil
	}
	// The staleness check stat'ed the snapshot's source files: the
	// build's check uses those stats, as a reused snapshot's does, rather
	// than stat'ing each source again (10,000 stats at 10k targets).
	plan.useStats(changes.Stats)
	// The actions taken from the snapshot, at their places, come with
	// their digests: only those analyzed again are hashed.
	plan.Graph.UseKeptDigests(snap.KeptDigests())
	req.Phases.Add(fmt.Sprintf("analysis (incremental: %d of %d packages, %d of %d labels)",
		len(changes.Dirty), len(snap.Index.Packages), len(changes.DirtyLabels), snap.Index.NumTargets()), start)

	if req.SnapPath == "" {
		return plan, true, nil
	}
	next := &snapshot.Snapshot{Key: key, Env: snap.Env, Actions: actions, Goals: goals, Index: index, Links: plan.links()}
	loaded := map[string]bool{}
	for _, p := range loader.LoadedPackages() {
		loaded[p] = true
	}
	if !patched {
		pkgs := map[string]snapshot.Package{}
		for _, p := range snap.Index.Packages {
			pkgs[p.Path] = p
		}
		fresh, ok := reloaded()
		if !ok {
			return nil, false, ctx.Err()
		}
		for _, p := range fresh {
			pkgs[p.Path] = p
		}
		var packages []snapshot.Package
		for _, p := range sortedKeys(pkgs) {
			packages = append(packages, pkgs[p])
		}
		next.Index = snapshot.NewIndex(packages, targets, goals)
		next.Env = map[string]snapshot.EnvValue{}
		for _, t := range targets {
			for _, name := range t.Env {
				v, ok := req.Lookup(name)
				next.Env[name] = snapshot.EnvValue{Value: v, Set: ok}
			}
		}
	}
	// Mostly (patched), the snapshot is saved as the bytes of the one
	// loaded and a patch, rather than encoded again.
	// With SaveLater, that is done while the actions run (Plan.save): a
	// build killed before it leaves the snapshot before the edit, whose
	// reads the next build finds changed.
	upd := snapshot.ReadsUpdate{Diff: changes.Diff, Reloaded: loaded, Fresh: view.Reads()}
	patch := patched && !req.wholeSnapshots
	plan.save(req, func() error { return snap.SaveNext(req.SnapPath, next, upd, patch) })
	return plan, true, nil
}

// newPatchedPlan is NewPlan(actions, goals, isFile) for actions that are
// those of the snapshot kept, whose source inputs all still exist
// (snapshot.Changes.KeptSourcesExist), with a few replaced one for one
// (snapshot.Patch): only the sources of the actions not the very ones kept
// are checked with isFile. (At 10k genrules, an edit of one BUILD.star
// otherwise looked up 10,000 kept sources among the snapshot's answers.)
// When the replaced actions read and write what those they replace did
// and the goals are kept's (mostly: a comment edited), the graph is made
// from kept's links (linkedPlan). When a source is missing, or the graph
// has another problem, the error is NewPlan's, every problem reported.
func newPatchedPlan(actions []*graph.Action, goals []string, kept *snapshot.Snapshot, isFile graph.SourceChecker) (*Plan, error) {
	links := kept.Links
	if links != nil && !linksHold(kept, actions, goals) {
		links = nil
	}
	plan, err := linkedPlan(actions, goals, links)
	if err != nil {
		return NewPlan(actions, goals, isFile)
	}
	for id, a := range actions {
		if id < len(kept.Actions) && a == kept.Actions[id] {
			continue
		}
		for k, in := range a.AllInputs() {
			if _, produced := plan.Graph.InputProducer(id, k); !produced && !isFile(in) {
				return NewPlan(actions, goals, isFile)
			}
		}
	}
	return plan, nil
}

// linksHold reports whether kept's links (snapshot.Links) hold for actions
// and goals: as many actions, the same goals, and each action reading and
// writing the paths kept's action at its place did (snapshot.SameLinks).
func linksHold(kept *snapshot.Snapshot, actions []*graph.Action, goals []string) bool {
	if len(actions) != len(kept.Actions) || !slices.Equal(goals, kept.Goals) {
		return false
	}
	for id, a := range actions {
		if !snapshot.SameLinks(kept.Actions[id], a) {
			return false
		}
	}
	return true
}

// newIndex returns the index of a complete analysis by an of the roots
// that the patterns named, which declared actions and goals, or nil if
// the analysis' commit order (analysis.Analyzer.EachCommitted) does not
// give back exactly those (each target's actions, by Owner, in order; the
// roots' goals): then a later build does not analyze incrementally. It is
// the index of a replay of the analysis (snapshot.Assemble, which
// replayIndex makes, for tests), made from what the analysis knows.
//
// released, if not nil, holds the entries of the packages the analysis
// released, which are not loaded again.
func newIndex(ctx context.Context, loader *loading.Loader, an *analysis.Analyzer, patterns []label.Pattern, roots []label.Label, actions []*graph.Action, goals []string, released *releasedIndex) *snapshot.Index {
	if len(actions) != len(an.Actions()) {
		return nil
	}
	packages, ok := loadedPackages(ctx, loader, patterns, roots, released)
	if !ok {
		return nil
	}
	b := snapshot.NewIndexBuilder(an.NumAnalyzed())
	next := 0 // the first action of the next target
	complete := an.EachCommitted(func(_ int, l label.Label, children []int32, pkgs, env []string) {
		n := ownedRun(actions[next:], l)
		next += n
		b.Add(l, n, children, pkgs, env)
	})
	if !complete || next != len(actions) {
		return nil
	}
	return b.Index(packages, goals, func(l label.Label) ([]string, bool) {
		c, ok := an.Result(l)
		if !ok {
			return nil, false
		}
		return goalsOf(c), true
	})
}

// A streamedIndex makes the index of a complete analysis as its results
// are collected (analysis.Collector), in commit order: newIndex without
// the walk of the committed entries after the analysis.
type streamedIndex struct {
	b *snapshot.IndexBuilder
	// foreign says that a target declared an action another owns: then
	// there is no index (newIndex's ownedRun would not find its actions).
	foreign bool
}

// newStreamedIndex returns a streamedIndex for the analysis of roots
// labels. (An analysis has more labels than roots, its sources and
// declared outputs: at 100,000 layered genrules, 110,000; the index grows
// past that as a slice does.)
func newStreamedIndex(roots int) *streamedIndex {
	return &streamedIndex{b: snapshot.NewIndexBuilder(roots + roots/4)}
}

// committed returns the analysis.Collector's Committed function that
// adds each target to s; nil if s is.
func (s *streamedIndex) committed() func(int, label.Label, []*graph.Action, []int32, []string, []string) {
	if s == nil {
		return nil
	}
	return func(_ int, l label.Label, actions []*graph.Action, children []int32, pkgs, env []string) {
		for _, a := range actions {
			if !isOwner(a.Owner, l) {
				s.foreign = true
			}
		}
		s.b.Add(l, len(actions), children, pkgs, env)
	}
}

// index returns the index of the complete analysis whose roots labels
// gave the results rs, or nil as newIndex does.
func (s *streamedIndex) index(ctx context.Context, loader *loading.Loader, patterns []label.Pattern, roots []label.Label, rs *rootResults, released *releasedIndex) *snapshot.Index {
	if s.foreign {
		return nil
	}
	packages, ok := loadedPackages(ctx, loader, patterns, roots, released)
	if !ok {
		return nil
	}
	return s.b.Index(packages, rs.goals, rs.rootGoals(roots))
}

// ownedRun returns how many of actions, from the first, l owns (its
// Owner is l's).
func ownedRun(actions []*graph.Action, l label.Label) int {
	n := 0
	for n < len(actions) && isOwner(actions[n].Owner, l) {
		n++
	}
	return n
}

// isOwner reports whether owner is l.String(), without making it.
func isOwner(owner string, l label.Label) bool {
	if l.Repo != "" {
		return owner == l.String()
	}
	p := len(l.Pkg)
	return len(owner) == 3+p+len(l.Name) && owner[:2] == "//" && owner[2:2+p] == l.Pkg &&
		owner[2+p] == ':' && owner[3+p:] == l.Name
}

// loadedPackages returns the index entries of the packages loader loaded,
// sorted by path, and whether they are complete: each loaded, and their
// roots together being roots. The entries of packages in released (if not
// nil) are taken from there.
func loadedPackages(ctx context.Context, loader *loading.Loader, patterns []label.Pattern, roots []label.Label, released *releasedIndex) ([]snapshot.Package, bool) {
	loaded := loader.LoadedPackages()
	packages := make([]snapshot.Package, 0, len(loaded))
	// The packages' roots, package by package, are in label order
	// (snapshot.Index.Roots), as roots are: they are compared as they
	// come.
	next := 0
	for _, p := range loaded {
		pi, ok, err := released.get(p)
		if !ok {
			pi, err = packageIndex(ctx, loader, p, patterns)
		}
		if err != nil {
			return nil, false
		}
		packages = append(packages, pi)
		for _, name := range pi.Roots {
			if next == len(roots) || roots[next] != (label.Label{Pkg: p, Name: name}) {
				return nil, false
			}
			next++
		}
	}
	return packages, next == len(roots)
}

// replayIndex is newIndex by a replay of the analysis (snapshot.Assemble):
// what newIndex must give, for tests.
func replayIndex(ctx context.Context, loader *loading.Loader, an *analysis.Analyzer, patterns []label.Pattern, roots []label.Label, actions []*graph.Action, goals []string) *snapshot.Index {
	owned := actionsByOwner(actions)
	get := func(l label.Label) (*snapshot.Analyzed, error) {
		c, done := an.Result(l)
		if !done {
			return nil, fmt.Errorf("%s was not analyzed", l)
		}
		return analyzed(an, l, c, owned[l.String()]), nil
	}
	got, gotGoals, targets, err := snapshot.Assemble(roots, get)
	if err != nil || !slices.Equal(got, actions) || !slices.Equal(gotGoals, goals) {
		return nil
	}
	packages, ok := loadedPackages(ctx, loader, patterns, roots, nil)
	if !ok {
		return nil
	}
	return snapshot.NewIndex(packages, targets, goals)
}

// packageIndex returns the index entry of package p, loaded.
func packageIndex(ctx context.Context, loader *loading.Loader, p string, patterns []label.Pattern) (snapshot.Package, error) {
	pkg, err := loader.LoadPackage(ctx, p)
	if err != nil {
		return snapshot.Package{}, err
	}
	return loadedIndex(loader, pkg, patterns)
}

// A releasedIndex holds the index entries of the packages that an
// analysis released (analysis.Analyzer.ReleasePackages), made as they are
// released, so that the index does not load them again. It is safe for
// concurrent use; a nil one holds nothing.
type releasedIndex struct {
	loader   *loading.Loader
	patterns []label.Pattern
	mu       sync.Mutex
	pkgs     map[string]releasedEntry
}

type releasedEntry struct {
	pi  snapshot.Package
	err error
}

func newReleasedIndex(loader *loading.Loader, patterns []label.Pattern) *releasedIndex {
	return &releasedIndex{loader: loader, patterns: patterns, pkgs: map[string]releasedEntry{}}
}

// add makes the entry of pkg, about to be released.
func (r *releasedIndex) add(pkg *loading.Package) {
	pi, err := loadedIndex(r.loader, pkg, r.patterns)
	r.mu.Lock()
	r.pkgs[pkg.Path] = releasedEntry{pi, err}
	r.mu.Unlock()
}

// get returns the entry of package p, if p was released.
func (r *releasedIndex) get(p string) (snapshot.Package, bool, error) {
	if r == nil {
		return snapshot.Package{}, false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.pkgs[p]
	return e.pi, ok, e.err
}

// loadedIndex returns the index entry of the package pkg.
func loadedIndex(loader *loading.Loader, pkg *loading.Package, patterns []label.Pattern) (snapshot.Package, error) {
	p := pkg.Path
	roots, err := loader.PatternTargets(pkg, patterns)
	if err != nil {
		return snapshot.Package{}, err
	}
	names := make([]string, len(roots))
	for i, r := range roots {
		names[i] = r.Name
	}
	return snapshot.Package{Path: p, Files: loader.PackageFiles(p), Roots: names}, nil
}

// analyzed returns what Assemble needs of l, which an analyzed into c and
// which declared actions.
func analyzed(an *analysis.Analyzer, l label.Label, c *analysis.Configured, actions []*graph.Action) *snapshot.Analyzed {
	rec, _ := an.Record(l)
	if rec == nil {
		rec = &analysis.Record{}
	}
	return &snapshot.Analyzed{Children: rec.Children, Packages: rec.Packages, Actions: actions, Goals: goalsOf(c), Env: rec.Env}
}

// actionsByOwner returns actions grouped by their Owner, each group in
// order. An analysis declares each target's actions together, so a group
// is mostly a piece of actions itself, not a copy.
func actionsByOwner(actions []*graph.Action) map[string][]*graph.Action {
	by := make(map[string][]*graph.Action, len(actions))
	for i := 0; i < len(actions); {
		owner := actions[i].Owner
		j := i + 1
		for j < len(actions) && actions[j].Owner == owner {
			j++
		}
		if prev, ok := by[owner]; ok {
			by[owner] = append(slices.Clip(prev), actions[i:j]...)
		} else {
			by[owner] = actions[i:j:j]
		}
		i = j
	}
	return by
}

// ownedActions returns a function giving the actions that an declared for
// a label (their Owner), in order, among those declared so far.
func ownedActions(an *analysis.Analyzer) func(label.Label) []*graph.Action {
	byOwner := map[string][]*graph.Action{}
	seen := 0
	return func(l label.Label) []*graph.Action {
		all := an.Actions()
		for _, a := range all[seen:] {
			byOwner[a.Owner] = append(byOwner[a.Owner], a)
		}
		seen = len(all)
		return byOwner[l.String()]
	}
}

// outputConflict returns an output of actions that is a directory of
// another, or "" if there is none. A complete analysis reports this
// (analysis checks each output against those declared before it); a
// target taken from the snapshot was not checked against those analyzed
// again.
func outputConflict(actions []*graph.Action) string {
	outs := map[string]bool{}
	for _, a := range actions {
		for _, o := range a.Outputs {
			outs[o] = true
		}
	}
	for o := range outs {
		for d := path.Dir(o); d != workspace.OutputDir && d != "." && d != "/"; d = path.Dir(d) {
			if outs[d] {
				return d
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
