package executor

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"bld/exec/crash"
	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/sandbox"
)

// An action's place in the build, as the scheduler sees it.
type state uint8

const (
	waiting      state = iota // some dependency is not done
	queuedCheck               // ready: waiting for a checker
	checking                  // a checker is asking the cache
	queuedRun                 // must run: waiting for a token
	queuedRemote              // must run remotely: waiting for a remote slot
	queuedWrite               // must write its file: waiting for a checker
	active                    // its command (or write) is under way
	finished                  // ran, cached or failed
)

// checkerQueueDepth is how many jobs may wait for each checker.
const checkerQueueDepth = 8

// noCacheReason is the Reason of actions marked NoCache, which are never
// looked up in the cache nor stored in it.
const noCacheReason = "action is marked no-cache"

// scheduler is the state of one Run. Only the goroutine in run touches it;
// checkers, command workers and the token acquirer report on events.
type scheduler struct {
	g       *graph.Graph
	opts    Options
	plan    *plan
	sandbox *sandbox.Manager
	// ownSandbox: Run made sandbox (Options.Sandboxes was nil) and closes
	// it when done.
	ownSandbox bool
	journal    *groupJournal // the running process groups, for KillLeftovers
	runner     *runner       // runs the commands
	// removals counts exec roots being deleted in the background: an
	// action is done once its outputs are collected, and deleting its
	// exec root need not delay its dependents. run waits for them.
	removals sync.WaitGroup
	// dirs are the output directories made so far.
	dirs madeDirs

	state   []state
	pending []int    // dependencies not yet done, per action
	reason  []string // Check.Reason of actions that must run
	key     []string // Check.Key of actions that must run
	// prog is Check.Program of actions that must run, until they start.
	prog []*program.Program
	// readyAt is when each action became ready (ready), as time since
	// epoch: 8 bytes an action rather than a time.Time's 24. Zero: not
	// ready (yet).
	readyAt []time.Duration
	epoch   time.Time

	poolQ readyQueue // actions to check or to write, for the checkers
	runQ  readyQueue // actions to run, waiting for a token
	// remoteQ holds the actions to run remotely, waiting for one of
	// RemoteJobs slots; remoteRunning counts those under way.
	remoteQ       readyQueue
	remoteRunning int
	// serialBusy holds the Serial groups with an action running;
	// serialWait the actions of such a group that must run, set aside
	// until it is free (and not in runQ, so no token is asked for them).
	serialBusy map[string]bool
	serialWait map[string][]int

	events chan event
	jobs   chan poolJob
	// work hands functions to idle workers (goWork): the goroutines
	// that run commands and wait for tokens are reused from action to
	// action, with the stacks they grew. workers counts those alive.
	work     chan func()
	workers  sync.WaitGroup
	checkers int // goroutines in the pool
	slots    int // jobs the pool may hold at once: queued or being worked on
	idle     int // free slots
	running  int // command workers

	// claims are the remote actions under way, which may be taken back
	// (takeback.go); wake is signalled when one becomes eligible.
	claims map[int]*remoteClaim
	wake   chan struct{}

	acquiring bool
	// held is a token acquired and kept for an action about to become
	// runnable that is more urgent than any in runQ (hold.go).
	held bool
	// checkingIDs are the actions a checker is checking; endedIDs those
	// whose command has ended and whose outputs are being collected.
	checkingIDs map[int]bool
	endedIDs    map[int]bool
	acqCancel   context.CancelFunc
	stopped     bool
	tokenErr    error
	summary     Summary
	cancelled   bool
}

type eventKind uint8

const (
	evChecked  eventKind = iota // a checker answered a check
	evFinished                  // a checker or command worker finished an action
	evToken                     // the acquirer got a token, or failed to
	evEnded                     // a command worker's process ended (its token is about to be released)
	evFailing                   // a command failed and the build does not keep going: stop before its token comes back
)

