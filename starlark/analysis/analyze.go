// Package analysis runs rule implementations over loaded targets and
// collects the actions they declare into an action graph.
//
// Each target is analyzed once, after the targets it depends on; its rule
// implementation gets a ctx (ctx.attr, ctx.files, ctx.actions, ...) and
// returns providers, which its dependents read as dep[Provider].
package analysis

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.starlark.net/starlark"

	"bld/exec/crash"
	"bld/exec/graph"
	"bld/exec/heapgoal"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/structs"
	"bld/starlark/workspace"
)

// A Configured target is the result of analyzing a target: its providers.
type Configured struct {
	Label label.Label
	// Target is nil for a source file.
	Target *loading.Target
	// Providers are the providers the target returned; read them with
	// Provider, which also makes DefaultInfo when implicit.
	Providers map[*loading.Provider]*loading.ProviderInstance
	// implicitDefault says that DefaultInfo is not in Providers but made
	// from Files when asked for (Provider): a source file's, a declared
	// output's, a rule's that returned none. Most of them are never asked
	// for, and an analysis keeps every target's Configured to its end.
	implicitDefault bool
	// Files are the files of DefaultInfo: what building the target means.
	Files []*File
	// Executable is DefaultInfo.executable, or nil.
	Executable *File
	// Args is an executable target's args attribute with $(location L)
	// and its kin expanded (paths are workspace-relative, as the program
	// sees them under bld test and bld run), nil for other targets.
	Args []string
}

// Provider returns c's instance of p, if c has one.
func (c *Configured) Provider(p *loading.Provider) (*loading.ProviderInstance, bool) {
	if p == loading.DefaultInfo && c.implicitDefault {
		return defaultInfo(c.Files, c.Executable), true
	}
	pi, ok := c.Providers[p]
	return pi, ok
}

// providerNames returns the names of c's providers, sorted.
func (c *Configured) providerNames() []string {
	var names []string
	for q := range c.Providers {
		names = append(names, q.Name())
	}
	if c.implicitDefault {
		names = append(names, loading.DefaultInfo.Name())
	}
	sort.Strings(names)
	return names
}

// An Analyzer analyzes targets, each once, and accumulates their actions.
// Its methods are not safe for concurrent use; Prepare analyzes many
// targets in parallel inside.
//
// Each target's own actions are kept with it while it is analyzed and are
// added to the action list (Actions) in the order a depth-first analysis
// of the targets given to Analyze, one after the other, declares them:
// every target's actions after those of the targets it depends on, in
// attribute order. That order, the actions and every error are the same
// whether the targets were analyzed one at a time or in parallel.
type Analyzer struct {
	loader    *loading.Loader
	config    Config
	actionEnv []string
	hostEnv   map[string]string
	workers   int
	// progress, if not nil, is where Prepare says how far it is: of
	// progressTotal (the labels given), targetsDone were analyzed.
	progress                   *heapgoal.Progress
	progressTotal, targetsDone atomic.Int64
	// release says to let go of each package once all its targets are
	// analyzed, after calling beforeRelease, if not nil, with it
	// (ReleasePackages).
	release       bool
	beforeRelease func(*loading.Package)
	// baseEnv is actionEnv as a sorted, deduplicated environment (the
	// last value of a name counts), shared by the actions that add
	// nothing to it; vars and fragments are ctx.var and ctx.fragments,
	// frozen; emptyStruct is the struct with no field, which ctx.file,
	// ctx.executable and ctx.outputs of most rules are (a struct cannot
	// change, so all share it); emptyList is the frozen empty list that
	// ctx.files and ctx.attr give for every empty list of files or
	// targets (frozen, it is never written, so threads share it). All
	// are made once.
	baseEnv         []string
	vars, fragments starlark.Value
	emptyStruct     *structs.Struct
	// configVars are vars as expand_make_variables looks them up.
	configVars []makeVar
	emptyList  *starlark.List
	// ctxLayouts holds, by *loading.Rule, the layouts of ctx's structs
	// for that rule's targets (ctxLayoutsOf).
	ctxLayouts sync.Map

	// threads holds the threads of implementations that ran, for the
	// next ones to reuse (loading.Loader.NewThread), at most one per
	// implementation running at once. It is the Analyzer's own list, not
	// a sync.Pool: the runtime keeps a pool's values through the first
	// collection after their last use (its victim cache), and a thread's
	// stack still refers to the ctx it ran last, through which the whole
	// analysis stayed live through the collection at its end (at 100,000
	// targets, 70 MB).
	threadsMu sync.Mutex
	threads   []*starlark.Thread

	// mu guards st's maps while Prepare runs targets in parallel.
	mu sync.Mutex
	st *state

	// actions are the actions committed so far, in declaration order;
	// producer maps each output of actions[:indexed] to its action. It is
	// brought up to date only when asked (producers): a build's analysis
	// never asks, and graph.New makes its own.
	actions  []*graph.Action
	producer map[string]*graph.Action
	indexed  int
	// committed are the entries committed so far, in commit order (that
	// of their actions in actions); each one's seq is its place here.
	committed []*entry
	// printed holds the targets whose implementations ran in a parallel
	// Prepare that ended in an error: their print()s were shown once, and
	// are not shown again when the analysis is redone one at a time.
	printed map[string]bool
}

