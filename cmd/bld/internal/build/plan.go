// Package build joins the stages of a build for every command that builds
// (bld build, test and run; aquery and query --output=files plan without
// running): Analyze loads and analyzes the targets (or reuses the analysis
// snapshot, bld-out/.bld/analysis) and returns a checked action graph and
// its goals from plain inputs; Layout is the one home of the paths under
// bld-out/.bld; Phases records where a build's time went outside actions.
// cmd/bld keeps flags, usage and printing (cmd/go and its internal/work are
// the model).
package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"bld/exec/crash"
	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/exec/heapgoal"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/snapshot"
)

// A Plan is the action graph of a build and the actions it must bring up
// to date.
type Plan struct {
	Graph *graph.Graph
	Goals []int
	// AnalysisErrors counts the distinct analysis errors that -k
	// reported and went past; the graph leaves their targets out.
	AnalysisErrors int
	// Executables maps the labels analyzed to their programs
	// (DefaultInfo.executable), Args to their args attributes, and Files
	// to the files of their DefaultInfo, when the request keeps no
	// snapshot (Request.SnapPath ""); else they are nil.
	Executables map[string]string
	Args        map[string][]string
	Files       map[string][]string
	// Stats are the stats of source files taken by the analysis
	// snapshot's staleness check, for the action cache to use instead of
	// stat'ing them again; nil without a snapshot. It holds no output of
	// the graph's actions.
	Stats *filestat.Set
	// saved, if not nil, waits for the snapshot being saved
	// (Request.SaveLater) and returns its error; startSave lets the save
	// go on (Execute calls it once the first command has started).
	saved     func() error
	startSave func()
	// analyzed says that the plan comes from a complete analysis: the
	// heap Execute starts with is then mostly the analysis' garbage (and
	// the snapshot's encoding), not data loaded for the build to keep.
	analyzed bool
}

// A Request is what Analyze loads and analyzes, and how.
type Request struct {
	Loader   *loading.Loader
	Config   analysis.Config
	Base     []string // the actions' base environment
	Patterns []label.Pattern
	// HostEnv is bld's environment ("KEY=value"), of which actions get
	// what they name in env_inherit; Lookup reads it.
	HostEnv []string
	Lookup  func(name string) (string, bool)
	// SnapPath is the snapshot's file (Layout.AnalysisSnapshot); ""
	// neither reads nor writes one.
	SnapPath  string
	KeepGoing bool
	// Tests, when not nil, adds an action running each test target the
	// patterns name, test_suites expanded (bld test).
	Tests *analysis.TestOptions
	// Phases records the phases, if not nil.
	Phases *Phases
	// Identity names the bld binary: a snapshot another one made does not
	// apply (its built-in rules may differ).
	Identity string
	// Stderr receives -k's analysis errors and warnings.
	Stderr io.Writer
	// SaveLater has Analyze return before the snapshot of a complete
	// analysis is finished and written: that is done on another
	// goroutine, while the caller runs the plan, and Plan.WaitSaved waits
	// for it and returns its error, which the caller reports. Without it,
	// Analyze writes the snapshot before it returns and warns on Stderr
	// when it cannot.
	SaveLater bool
	// ReadAhead is what the build readied for a build that reuses the
	// snapshot, if anything: Analyze lets it go when it loads and
	// analyzes everything (Execute then reads the record again).
	ReadAhead *ReadAhead
	// wholeSnapshots has an incremental analysis encode its snapshot
	// whole, never as a patch (snapshot.Loaded.SaveNext), for tests.
	wholeSnapshots bool
}