type event struct {
	kind  eventKind
	id    int
	check Check
	err   error
	start time.Time
	end   time.Time
	res   Result
	pool  bool // evFinished: it came from a checker (a write)
	// remote, with evFinished: it came from a remote worker (remote.go).
	remote bool
}

// poolJob asks a checker to check action id, or to write its file.
type poolJob struct {
	id    int
	write bool
	key   string
	start time.Time
	why   string
}

func newScheduler(g *graph.Graph, p *plan, opts Options) *scheduler {
	n := len(g.Actions)
	ownSandbox := opts.Sandboxes == nil
	if ownSandbox {
		opts.Sandboxes = sandbox.NewManager(opts.Root, opts.Sandbox)
	}
	s := &scheduler{
		g:       g,
		opts:    opts,
		plan:    p,
		state:   make([]state, n),
		pending: make([]int, n),
		reason:  make([]string, n),
		key:     make([]string, n),
		prog:    make([]*program.Program, n),
		readyAt: make([]time.Duration, n),
		epoch:   time.Now(),
		// Room for every needed action (a wide graph readies them all
		// at once): no copies as the queue grows.
		poolQ:   readyQueue{prio: p.prio, ids: make([]int, 0, len(p.ids))},
		runQ:    readyQueue{prio: p.prio},
		remoteQ: readyQueue{prio: p.prio},
		events:  make(chan event, 64),
		work:    make(chan func()),
		sandbox: opts.Sandboxes,
		journal: newGroupJournal(opts.ProcessDir),

		serialBusy: map[string]bool{},
		serialWait: map[string][]int{},

		checkingIDs: map[int]bool{},
		claims:      map[int]*remoteClaim{},
		wake:        make(chan struct{}, 1),
		endedIDs:    map[int]bool{},
	}
	checkers := runtime.NumCPU()
	if opts.Checkers > 0 {
		checkers = opts.Checkers
	}
	s.checkers = min(checkers, max(len(p.ids), 1))
	// A few jobs queue per checker, so that a checker finishing one does
	// not wait for the scheduler goroutine to hand it the next: on a no-op
	// build that round trip, not the check, would set the pace.
	s.slots = checkerQueueDepth * s.checkers
	s.idle = s.slots
	s.jobs = make(chan poolJob, s.slots)
	s.summary.Total = len(p.ids)
	s.ownSandbox = ownSandbox
	s.runner = newRunner(opts.Root, s.journal, opts.LogDir, opts.Tokens)
	return s
}

func (s *scheduler) run(ctx context.Context) (Summary, error) {
	planned := make([]*graph.Action, len(s.plan.ids))
	for i, id := range s.plan.ids {
		planned[i] = s.g.Actions[id]
	}
	s.opts.Observer.Planned(planned)
	acqCtx, acqCancel := context.WithCancel(ctx)
	defer acqCancel()
	s.acqCancel = acqCancel

	var wg sync.WaitGroup
	for range s.checkers {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			s.checker(ctx)
		})
	}
	defer func() {
		close(s.jobs)
		close(s.work) // nothing is in flight: every worker is idle or about to be
		wg.Wait()
		s.workers.Wait()
		s.removals.Wait()
		if s.ownSandbox {
			s.sandbox.Close()
		}
		s.journal.close()
		s.runner.close()
	}()

	for _, id := range s.plan.ids {
		s.pending[id] = len(s.g.Deps[id])
		if s.pending[id] == 0 {
			s.ready(id)
		}
	}
	s.precheck(ctx)
	if s.poolQ.Len()+s.runQ.Len()+s.remoteQ.Len() > 0 {
		// Something is left to schedule: it needs the priorities.
		s.plan.prioritize(s.g, s.opts.Durations)
		s.poolQ.reheap()
		s.runQ.reheap()
		s.remoteQ.reheap()
	}
	done := ctx.Done()
	for {
		s.dispatch(ctx, acqCtx)
		if s.inFlight() == 0 {
			break
		}
		select {
		case ev := <-s.events:
			s.handle(ctx, ev)
		case <-s.wake:
		case <-done:
			done = nil
			s.cancelled = true
			s.stop()
		}
	}
	s.releaseHeld() // nothing is in flight, so nothing is about to run
	s.summary.Skipped = s.summary.Total - s.summary.Ran - s.summary.Restored - s.summary.UpToDate - s.summary.Failed
	return s.summary, s.err(ctx)
}