// state is what an analysis knows of the targets and files it has seen.
// Prepare replaces it with a new one when it gives up on a parallel run.
type state struct {
	envRead map[string]bool
	files   map[string]*File
	// outDirs maps each directory (under bld-out) that holds a declared
	// output to the first output declared beneath it.
	outDirs map[string]*File
	// entries holds every target analyzed or being analyzed. An entry that
	// failed keeps its error, so that a later dependent gets the same
	// error value without analyzing it again.
	entries map[label.Label]*entry
	// parallel is set while Prepare runs: implementations' print()s are
	// noted in ran, and work takes the dependencies handed out.
	parallel bool
	ran      map[string]bool // by label, as Label.String gives it
	work     *work
	// threads, while Prepare runs, makes the implementations' threads,
	// all cancelled when Prepare's context is done (one AfterFunc for
	// the analysis, not one per target); nil otherwise.
	threads *loading.ThreadGroup
	// notePrint, while Prepare runs, is the threads' print (notingPrint).
	notePrint func(*starlark.Thread, string)
	// pending counts, for each package with a target analyzed, its
	// targets not yet analyzed successfully, while packages are released
	// (ReleasePackages).
	pending map[string]int
}

func newState() *state {
	return &state{
		envRead: map[string]bool{},
		files:   map[string]*File{},
		outDirs: map[string]*File{},
		entries: map[label.Label]*entry{},
		ran:     map[string]bool{},
		pending: map[string]int{},
	}
}

// An entry is the analysis of one label: a rule target, a declared output
// or a source file.
//
// An analysis keeps every entry to its end (its Records are the
// incremental analysis' index), so an entry is kept small: what most
// entries do not need is behind a pointer or made only when needed.
type entry struct {
	l label.Label
	// finished is set, under Analyzer.mu, when c or err is set; waiters,
	// made by wait for goroutines that wait for another's analysis (rare:
	// most entries have none), is closed then. Once Prepare and Analyze
	// have returned, finished can be read without the lock.
	finished bool
	// retry is set on an error that is not the label's own (a package
	// that does not load, a file that does not exist): the message names
	// the dependent, so each dependent analyzes the label again.
	retry     bool
	committed bool
	// seq is the entry's place in Analyzer.committed, once committed.
	seq     int32
	waiters chan struct{}
	owner   *chain // the chain analyzing it, until finished
	c       *Configured
	err     error
	// gen is the target that declares a declared output's file.
	gen *label.Label
	// visits are the entries the analysis asked for, in order (the
	// Record's Children); own are the actions the target declared
	// itself. commit adds them to the action list, visits first, and
	// forgets own.
	visits []*entry
	own    []*graph.Action
	// reads, if not nil, holds what the label's analysis read besides
	// its own package. Like visits and own, only the goroutine analyzing
	// the label writes it, before it is finished.
	reads *reads
}

// reads are what an analysis read besides the label's own package (most
// read nothing else): the other packages loaded on its behalf and the
// variables its actions inherited, both sorted and unique (with the own
// package, the Record's Packages and Env).
type reads struct {
	pkgs, env []string
}

// readsOf returns e.reads, made if need be.
func (e *entry) readsOf() *reads {
	if e.reads == nil {
		e.reads = &reads{}
	}
	return e.reads
}

// wait returns a channel closed when e is finished. a.mu must be held, and
// e not finished.
func (e *entry) wait() <-chan struct{} {
	if e.waiters == nil {
		e.waiters = make(chan struct{})
	}
	return e.waiters
}

// A chain is one goroutine's stack of rule targets being analyzed, and the
// entry it waits for, if another goroutine is analyzing it: following
// owner -> waitingFor links finds dependency cycles across goroutines.
type chain struct {
	stack      []label.Label
	waitingFor *entry
}

// New returns an Analyzer for the configuration cfg. actionEnv is the base
// environment of every action ("KEY=value" entries, such as PATH); rules add
// their own. hostEnv is bld's own environment, from which actions take only
// the variables they name in env_inherit.
func New(loader *loading.Loader, cfg Config, actionEnv, hostEnv []string) *Analyzer {
	host := make(map[string]string, len(hostEnv))
	for _, kv := range hostEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			host[k] = v
		}
	}
	vars := cfg.vars()
	return &Analyzer{
		loader:      loader,
		config:      cfg,
		actionEnv:   actionEnv,
		baseEnv:     sortedEnv(envMap(actionEnv)),
		vars:        vars,
		configVars:  configVars(vars),
		fragments:   cfg.fragments(),
		emptyStruct: structs.FromStringDict(nil),
		emptyList:   fileList(nil),
		hostEnv:     host,
		workers:     runtime.GOMAXPROCS(0),
		st:          newState(),
		printed:     map[string]bool{},
	}
}