// Analyze loads and analyzes the targets the patterns name and checks the
// resulting action graph. When a snapshot of an earlier analysis of the same
// patterns and configuration is still valid (nothing it read has changed),
// it uses that instead, and loads and analyzes nothing (package snapshot).
// When what changed can be tied to packages, it analyzes again only their
// targets and those whose analysis read them, and takes the rest from the
// snapshot (analyzeIncremental); the plan is the one a complete analysis
// gives. (Not for bld test: its snapshot has no index.)
//
// The phases recorded are "loading" (the packages the patterns name) and
// "analysis" (rule implementations, packages reached through dependencies,
// the graph's checks), or "analysis snapshot" when one was reused, or
// "analysis (incremental: N of M packages, K of L labels)".
//
// With KeepGoing (-k), a target whose analysis fails does not stop the
// others: each distinct error is printed as it comes (a target that
// depends on a failed one fails with the same error, printed once), the
// plan holds what the other targets need, and no snapshot is saved, so
// that the next build analyzes again and reports the errors again.
func Analyze(ctx context.Context, req Request) (*Plan, error) {
	cfg, base, patterns, snapPath, keepGoing, ph := req.Config, req.Base, req.Patterns, req.SnapPath, req.KeepGoing, req.Phases
	root := req.Loader.Root()
	t := time.Now()
	key := snapshotKey(req)
	var snap *snapshot.Loaded
	var err error
	if snapPath != "" {
		snap, err = snapshot.Open(snapPath, key)
		if err != nil {
			return nil, err
		}
	}
	var changes *snapshot.Changes
	if snap != nil {
		changes = snap.Changes(root, req.Lookup)
		if changes.None() {
			// No source is checked for existence: every source input
			// of the snapshot's actions is among its reads' existence
			// answers (the analysis that saved it checked its graph
			// through the View that recorded them, or through
			// SourceChecker, which records the answers it did not
			// have), and Changes just found each answer unchanged. (At
			// 100,000 actions, a lookup by path each, on the path to
			// the first check.)
			plan, err := linkedPlan(snap.Actions, snap.Goals, snap.Links)
			if err == nil {
				plan.useStats(changes.Stats)
				plan.Graph.UseKeptDigests(snap.KeptDigests())
			}
			ph.Add("analysis snapshot", t)
			return plan, err
		}
	}
	incremental := changes != nil && changes.Full == "" && req.Tests == nil
	if !incremental {
		snap, changes = nil, nil
		startComplete(req.ReadAhead, snapPath)
	}
	progress := &heapgoal.Progress{}
	stopWatch := sync.OnceFunc(req.Loader.WatchMemory(progress))
	defer stopWatch()
	if incremental {
		plan, ok, err := analyzeIncremental(ctx, req, key, snap, changes, t)
		if ok || err != nil {
			return plan, err
		}
		snap, changes = nil, nil
		startComplete(req.ReadAhead, snapPath)
	}
	reported := map[string]bool{}
	var report func(error)
	if keepGoing {
		// A package that does not load, a label that names nothing, a
		// target whose analysis fails: each distinct error is reported
		// once and the rest is built.
		report = func(err error) {
			if msg := err.Error(); !reported[msg] {
				reported[msg] = true
				fmt.Fprintf(req.Stderr, "bld: error: %s\n", msg)
			}
		}
	}
	labels, err := req.Loader.ExpandKeepGoing(ctx, patterns, report)
	if err != nil {
		return nil, err
	}
	t = ph.Add("loading", t)
	an := analysis.New(req.Loader, cfg, base, req.HostEnv)
	an.CountProgress(progress)
	// What analysis no longer needs is let go of as it goes: a package
	// once all its targets are analyzed (the index entry of each is made
	// before), their attributes' values once each is.
	var released *releasedIndex
	if snapPath != "" && req.Tests == nil {
		released = newReleasedIndex(req.Loader, patterns)
		an.ReleasePackages(released.add)
	} else {
		an.ReleasePackages(nil)
	}
	// goalEnd has an element per label: it is not grown (and copied) a
	// doubling at a time as the results come. (goals is left to grow:
	// none is nil, not empty, in the snapshot.)
	rs := &rootResults{keep: snapPath == "", goalEnd: make([]int, 0, len(labels))}
	// The results are collected, and the incremental index made, while
	// the targets are analyzed, by a goroutine that follows the workers
	// (at 100,000 targets, ~0.4 s of one core after the analysis, with the
	// other idle). bld test adds its tests' actions as it collects: it
	// collects after.
	wantIndex := snapPath != "" && req.Tests == nil
	var streamed *streamedIndex
	if wantIndex {
		streamed = newStreamedIndex(len(labels))
	}
	collected := 0
	if req.Tests == nil {
		collected = an.PrepareCollect(ctx, labels, analysis.Collector{
			Committed: streamed.committed(),
			Root: func(i int, c *analysis.Configured) {
				rs.add(labels[i], c)
			},
		})
		rs.truncate(labels, collected)
	} else {
		an.Prepare(ctx, labels)
	}
	testsAdded := map[label.Label]bool{}
	addTests := func(c *analysis.Configured) error {
		if testsAdded[c.Label] {
			return nil
		}
		testsAdded[c.Label] = true
		outs, err := an.TestActions(c, *req.Tests)
		rs.goals = append(rs.goals, outs...)
		return err
	}
	for _, l := range labels[collected:] {
		c, err := an.Analyze(ctx, l)
		if err == nil && req.Tests != nil && analysis.IsTest(c) {
			err = addTests(c)
		}
		if err == nil && req.Tests != nil {
			err = addSuite(ctx, an, c, addTests, map[label.Label]bool{})
		}
		if err != nil {
			if !keepGoing || ctx.Err() != nil {
				return nil, err
			}
			report(err)
			continue
		}
		rs.add(l, c)
	}
	goals, executables, args, files := rs.goals, rs.executables, rs.args, rs.files
	actions, envRead := an.Actions(), an.EnvRead()
	// No Starlark runs from here on: what is left (the index, the
	// graph's checks, the snapshot) keeps much of what it allocates, so
	// the heap follows its live data as execution's does, not with
	// analysis's headroom. (At 100,000 targets this is where the peak
	// was: the index's records come on top of all the analysis keeps,
	// and twice that was allowed.)
	//
	// The heap is full of analysis' garbage now, and its goal was set by
	// analysis' headroom: the goal of what follows is set at once from
	// the last collection's live data (FollowNow), else what follows
	// would be allocated on top of that heap, past analysis' peak (at
	// 100,000 targets, the index came 40 MB over it, the build's peak).
	stopWatch()
	// When the index was made as the analysis went (collected), what is
	// left before the collection below allocates little: a goal set now
	// would only start a collection of a heap still all live, and the one
	// below would wait for it and run again (at 100,000 targets, ~0.3 s of
	// both cores); the goal is set after it, and the snapshot's encoding
	// starts after it (started before, its buffers came on top of a heap
	// still full of the analysis' garbage, or of a collection under way:
	// 262 MB of heap at 100,000 targets, against 171 MB).
	indexMade := collected == len(labels)
	if !indexMade {
		defer heapgoal.FollowNow(heapgoal.Execution)()
	}
	// The index of an incremental re-analysis is made from the
	// analysis's records and the packages loaded, before both are
	// dropped.
	var index *snapshot.Index
	if snapPath != "" && len(reported) == 0 && req.Tests == nil {
		if indexMade {
			index = streamed.index(ctx, req.Loader, patterns, labels, rs, released)
		} else {
			index = newIndex(ctx, req.Loader, an, patterns, labels, actions, goals, released)
		}
	}
	// The snapshot's bulk, the actions, is encoded on the other core
	// while this one checks the graph (at 100,000 targets, each of the
	// two about half a second) and, without an index made as the analysis
	// went, collects the analysis; its reads and index are encoded last,
	// once made. (Started before the index, it would overlap that too,
	// but its buffers would come on top of the analysis's live data: +33
	// MB of peak RSS at 100,000 targets.)
	var head chan headResult
	save := snapPath != "" && len(reported) == 0
	startHead := func() {}
	if save {
		env := map[string]snapshot.EnvValue{}
		for _, name := range envRead {
			v, ok := req.Lookup(name)
			env[name] = snapshot.EnvValue{Value: v, Set: ok}
		}
		head = make(chan headResult, 1)
		s := &snapshot.Snapshot{Key: key, Env: env, Actions: actions, Goals: goals}
		// startHead allocates the head's buffers, then encodes it on
		// another goroutine.
		startHead = func() {
			h := snapshot.NewHead(s)
			crash.Go(func() {
				err := h.Encode(s)
				head <- headResult{h, err}
			})
		}
	}
	if !indexMade {
		startHead()
	}
	// The analysis and the packages are garbage from here on: what
	// follows keeps only the actions. Collecting them now sets the heap
	// goal of what follows (the graph's checks, the snapshot's encoding,
	// execution) to GOGC times what is kept, rather than times what
	// analysis had live at its last collection (at 100,000 targets, 1.5
	// GB rather than 0.5).
	an = nil
	req.Loader.Forget()
	runtime.GC()
	if indexMade {
		// The head's string table and buffer are allocated here, before
		// the goals below are set (startHead): their base is then the
		// heap with them (see below).
		startHead()
		if save {
			// From the heap as it is now, the encoder's buffers in it
			// (FollowNow would take the collection's live data, without
			// them, and start a collection at once).
			defer heapgoal.Follow(heapgoal.Execution)()
		} else {
			defer heapgoal.FollowNow(heapgoal.Execution)()
		}
	}
	if save {
		// What is left, the graph's checks and the snapshot's encoding
		// (its string table, its buffers), allocates about as much as is
		// live after the collection above (at 100,000 targets, ~75 MB on
		// 60 MB), and keeps most of it until the snapshot is written.
		// With execution's headroom (a quarter) a collection of the whole
		// heap ran in the middle of it, for garbage that execution's
		// first collection finds anyway; with analysis' headroom from
		// the heap after the collection (twice 60 MB), one still did, on
		// both cores, marking 117 MB of which nothing was garbage (at
		// 100,000 targets, 63 ms of CPU quiet). From the heap with the encoder's
		// buffers allocated (~43 MB of the 75), the goal is past what the
		// rest allocates, and far below analysis' peak (1.25 times ~150
		// MB live), so no collection runs and the peak is unchanged.
		defer heapgoal.Follow(heapgoal.Analysis)()
	}
	view := req.Loader.View()
	plan, err := NewPlan(actions, goals, view.IsFile)
	if err != nil {
		return nil, err
	}
	plan.Executables, plan.Args, plan.Files = executables, args, files
	plan.analyzed = true
	ph.Add("analysis", t)
	if len(reported) > 0 {
		plan.AnalysisErrors = len(reported)
		return plan, nil
	}
	if !save {
		return plan, nil
	}
	// The reads are complete once the graph's sources are checked.
	reads := view.Reads()
	write := func() error {
		hr := <-head
		if hr.err != nil {
			return hr.err
		}
		return hr.head.Save(snapPath, reads, index, plan.links())
	}
	// Only the next build reads the snapshot: with SaveLater, it is
	// finished and written while this one runs its actions (the head's
	// encoding, already under way, is over by then: it overlaps the
	// collection and the graph's checks above).
	plan.save(req, write)
	return plan, nil
}