func (s *scheduler) err(ctx context.Context) error {
	failed := ""
	if s.summary.Failed == 1 {
		failed = "1 action failed"
	} else if s.summary.Failed > 1 {
		failed = fmt.Sprintf("%d actions failed", s.summary.Failed)
	}
	switch {
	case s.cancelled:
		if failed != "" {
			return fmt.Errorf("build interrupted (%s): %w", failed, ctx.Err())
		}
		return fmt.Errorf("build interrupted: %w", ctx.Err())
	case s.tokenErr != nil:
		return fmt.Errorf("build stopped: acquiring a job token: %w", s.tokenErr)
	case failed != "":
		return fmt.Errorf("build failed: %s", failed)
	}
	return nil
}

// inFlight counts the goroutines whose report the scheduler awaits.
func (s *scheduler) inFlight() int {
	n := s.slots - s.idle + s.running + s.remoteRunning
	if s.acquiring {
		n++
	}
	return n
}

// stop starts nothing new from now on, and cancels a pending Acquire.
func (s *scheduler) stop() {
	s.stopped = true
	s.acqCancel()
	s.releaseHeld()
}

// ready queues action id, whose dependencies are all done, and notes when
// (Result.Ready): every action becomes ready here, once.
func (s *scheduler) ready(id int) {
	// At least 1 ns: zero means never ready.
	s.readyAt[id] = max(time.Since(s.epoch), 1)
	a := s.g.Actions[id]
	if !a.NoCache {
		s.state[id] = queuedCheck
		s.poolQ.push(id)
		return
	}
	s.reason[id] = noCacheReason
	s.mustRun(id)
}

// mustRun queues action id to run (or to write its file).
func (s *scheduler) mustRun(id int) {
	if len(s.g.Actions[id].Argv) == 0 {
		s.state[id] = queuedWrite
		s.poolQ.push(id)
		return
	}
	if s.opts.Remote != nil && s.opts.Remote.Accepts(s.g.Actions[id]) {
		s.state[id] = queuedRemote
		s.remoteQ.push(id)
		return
	}
	s.state[id] = queuedRun
	s.runQ.push(id)
}

// dispatch hands queued work to idle checkers, and asks for a token when an
// action waits for one. Only one Acquire is pending at any time, however many
// actions are ready.
func (s *scheduler) dispatch(ctx, acqCtx context.Context) {
	if s.stopped {
		return
	}
	for s.idle > 0 && s.poolQ.Len() > 0 && !s.checkedEnough() {
		id := s.poolQ.pop()
		job := poolJob{id: id}
		if s.state[id] == queuedWrite {
			job.write, job.key, job.why = true, s.key[id], s.reason[id]
			job.start = s.begin(id)
		} else {
			s.state[id] = checking
			s.checkingIDs[id] = true
		}
		s.idle--
		s.jobs <- job
	}
	s.dispatchRemote(ctx)
	if !s.acquiring && !s.held && (s.runQ.Len() > 0 || s.canTakeBack()) {
		s.acquiring = true
		s.goWork(func() {
			err := s.opts.Tokens.Acquire(acqCtx)
			s.events <- event{kind: evToken, err: err}
		})
	}
}