// ReleasePackages makes the analysis let go of the loaded targets as it
// goes, so that they can be collected before it ends: once a rule target
// is analyzed, the values of its attributes (loading.Target.ReleaseAttrs;
// what is left of it, label, rule, position, tags and visibility, is what
// its dependents and errors read), unless they are read later (readLater);
// once every target of a package is analyzed, the package itself
// (loading.Loader.Release), which the loader evaluates again if anything
// asks for it later (a file of it first named then, a select() condition
// or package_group read again; an analysis redone one target at a time
// after a parallel one failed). What the analysis gives is the same.
// before, if not nil, is called with each package about to be released,
// from the goroutine that analyzed its last target.
//
// At 100,000 targets, the loaded targets were half of what the analysis
// kept live at its end (75 of 150 MB), and the heap's peak is twice the
// live data.
func (a *Analyzer) ReleasePackages(before func(*loading.Package)) {
	a.release, a.beforeRelease = true, before
}

// readLater reports whether t's attributes are read after its own
// analysis: a test's (TestActions) and the built-in rules' that bld reads
// itself (test_suite, config_setting, package_group).
func readLater(t *loading.Target) bool {
	return t.Rule.Test || isBuiltinRule(t, "test_suite") || isBuiltinRule(t, "config_setting") || isBuiltinRule(t, "package_group")
}

// CountProgress makes Prepare record in pr how far it is: how many rule
// targets it analyzed of the labels it was given (the analysis' size when
// they are every target, as with //...; unknown once more were analyzed),
// all of them once it returns. The heap's goal tightens towards the
// analysis' end, where its live data and so the build's peak memory are
// largest (heapgoal.FollowProgress). (Not the labels taken: a target
// taken first may depend on most of the others.)
func (a *Analyzer) CountProgress(pr *heapgoal.Progress) { a.progress = pr }

// countDone counts a rule target analyzed in progress: so many of the
// labels Prepare was given, or, past their number (dependencies outside
// them), an analysis whose size is not known.
func (a *Analyzer) countDone() {
	done, total := a.targetsDone.Add(1), a.progressTotal.Load()
	if done > total {
		done, total = 0, 0
	}
	a.progress.Set(int(done), int(total))
}

// SetWorkers sets how many targets Prepare analyzes at once (at least 1;
// New's default is GOMAXPROCS).
func (a *Analyzer) SetWorkers(n int) { a.workers = max(n, 1) }