// startComplete readies a complete analysis (one that loads and analyzes
// every target the patterns name) of a request with the snapshot file
// snapPath: it lets go of what was read ahead for a build that would have
// reused the snapshot (ReadAhead.analyzing) and, when a snapshot or a
// record was read, collects what is garbage now, above all the snapshot
// decoded and found stale (at 100,000 actions, ~100 MB), so that
// analysis' heap goal, which follows the heap as it is until its first
// collection (heapgoal.Follow), follows what is live instead: from a heap
// of 153 MB, the first collection came at 306 MB. A fresh workspace's
// build, which read neither, goes on as before.
func startComplete(ra *ReadAhead, snapPath string) {
	read := ra.analyzing()
	if !read && snapPath != "" {
		fi, err := os.Stat(snapPath)
		read = err == nil && fi.Size() > 0
	}
	if read {
		runtime.GC()
	}
}

// save writes the plan's analysis snapshot with write: at once, warning
// on req.Stderr when it cannot, or, with req.SaveLater, on another
// goroutine once Execute lets it go on (the first command has started,
// or the run is over if none does), so that it takes no CPU from the
// path to the first command; WaitSaved waits for it. write must read
// nothing that the plan's execution changes.
func (p *Plan) save(req Request, write func() error) {
	if !req.SaveLater {
		if err := write(); err != nil {
			fmt.Fprintf(req.Stderr, "bld: warning: %v (the next build will analyze again)\n", err)
		}
		return
	}
	start, done := make(chan struct{}), make(chan error, 1)
	crash.Go(func() {
		<-start
		done <- write()
	})
	p.startSave = sync.OnceFunc(func() { close(start) })
	p.saved = sync.OnceValue(func() error {
		p.startSave()
		return <-done
	})
}