// goWork runs f on an idle worker, or on a new one when none is idle.
// A worker waits for more work once f returns, until run closes s.work
// (when nothing is in flight) and waits for every worker to end. The
// workers are at most as many as the functions under way at once, plus
// those that just sent their last event and are not idle yet. Only the
// scheduler's goroutine calls goWork.
//
// A command's goroutine grows its stack to fork and store (~16 KiB), and a
// new goroutine per action copied its stack each time; a worker keeps the
// stack it grew.
func (s *scheduler) goWork(f func()) {
	select {
	case s.work <- f:
	default:
		s.workers.Add(1)
		crash.Go(func() {
			defer s.workers.Done()
			f()
			for f := range s.work {
				f()
			}
		})
	}
}

// checkedEnough reports whether the next check must wait: enough actions
// already wait to run (as many as the checkers' slots, plus as many as
// run), and the next one to check is no more urgent than the first of
// them. Checking further ahead would only keep what Check computed for
// them (their keys, the stamps of their inputs) in memory: on a build of
// 10,000 independent actions, all of it, until each runs. An action to
// write (queuedWrite) never waits: it needs no token.
func (s *scheduler) checkedEnough() bool {
	waiting := s.runQ.Len() + s.remoteQ.Len()
	if waiting < s.slots+s.running+s.remoteRunning {
		return false
	}
	next := s.poolQ.ids[0]
	if s.state[next] == queuedWrite {
		return false
	}
	return s.runQ.Len() > 0 && s.plan.prio[next] <= s.plan.prio[s.runQ.ids[0]] ||
		s.runQ.Len() == 0 && s.remoteQ.Len() > 0 && s.plan.prio[next] <= s.plan.prio[s.remoteQ.ids[0]]
}

// begin marks id active and tells the observer it starts.
func (s *scheduler) begin(id int) time.Time {
	s.state[id] = active
	now := time.Now()
	s.opts.Observer.Started(id, s.g.Actions[id])
	return now
}

func (s *scheduler) handle(ctx context.Context, ev event) {
	switch ev.kind {
	case evToken:
		s.acquiring = false
		if ev.err != nil {
			if !s.stopped {
				s.tokenErr = ev.err
				s.stop()
			}
			return
		}
		s.held = true
		s.useHeld(ctx)

	case evEnded:
		s.endedIDs[ev.id] = true

	case evFailing:
		if !s.stopped {
			s.stop()
		}

	case evChecked:
		s.idle++
		delete(s.checkingIDs, ev.id)
		defer s.useHeld(ctx)
		s.checked(ev)

	case evFinished:
		delete(s.endedIDs, ev.res.ID)
		defer s.useHeld(ctx)
		if ev.pool {
			s.idle++
		} else if ev.remote {
			s.remoteRunning--
			delete(s.claims, ev.res.ID)
		} else {
			s.running--
			if a := ev.res.Action; a.Serial && a.Group() != "" {
				s.serialBusy[a.Group()] = false
				for _, id := range s.serialWait[a.Group()] {
					s.runQ.push(id)
				}
				delete(s.serialWait, a.Group())
			}
		}
		s.finish(ev.res)
	}
}

// checked acts on the answer of a check (ev, an evChecked): the action is
// done if it is up to date, fails if the check failed, and else must run.
func (s *scheduler) checked(ev event) {
	a := s.g.Actions[ev.id]
	switch {
	case ev.err != nil && s.stopped:
		s.state[ev.id] = waiting // skipped: the check failed because the build stops
	case ev.err != nil:
		s.finish(Result{ID: ev.id, Action: a, Status: StatusFailed, Start: ev.start, End: ev.end,
			ExitCode: -1, Err: fmt.Errorf("checking whether the action is up to date: %w", ev.err)})
	case ev.check.UpToDate:
		status := StatusCached
		if ev.check.Restored {
			status = StatusRestored
		}
		s.finish(Result{ID: ev.id, Action: a, Status: status, Start: ev.start, End: ev.end, Output: ev.check.Output, Remote: ev.check.Remote})
	case s.stopped:
		s.state[ev.id] = waiting // skipped
	default:
		s.reason[ev.id], s.key[ev.id], s.prog[ev.id] = ev.check.Reason, ev.check.Key, ev.check.Program
		s.mustRun(ev.id)
	}
}