// EnvRead returns the names of the variables of bld's environment that
// actions inherited (env_inherit), sorted: the action graph depends on their
// values.
func (a *Analyzer) EnvRead() []string {
	names := make([]string, 0, len(a.st.envRead))
	for n := range a.st.envRead {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NumAnalyzed returns how many labels were analyzed (or were being
// analyzed when it stopped): the number of Records, for sizing what is
// made of them.
func (a *Analyzer) NumAnalyzed() int { return len(a.st.entries) }

// Actions returns every action of the targets analyzed so far (and the
// tests added), in declaration order.
func (a *Analyzer) Actions() []*graph.Action { return a.actions }

// Prepare analyzes the targets labels and everything they depend on, in
// parallel (SetWorkers), so that Analyze of each of them, in any order,
// then only collects the results. When any target fails (or ctx ends),
// Prepare forgets everything it did, and Analyze then analyzes the targets
// one at a time, as without Prepare: which error is reported first, and
// what -k reports, never depend on timing. (The price is that an analysis
// that fails is done twice.)
//
// The workers take the labels in order; once none is left, a target being
// analyzed also hands its dependencies to idle workers, so that the
// dependency graph of one target is analyzed in parallel too.
func (a *Analyzer) Prepare(ctx context.Context, labels []label.Label) {
	a.prepare(ctx, labels, nil)
}

// A Collector takes the results of a Prepare as they come
// (PrepareCollect), in the order that Analyze of each label in turn
// gives them.
type Collector struct {
	// Committed, if not nil, is called with each entry as it is
	// committed (Analyze's order): seq is its place in that order (that of
	// EachCommitted), l its label, actions the actions it declared itself
	// (added to Actions), and children, pkgs and env are as
	// EachCommitted's, valid only during the call.
	Committed func(seq int, l label.Label, actions []*graph.Action, children []int32, pkgs, env []string)
	// Root is called with the result of the i-th label, after the
	// entries it committed.
	Root func(i int, c *Configured)
}

// PrepareCollect is Prepare followed by Analyze of labels[:n], in order,
// with Collector col's functions called on each result: but the results
// are collected while the targets are analyzed, on a goroutine of its own
// that follows the workers, each label once its analysis is over, rather
// than after them on one core. n is how many labels it collected: all of
// them, unless an analysis failed (then 0: Prepare forgets what it did,
// collections included), ctx ended or there is no parallel analysis (one
// worker). The caller analyzes labels[n:] with Analyze, as after Prepare;
// what Actions, EachCommitted and Result then give is the same as after
// Prepare and Analyze of every label.
//
// col's functions are called from one goroutine at a time, never after
// PrepareCollect has returned.
func (a *Analyzer) PrepareCollect(ctx context.Context, labels []label.Label, col Collector) (n int) {
	return a.prepare(ctx, labels, &col)
}

func (a *Analyzer) prepare(ctx context.Context, labels []label.Label, col *Collector) (collected int) {
	if a.workers <= 1 || len(labels) == 0 {
		return 0
	}
	if len(a.st.entries) == 0 {
		// Sized for the targets named, rather than grown step by step
		// from nothing; not more, as each map would then keep room for
		// what many workspaces never have (at 100,000 targets of
		// genrules reading each other, 110,000 entries: room for twice
		// the targets was 15 MB of empty slots kept to the end).
		n := len(labels)
		a.st.entries = make(map[label.Label]*entry, n)
		a.st.files = make(map[string]*File, n)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newWork(labels, col != nil)
	if a.progress != nil {
		a.progressTotal.Store(int64(len(labels)))
		defer a.progress.Set(len(labels), len(labels))
	}
	defer context.AfterFunc(pctx, w.stop)()
	threads := a.loader.NewThreadGroup(pctx)
	defer threads.Close()
	a.st.parallel, a.st.work, a.st.threads, a.st.notePrint = true, w, threads, a.notingPrint()
	// What Actions and EachCommitted held before, to go back to if the
	// analysis fails after the collector committed some entries.
	actionsBefore, committedBefore := len(a.actions), len(a.committed)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range a.workers {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			ch := &chain{}
			var top entry // the label taken's entry is its one visit
			for {
				l, i, ok := w.take()
				if !ok {
					return
				}
				top.visits = top.visits[:0]
				_, err := a.analyze(pctx, ch, l, nil, &top)
				var e *entry
				if err == nil && len(top.visits) == 1 {
					e = top.visits[0]
				}
				w.done(i, e)
				if err != nil {
					failed.Store(true)
					cancel()
					return
				}
			}
		})
	}
	if col != nil {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			collected = a.collect(w, col)
		})
	}
	wg.Wait()
	a.st.parallel, a.st.work, a.st.threads, a.st.notePrint = false, nil, nil, nil
	if failed.Load() || ctx.Err() != nil {
		collected = 0
		clear(a.actions[actionsBefore:])
		clear(a.committed[committedBefore:])
		a.actions, a.committed = a.actions[:actionsBefore], a.committed[:committedBefore]
		if a.indexed > actionsBefore {
			a.producer, a.indexed = nil, 0
		}
		for l := range a.st.ran {
			a.printed[l] = true
		}
		// The targets analyzed let go of their attributes: their
		// packages are evaluated again for the analysis that follows.
		for p := range a.st.pending {
			a.loader.Release(p)
		}
		a.st = newState()
	}
	return collected
}

// collect commits the results of w's labels in order as the workers
// finish them, calling col's functions, until all are or the work ends
// before; it returns how many labels it collected. It runs beside the
// workers: it writes only what they do not read (an entry's committed,
// seq and own, once finished; Actions and the committed list), and reads
// what they wrote before finishing an entry, which w's lock orders before.
func (a *Analyzer) collect(w *work, col *Collector) int {
	failed := false
	hook := func(e *entry, children []int32) {
		if e.err != nil {
			// Not seen when Prepare succeeds (an error stops it), but
			// what follows is then Analyze's, which reports it.
			failed = true
			return
		}
		if col.Committed == nil {
			return
		}
		var pkgs, env []string
		if e.reads != nil {
			pkgs, env = e.reads.pkgs, e.reads.env
		}
		col.Committed(int(e.seq), e.l, e.own, children, pkgs, env)
	}
	var children []int32
	var ready []*entry
	for i := 0; i < len(w.labels); {
		var ok bool
		ready, ok = w.collectable(i, ready[:0])
		if !ok {
			return i
		}
		for _, e := range ready {
			children = a.commitWith(e, hook, children)
			if failed {
				return i
			}
			col.Root(i, e.c)
			i++
		}
	}
	return len(w.labels)
}

// work is what Prepare's workers analyze: the labels given, in order, then
// the dependencies that targets being analyzed hand out.
type work struct {
	mu     sync.Mutex
	cond   *sync.Cond
	labels []label.Label
	next   int           // the next of labels to take
	queue  []label.Label // dependencies handed out, taken last first
	active int           // workers analyzing a label taken
	end    bool
	// entries[i], when a collector follows the work (PrepareCollect), is
	// the entry of labels[i] once a worker analyzed it successfully;
	// the collector waits for entries[want] (-1: it does not wait).
	entries []*entry
	want    int
}

// collectBatch is how many labels past the next one to collect the
// collector waits for, rather than being woken for each label as the
// workers finish it (at 100,000 targets, a wake-up per label was as
// costly as the collection itself).
const collectBatch = 256