// WaitSaved waits until the analysis snapshot that Analyze left to save
// (Request.SaveLater) is written (starting the save if Execute has not), and returns why it could not be (the
// next build then analyzes again); it returns nil at once when none is
// pending, and the same answer when called again. A process that exits
// without calling it may leave no snapshot, never a partial one (the write
// is atomic).
func (p *Plan) WaitSaved() error {
	if p.saved == nil {
		return nil
	}
	return p.saved()
}

// releaseSave lets the snapshot's save that Analyze left (Request.SaveLater)
// go on; it does nothing without one, or once called.
func (p *Plan) releaseSave() {
	if p.startSave != nil {
		p.startSave()
	}
}

// headResult is what encoding a snapshot's head gave.
type headResult struct {
	head *snapshot.Head
	err  error
}

// rootResults are what a plan keeps of the results of the labels the
// patterns named, gathered in their order.
type rootResults struct {
	// goals are the goals of each label (goalsOf) in turn, and those of
	// the tests added; goalEnd[i] ends the i-th label's (add's) in goals.
	goals   []string
	goalEnd []int
	// keep says to keep executables, args and files (Plan's), for a
	// request without a snapshot.
	keep        bool
	executables map[string]string
	args, files map[string][]string
}

// add adds the result c of label l, the next one.
func (r *rootResults) add(l label.Label, c *analysis.Configured) {
	r.goals = appendGoals(r.goals, c) // no slice of c's own
	r.goalEnd = append(r.goalEnd, len(r.goals))
	if !r.keep {
		// A plan from a snapshot has none of these: no caller that
		// keeps a snapshot reads them (at 100,000 targets, they would
		// be 20 MB for nothing).
		return
	}
	if r.files == nil {
		r.executables, r.args, r.files = map[string]string{}, map[string][]string{}, map[string][]string{}
	}
	name := l.String()
	if len(c.Files) > 0 {
		paths := make([]string, len(c.Files))
		for i, f := range c.Files {
			paths[i] = f.Path
		}
		r.files[name] = paths
	}
	if c.Executable != nil {
		r.executables[name] = c.Executable.Path
		r.args[name] = analysis.ArgsOf(c)
	}
}