// popRunnable takes the most urgent action of runQ that may start now: the
// actions of a Serial group whose member is running are set aside until it
// ends. It reports false when no action may start.
func (s *scheduler) popRunnable() (int, bool) {
	for s.runQ.Len() > 0 {
		id := s.runQ.pop()
		a := s.g.Actions[id]
		if !a.Serial || a.Group() == "" {
			return id, true
		}
		if s.serialBusy[a.Group()] {
			s.serialWait[a.Group()] = append(s.serialWait[a.Group()], id)
			continue
		}
		s.serialBusy[a.Group()] = true
		return id, true
	}
	return 0, false
}

// finish records a finished action and readies the dependents it unblocks.
func (s *scheduler) finish(r Result) {
	s.state[r.ID] = finished
	if at := s.readyAt[r.ID]; at > 0 {
		r.Ready = s.epoch.Add(at)
	}
	s.opts.Observer.Finished(r)
	switch r.Status {
	case StatusFailed:
		s.summary.Failed++
		if s.stopsOnFailure(r.Action) {
			s.stop()
		}
		return
	case StatusRan:
		s.summary.Ran++
	case StatusCached:
		s.summary.UpToDate++
	case StatusRestored:
		s.summary.Restored++
	}
	for _, d := range s.g.Dependents[r.ID] {
		if !s.plan.needed[d] {
			continue
		}
		s.pending[d]--
		if s.pending[d] == 0 && !s.stopped {
			s.ready(d)
		}
	}
}

// stopsOnFailure reports whether a failure of a stops the build: without
// --keep_going, unless a is a test (a failed test does not stop the
// others).
func (s *scheduler) stopsOnFailure(a *graph.Action) bool {
	return !s.opts.KeepGoing && !a.Test
}

// check asks the cache about action id: through CheckIn if it is a
// GraphCache.
func (s *scheduler) check(ctx context.Context, id int) (Check, error) {
	if gc, ok := s.opts.Cache.(GraphCache); ok {
		return gc.CheckIn(ctx, s.g, id)
	}
	return s.opts.Cache.Check(ctx, s.g.Actions[id])
}

// checker serves pool jobs until the job channel is closed: it checks
// actions against the cache, and performs file-writing actions.
func (s *scheduler) checker(ctx context.Context) {
	for job := range s.jobs {
		if job.write {
			s.events <- event{kind: evFinished, pool: true, res: s.write(ctx, job)}
			continue
		}
		start := time.Now()
		c, err := s.check(ctx, job.id)
		s.events <- event{kind: evChecked, id: job.id, check: c, err: err, start: start, end: time.Now()}
	}
}

// write performs a file-writing action and stores its result. When the
// cache cannot record the result, the action fails and its output is
// removed.
func (s *scheduler) write(ctx context.Context, job poolJob) Result {
	a := s.g.Actions[job.id]
	r := Result{ID: job.id, Action: a, Status: StatusRan, Reason: job.why, Start: job.start}
	err := writeFile(s.opts.Root, s.opts.StagingDir, a, &s.dirs)
	if err == nil && !a.NoCache {
		if serr := s.opts.Cache.Store(ctx, a, job.key, nil); serr != nil {
			err = fmt.Errorf("recording the result: %w", serr)
			removeOutputs(s.opts.Root, a)
		}
	}
	r.End = time.Now()
	if err != nil {
		r.Status, r.ExitCode, r.Err = StatusFailed, -1, err
	}
	return r
}

// unblocks reports whether a needed action depends on action id. It reads
// only what does not change during the run: any goroutine may call it.
func (s *scheduler) unblocks(id int) bool {
	for _, d := range s.g.Dependents[id] {
		if s.plan.needed[d] {
			return true
		}
	}
	return false
}