// maxHandedOut bounds the dependencies waiting for a worker.
const maxHandedOut = 1024

func newWork(labels []label.Label, collected bool) *work {
	w := &work{labels: labels, want: -1}
	if collected {
		w.entries = make([]*entry, len(labels))
	}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// take returns the next label to analyze and its place in the labels
// given (-1 for a dependency handed out), waiting while there is none but
// a worker may still hand out more; false means the work is over.
func (w *work) take() (label.Label, int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		switch {
		case w.end:
			return label.Label{}, -1, false
		case len(w.queue) > 0:
			l := w.queue[len(w.queue)-1]
			w.queue = w.queue[:len(w.queue)-1]
			w.active++
			return l, -1, true
		case w.next < len(w.labels):
			w.next++
			w.active++
			return w.labels[w.next-1], w.next - 1, true
		case w.active == 0:
			w.end = true
			w.cond.Broadcast()
			return label.Label{}, -1, false
		}
		w.cond.Wait()
	}
}

// done says that the label taken at place i (take) is analyzed, into
// entry e if it succeeded (else nil).
func (w *work) done(i int, e *entry) {
	w.mu.Lock()
	w.active--
	wake := w.active == 0
	if i >= 0 && w.entries != nil {
		w.entries[i] = e
		wake = wake || i == w.want
	}
	if wake {
		w.cond.Broadcast()
	}
	w.mu.Unlock()
}

// collectable appends to ready the entries of labels[i:] analyzed so far
// without a gap, waiting until there are some, or a batch of them
// (collectBatch) unless the work ends first; false means that the work
// ended without labels[i] analyzed.
func (w *work) collectable(i int, ready []*entry) ([]*entry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want = min(i+collectBatch, len(w.labels)-1)
	for w.entries[i] == nil || (w.entries[w.want] == nil && !w.end) {
		if w.end && w.entries[i] == nil {
			w.want = -1
			return ready, false
		}
		if w.entries[w.want] != nil {
			w.want = i // the batch is done but for its start
		}
		w.cond.Wait()
	}
	w.want = -1
	for ; i < len(w.labels) && w.entries[i] != nil; i++ {
		ready = append(ready, w.entries[i])
	}
	return ready, true
}

// handOut offers the dependencies deps to idle workers, once the labels
// given are all taken (before, the workers have enough to do).
func (w *work) handOut(deps []label.Label) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.end || w.next < len(w.labels) || len(w.queue)+len(deps) > maxHandedOut {
		return
	}
	w.queue = append(w.queue, deps...)
	w.cond.Broadcast()
}