// truncate forgets the results added past the n-th of labels (those that
// were added in turn).
func (r *rootResults) truncate(labels []label.Label, n int) {
	if len(r.goalEnd) <= n {
		return
	}
	end := 0
	if n > 0 {
		end = r.goalEnd[n-1]
	}
	clear(r.goals[end:])
	r.goals, r.goalEnd = r.goals[:end], r.goalEnd[:n]
	if r.keep && r.files != nil {
		for _, l := range labels[n:] {
			name := l.String()
			delete(r.files, name)
			delete(r.executables, name)
			delete(r.args, name)
		}
	}
}

// rootGoals returns a function giving the goals of each label in turn,
// for snapshot.IndexBuilder.Index, which asks for the roots in the order
// of the packages' roots: that of labels, or the index is not made.
func (r *rootResults) rootGoals(labels []label.Label) func(label.Label) ([]string, bool) {
	next := 0
	return func(l label.Label) ([]string, bool) {
		if next >= len(labels) || next >= len(r.goalEnd) || labels[next] != l {
			return nil, false
		}
		start := 0
		if next > 0 {
			start = r.goalEnd[next-1]
		}
		next++
		return r.goals[start:r.goalEnd[next-1]], true
	}
}

// snapshotKey returns the key of the analysis snapshot of req: what, besides
// the workspace, its analysis depends on.
func snapshotKey(req Request) string {
	keyParts := append([]string{req.Identity}, req.Base...)
	for _, k := range req.Config.Key() {
		keyParts = append(keyParts, "config:"+k)
	}
	if req.Tests != nil {
		for _, k := range req.Tests.Key() {
			keyParts = append(keyParts, "test:"+k)
		}
	}
	for _, p := range req.Patterns {
		keyParts = append(keyParts, p.String())
	}
	return snapshot.Key(keyParts...)
}