// removeLater deletes the exec root xr in the background: a symbolic
// link per input (ModeSymlinks). In ModeNamespace it is deleted at once:
// only its output directories are on disk, and giving them back to the
// pool empty costs a few system calls, less than a goroutine's start and
// the wake-up of a thread to run it.
func (s *scheduler) removeLater(xr *sandbox.ExecRoot) {
	if xr.Mode() == sandbox.ModeNamespace {
		xr.Remove()
		return
	}
	s.removals.Add(1)
	crash.Go(func() {
		defer s.removals.Done()
		xr.Remove()
	})
}

// execute runs action id's command with a token already held, releases the
// token when the process has ended, checks the outputs and stores the result.
// Whenever the action fails, the cache's failure to record its result
// included, its outputs are removed, so that no later build takes them as
// good.
func (s *scheduler) execute(ctx context.Context, id int, start time.Time, why, key string, prog *program.Program) Result {
	a := s.g.Actions[id]
	r := Result{ID: id, Action: a, Status: StatusRan, Reason: why, Start: start, ExitCode: -1}
	fail := func(err error) Result {
		removeOutputs(s.opts.Root, a)
		r.Status, r.Err, r.End = StatusFailed, err, time.Now()
		return r
	}
	if ro, ok := s.opts.Cache.(RemoteOutputs); ok {
		if err := ro.Materialize(ctx, a); err != nil {
			s.opts.Tokens.Release()
			return fail(err)
		}
	}
	if err := prepareOutputs(s.opts.Root, a, &s.dirs); err != nil {
		s.opts.Tokens.Release()
		return fail(err)
	}
	xr, err := s.sandbox.Prepare(ctx, a)
	if err != nil {
		s.opts.Tokens.Release()
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	if xr != nil {
		defer s.removeLater(xr)
	}
	cr := s.runner.run(ctx, a, prog, xr)
	if s.opts.CommandEnded != nil {
		s.opts.CommandEnded(id)
	}
	// Told before the token is released, so that the scheduler knows which
	// dependents are about to become ready when the token comes back; an
	// action that no needed action depends on has none, and no news
	// (a wake-up of the scheduler's goroutine saved).
	if s.unblocks(id) {
		s.events <- event{kind: evEnded, id: id}
	}
	if cr.err != nil && s.stopsOnFailure(a) {
		// The build stops before the token comes back (the scheduler
		// handles its events in order: this one before the acquirer's),
		// so that no action starts with it: a failed command without
		// --keep_going starts nothing new. The failure itself is
		// counted when the action finishes (finish).
		s.events <- event{kind: evFailing, id: id}
	}
	s.opts.Tokens.Release()
	// Let the next command start now, before this one's outputs are
	// checked and stored: Release readied the goroutine that waits for
	// the token (then the scheduler's, then a worker's) on this thread's
	// P, where it would wait behind Store or for another thread to be
	// woken to take it (a futex wake-up, and sysmon's polling to retake
	// the Ps blocked in the other commands' waits). Yielding runs that
	// chain here, as ninja starts the next command before its bookkeeping.
	runtime.Gosched()
	r.Output, r.ExitCode, r.MaxRSS = cr.output, cr.exitCode, cr.maxRSS
	if cr.err != nil {
		if xr != nil && ctx.Err() == nil {
			if hints := sandbox.Hints(s.opts.Root, a, string(cr.output)+"\n"+cr.err.Error()); len(hints) > 0 {
				cr.err = fmt.Errorf("%w\n%s", cr.err, strings.Join(hints, "\n"))
			}
		}
		return fail(cr.err)
	}
	if xr != nil {
		if err := xr.Collect(a); err != nil {
			return fail(err)
		}
	}
	if err := checkOutputs(s.opts.Root, a, nil); err != nil {
		return fail(err)
	}
	if !a.NoCache {
		if err := s.opts.Cache.Store(ctx, a, key, cr.output); err != nil {
			return fail(fmt.Errorf("recording the result: %w", err))
		}
	}
	r.End = time.Now()
	return r
}