// stop ends the work: take returns false from now on.
func (w *work) stop() {
	w.mu.Lock()
	w.end = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

// Analyze analyzes the target l and everything it depends on (unless
// Prepare did), and adds their actions to the action list. After an
// error the Analyzer stays usable: it can analyze other targets (bld build
// -k), it keeps none of the failed target's actions, and a target that
// depends on a failed one returns the same error value, so that a caller
// reporting each distinct error says it once.
func (a *Analyzer) Analyze(ctx context.Context, l label.Label) (*Configured, error) {
	var top entry
	c, err := a.analyze(ctx, &chain{}, l, nil, &top)
	for _, e := range top.visits {
		a.commit(e)
	}
	return c, err
}

// commit adds the actions of e's analysis to the action list, after those
// of the entries it visited, each target's once. (The visits of an entry
// that failed count: a failed target's dependencies are analyzed.)
func (a *Analyzer) commit(e *entry) { a.commitWith(e, nil, nil) }

// commitWith is commit, calling hook, if not nil, with each entry
// committed and the seqs of its visits (in buf, which it returns for
// reuse), before its actions are added and forgotten.
func (a *Analyzer) commitWith(e *entry, hook func(e *entry, children []int32), buf []int32) []int32 {
	if e.committed {
		return buf
	}
	if !e.finished {
		return buf // interrupted
	}
	e.committed = true
	for _, v := range e.visits {
		buf = a.commitWith(v, hook, buf)
	}
	e.seq = int32(len(a.committed))
	a.committed = append(a.committed, e)
	if hook != nil {
		buf = buf[:0]
		for _, v := range e.visits {
			buf = append(buf, v.seq)
		}
		hook(e, buf)
	}
	if e.err == nil {
		a.actions = append(a.actions, e.own...)
	}
	e.own = nil
	return buf
}

// analyze analyzes l, which from (nil for a command-line target) depends
// on, on chain ch; parent, if not nil, is the entry of from, which notes
// the visit.
func (a *Analyzer) analyze(ctx context.Context, ch *chain, l label.Label, from *loading.Target, parent *entry) (*Configured, error) {
	visit := func(e *entry) {
		if parent != nil {
			parent.visits = append(parent.visits, e)
		}
	}
	for {
		a.mu.Lock()
		e, ok := a.st.entries[l]
		if !ok {
			if err := ctx.Err(); err != nil {
				a.mu.Unlock()
				return nil, err
			}
			e = &entry{l: l, owner: ch}
			a.st.entries[l] = e
			a.mu.Unlock()
			visit(e)
			return a.run(ctx, ch, e, l, from)
		}
		if e.finished {
			a.mu.Unlock()
			if e.retry {
				continue
			}
			visit(e)
			return e.c, e.err
		}
		if e.owner == ch {
			a.mu.Unlock()
			if e.gen != nil {
				// A declared output of a target being analyzed: the
				// cycle is through that target.
				return a.analyze(ctx, ch, *e.gen, nil, nil)
			}
			return nil, a.cycleError(ch, l, from)
		}
		// Another goroutine analyzes l. If it waits, through a chain of
		// waits, for this one, waiting would deadlock: a cycle. Its
		// message depends on timing, but Prepare redoes a failed
		// analysis one at a time, which reports it as ever.
		for x := e; x != nil && x.owner != nil; x = x.owner.waitingFor {
			if x.owner == ch {
				a.mu.Unlock()
				return nil, fmt.Errorf("dependency cycle through %s", l)
			}
		}
		ch.waitingFor = e
		done := e.wait()
		a.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		a.mu.Lock()
		ch.waitingFor = nil
		a.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// run analyzes l into its new entry e and finishes e.
func (a *Analyzer) run(ctx context.Context, ch *chain, e *entry, l label.Label, from *loading.Target) (*Configured, error) {
	c, err, own := a.compute(ctx, ch, e, l, from)
	a.mu.Lock()
	e.c, e.err, e.owner = c, err, nil
	if err != nil && (!own || ctx.Err() != nil) {
		// Not l's own error, or an interruption: the next visit tries
		// again.
		e.retry = true
		delete(a.st.entries, l)
	}
	e.finished = true
	if e.waiters != nil {
		close(e.waiters)
	}
	a.mu.Unlock()
	return c, err
}

// compute is the analysis of l; own reports whether an error is l's
// (kept for the next dependent) rather than its reference's.
func (a *Analyzer) compute(ctx context.Context, ch *chain, e *entry, l label.Label, from *loading.Target) (_ *Configured, _ error, own bool) {
	pkg, err := a.loadPackage(ctx, e, l.Pkg)
	if err != nil {
		var nsp *loading.NoSuchPackageError
		if errors.As(err, &nsp) {
			return nil, referenceError(from, l, err.Error()+"; check the label's package path"), false
		}
		return nil, err, false
	}
	t, ok := pkg.Targets[l.Name]
	if !ok {
		if gen, ok := pkg.Outputs[l.Name]; ok {
			g := gen.Label // not &gen.Label, which would keep gen whole
			a.mu.Lock()
			e.gen = &g
			a.mu.Unlock()
			c, err := a.outputFile(ctx, ch, e, gen, l)
			return c, err, false
		}
		c, err := a.sourceFile(pkg, l, from)
		return c, err, false
	}
	ch.stack = append(ch.stack, l)
	c, err := a.analyzeTarget(ctx, ch, e, t)
	ch.stack = ch.stack[:len(ch.stack)-1]
	if err == nil && a.progress != nil {
		a.countDone()
	}
	if err == nil && a.release {
		a.analyzed(pkg, t)
	}
	return c, err, true
}

// analyzed notes that t, a target of pkg, was analyzed successfully (each
// target is, once at most): it releases t's attributes, unless something
// reads them after its analysis, and pkg once all its targets are analyzed
// (ReleasePackages). A package evaluated again after its release is not
// released again: its targets were all analyzed before.
func (a *Analyzer) analyzed(pkg *loading.Package, t *loading.Target) {
	if !readLater(t) {
		t.ReleaseAttrs()
	}
	a.mu.Lock()
	n, ok := a.st.pending[pkg.Path]
	if !ok {
		n = len(pkg.Targets)
	}
	n--
	a.st.pending[pkg.Path] = n
	a.mu.Unlock()
	if n == 0 {
		if a.beforeRelease != nil {
			a.beforeRelease(pkg)
		}
		a.loader.Release(pkg.Path)
	}
}

// outputFile returns the target of a file that an output attribute of gen
// declares: the file alone, made by gen.
func (a *Analyzer) outputFile(ctx context.Context, ch *chain, e *entry, gen *loading.Target, l label.Label) (*Configured, error) {
	if _, err := a.analyze(ctx, ch, gen.Label, nil, e); err != nil {
		return nil, err
	}
	a.mu.Lock()
	f := a.st.files[path.Join(workspace.OutputDir, l.Pkg, l.Name)]
	a.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("%s: %s %s did not declare its output %s", gen.Pos, gen.Rule.Name(), gen.Label, l.Name)
	}
	return &Configured{Label: l, Files: []*File{f}, implicitDefault: true}, nil
}

// sourceFile returns a source file target, or an error naming the closest
// existing target when the file does not exist (loading.Resolve decides).
func (a *Analyzer) sourceFile(pkg *loading.Package, l label.Label, from *loading.Target) (*Configured, error) {
	if _, err := a.loader.Resolve(pkg, l); err != nil {
		return nil, referenceError(from, l, err.Error())
	}
	a.mu.Lock()
	f := a.file(l.Path(), l, true)
	a.mu.Unlock()
	return &Configured{Label: l, Files: []*File{f}, implicitDefault: true}, nil
}

// referenceError names the target that referred to a bad label.
func referenceError(from *loading.Target, l label.Label, msg string) error {
	if from == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s %s depends on %s: %s", from.Pos, from.Rule.Name(), from.Label, l, msg)
}

// cycleError reports that l, which from depends on, is being analyzed on
// chain ch: the chain from l back to itself, placed at from's declaration.
func (a *Analyzer) cycleError(ch *chain, l label.Label, from *loading.Target) error {
	start := 0
	for i, s := range ch.stack {
		if s == l {
			start = i
		}
	}
	var chain []string
	for _, s := range ch.stack[start:] {
		chain = append(chain, s.String())
	}
	chain = append(chain, l.String())
	msg := fmt.Sprintf("dependency cycle: %s; remove one of these dependencies", strings.Join(chain, " -> "))
	if from != nil {
		return fmt.Errorf("%s: %s", from.Pos, msg)
	}
	return errors.New(msg)
}

// file returns the one *File of a path. a.mu must be held.
func (a *Analyzer) file(path string, owner label.Label, source bool) *File {
	if f, ok := a.st.files[path]; ok {
		return f
	}
	f := &File{Path: path, Owner: owner, IsSource: source}
	a.st.files[path] = f
	return f
}

func (a *Analyzer) analyzeTarget(ctx context.Context, ch *chain, e *entry, t *loading.Target) (*Configured, error) {
	t, err := a.resolveSelects(ctx, e, t)
	if err != nil {
		return nil, err
	}
	depLabels := t.Deps()
	if w := a.st.work; w != nil && len(depLabels) > 1 {
		// This goroutine analyzes the first dependency itself; idle
		// workers may take the others.
		w.handOut(depLabels[1:])
	}
	cs := make([]*Configured, len(depLabels))
	for i, dl := range depLabels {
		c, err := a.analyze(ctx, ch, dl, t, e)
		if err != nil {
			return nil, err
		}
		if c.Target != nil {
			if err := a.checkVisibility(ctx, e, t, c.Target); err != nil {
				return nil, err
			}
		}
		cs[i] = c
	}
	deps := newDepMap(depLabels, cs)
	if isBuiltinRule(t, "alias") {
		actual := deps.of(loading.LabelsOf(t.Attr("actual"))[0])
		return &Configured{Label: t.Label, Target: t, Providers: actual.Providers, implicitDefault: actual.implicitDefault,
			Files: actual.Files, Executable: actual.Executable, Args: actual.Args}, nil
	}
	rc, err := newRuleContext(a, e, t, deps)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %v", t.Pos, t.Rule.Name(), t.Label, err)
	}
	reuse := a.takeThread()
	g := a.st.threads
	var thread *starlark.Thread
	var done func() bool
	if g != nil {
		thread = g.NewThread(rc.owner, reuse)
	} else {
		thread, done = a.loader.NewThread(ctx, rc.owner, reuse)
	}
	a.watchPrint(thread, rc.owner)
	rc.args[0] = rc
	ret, err := starlark.Call(thread, t.Rule.Impl, rc.args[:], nil)
	if g != nil {
		g.Done(thread)
		a.putThread(thread)
	} else if done() {
		a.putThread(thread)
	}
	rc.finished = true
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("analyzing %s (%s, declared at %s):\n%w", t.Label, t.Rule.Name(), t.Pos, loading.EvalErr(err))
	}
	c, err := rc.configured(ret)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %v", t.Pos, t.Rule.Name(), t.Label, err)
	}
	if t.Rule.Executable {
		for _, arg := range stringList(t.Attr("args")) {
			x, err := rc.expand(arg, nil, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %s: attribute args: %v", t.Pos, t.Rule.Name(), t.Label, err)
			}
			c.Args = append(c.Args, x)
		}
	}
	return c, nil
}