// goalsOf returns the outputs that building c brings up to date.
func goalsOf(c *analysis.Configured) []string {
	return appendGoals(nil, c)
}

// appendGoals appends goalsOf(c) to goals and returns the result.
func appendGoals(goals []string, c *analysis.Configured) []string {
	for _, f := range c.Files {
		if !f.IsSource {
			goals = append(goals, f.Path)
		}
	}
	return goals
}

// NewPlan checks actions as a graph and finds the actions that produce the
// goal outputs.
func NewPlan(actions []*graph.Action, goals []string, isFile graph.SourceChecker) (*Plan, error) {
	g, err := graph.New(actions, isFile)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, min(len(goals), len(actions)))
	seen := make([]bool, len(actions)) // not a map: at 100,000 goals, 14 ms of a no-op's start
	for _, out := range goals {
		if id, ok := g.Producer(out); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return &Plan{Graph: g, Goals: ids}, nil
}

// linkedPlan is NewPlan(actions, goals, nil) for a snapshot's actions and
// goals, made from the snapshot's links when it has them (graph.FromEdges:
// no output map made, no input looked up by path; at 100,000 actions,
// ~0.1 s of CPU on the path to the first check), else by NewPlan.
// Links that do not fit the actions are not used.
func linkedPlan(actions []*graph.Action, goals []string, links *snapshot.Links) (*Plan, error) {
	if links != nil {
		if g, err := graph.FromEdges(actions, links.Edges); err == nil {
			if ids, ok := goalIDs(links.Goals, len(actions), len(goals)); ok {
				return &Plan{Graph: g, Goals: ids}, nil
			}
		}
	}
	return NewPlan(actions, goals, nil)
}

// goalIDs returns the goal IDs that links keep for a graph of n actions
// and goals goals, if they can be those (in range, each once, no more
// than the goals).
func goalIDs(kept []int32, n, goals int) ([]int, bool) {
	if len(kept) > goals {
		return nil, false
	}
	ids := make([]int, len(kept))
	seen := make([]bool, n)
	for i, id := range kept {
		if id < 0 || int(id) >= n || seen[id] {
			return nil, false
		}
		seen[id] = true
		ids[i] = int(id)
	}
	return ids, true
}

// links returns the links of the plan's graph and goals, for its
// snapshot (snapshot.Links).
func (p *Plan) links() *snapshot.Links {
	goals := make([]int32, len(p.Goals))
	for i, id := range p.Goals {
		goals[i] = int32(id)
	}
	return &snapshot.Links{Edges: p.Graph.Edges(), Goals: goals}
}

// useStats hands the plan's build the stats that the staleness check
// took; they may hold outputs of the plan's actions, which the build's
// check never takes from them (see filestat.Set).
func (p *Plan) useStats(stats *filestat.Set) {
	p.Stats = stats
}

// addSuite adds the tests of c, if it is a test_suite (its suites'
// included), with add; seen guards against suites that include each other.
func addSuite(ctx context.Context, an *analysis.Analyzer, c *analysis.Configured, add func(*analysis.Configured) error, seen map[label.Label]bool) error {
	tests, ok, err := an.SuiteTests(ctx, c)
	if !ok || err != nil || seen[c.Label] {
		return err
	}
	seen[c.Label] = true
	for _, l := range tests {
		tc, err := an.Analyze(ctx, l)
		if err != nil {
			return err
		}
		if analysis.IsTest(tc) {
			if err := add(tc); err != nil {
				return err
			}
			continue
		}
		if err := addSuite(ctx, an, tc, add, seen); err != nil {
			return err
		}
	}
	return nil
}