// takeThread returns a thread to reuse, or nil.
func (a *Analyzer) takeThread() *starlark.Thread {
	a.threadsMu.Lock()
	defer a.threadsMu.Unlock()
	n := len(a.threads)
	if n == 0 {
		return nil
	}
	th := a.threads[n-1]
	a.threads[n-1] = nil
	a.threads = a.threads[:n-1]
	return th
}

// putThread keeps th, whose implementation is over, for takeThread.
func (a *Analyzer) putThread(th *starlark.Thread) {
	a.threadsMu.Lock()
	a.threads = append(a.threads, th)
	a.threadsMu.Unlock()
}

// watchPrint makes thread, which runs the implementation of the target
// labelled owner (as Label.String gives it, which is also the thread's
// name), note that it printed while Prepare runs in parallel, and print
// nothing when Prepare gave up after the target had printed (its
// messages were shown then).
func (a *Analyzer) watchPrint(thread *starlark.Thread, owner string) {
	switch {
	case a.printed[owner]:
		thread.Print = func(*starlark.Thread, string) {}
	case a.st.parallel:
		thread.Print = a.st.notePrint
	}
}

// notingPrint returns the print function of the threads Prepare runs:
// the loader's, after it notes that the thread's target printed (one
// function for every thread, which it tells apart by name, rather than
// one per target).
func (a *Analyzer) notingPrint() func(*starlark.Thread, string) {
	print := a.loader.PrintFunc()
	return func(th *starlark.Thread, msg string) {
		a.mu.Lock()
		a.st.ran[th.Name] = true
		a.mu.Unlock()
		print(th, msg)
	}
}

// addAction records an action that is no rule's (a test's), checking that
// nothing else produces any of its outputs.
func (a *Analyzer) addAction(act *graph.Action) error {
	producer := a.producers()
	for _, out := range act.Outputs {
		if prev, ok := producer[out]; ok {
			return fmt.Errorf("output %s is already produced by another action (%s of %s)", out, prev.Mnemonic, prev.Owner)
		}
		if f, ok := a.st.files[out]; ok && !f.IsSource {
			return fmt.Errorf("output %s is already declared by %s", out, declarer(f))
		}
	}
	a.actions = append(a.actions, act)
	return nil
}

// Producer returns the action that produces path, if any.
func (a *Analyzer) Producer(path string) (*graph.Action, bool) {
	act, ok := a.producers()[path]
	return act, ok
}

// producers returns a.producer brought up to date with a.actions. (Two
// actions with an output in common never get there: analysis reports the
// second declaration.)
func (a *Analyzer) producers() map[string]*graph.Action {
	if a.producer == nil {
		a.producer = make(map[string]*graph.Action, len(a.actions))
	}
	for _, act := range a.actions[a.indexed:] {
		for _, out := range act.Outputs {
			a.producer[out] = act
		}
	}
	a.indexed = len(a.actions)
	return a.producer
}

func defaultInfo(files []*File, executable *File) *loading.ProviderInstance {
	kwargs := []starlark.Tuple{{starlark.String("files"), fileList(files)}}
	if executable != nil {
		kwargs = append(kwargs, starlark.Tuple{starlark.String("executable"), executable})
	}
	v, err := loading.DefaultInfo.CallInternal(nil, nil, kwargs)
	if err != nil {
		panic(err) // the arguments above are always valid
	}
	return v.(*loading.ProviderInstance)
}

func sortedPaths(files []*File) []string {
	return slices.Clip(appendSortedPaths(make([]string, 0, len(files)), files))
}

// appendSortedPaths appends to dst the paths of files, sorted, each once.
func appendSortedPaths(dst []string, files []*File) []string {
	n := len(dst)
	for _, f := range files {
		dst = append(dst, f.Path)
	}
	if out := dst[n:]; len(out) > 1 {
		sort.Strings(out)
		dst = dst[:n+len(slices.Compact(out))]
	}
	return dst
}

// checkOutputDirs reports an error if the output path p, which t declares,
// is a directory of an output declared before, or if an output declared
// before is a directory of p: both cannot exist. Its cost is one map lookup
// per directory level of p. a.mu must be held.
func (a *Analyzer) checkOutputDirs(p string, t *loading.Target) error {
	if f, ok := a.st.outDirs[p]; ok {
		return fmt.Errorf("output %s of %s is a directory of output %s of %s; rename one",
			p, describeTarget(t), f.Path, declarer(f))
	}
	for d := path.Dir(p); d != workspace.OutputDir && d != "." && d != "/"; d = path.Dir(d) {
		if f, ok := a.st.files[d]; ok && !f.IsSource {
			return fmt.Errorf("output %s of %s is a directory of output %s of %s; rename one",
				d, declarer(f), p, describeTarget(t))
		}
	}
	return nil
}

// addOutputDirs records the directories of the declared output f (those
// under bld-out). A directory already
// recorded has its own directories recorded too, so each directory is
// recorded once over the whole analysis. a.mu must be held.
func (a *Analyzer) addOutputDirs(f *File) {
	for d := path.Dir(f.Path); d != workspace.OutputDir && d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := a.st.outDirs[d]; ok {
			return
		}
		a.st.outDirs[d] = f
	}
}

// declarer describes the target that declared the output f: its label,
// and where it is declared when that is known.
func declarer(f *File) string {
	if f.declarer != nil {
		return describeTarget(f.declarer)
	}
	return f.Owner.String()
}

// describeTarget returns t's label and the position of its declaration.
func describeTarget(t *loading.Target) string {
	return fmt.Sprintf("%s (at %s)", t.Label, t.Pos)
}

// configured returns the analysis of l, if it is done and succeeded.
func (a *Analyzer) configured(l label.Label) (*Configured, bool) {
	e, ok := a.st.entries[l]
	if !ok || e.c == nil || !e.finished {
		return nil, false
	}
	return e.c, true
}
