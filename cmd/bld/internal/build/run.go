package build

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"bld/exec/buildlog"
	"bld/exec/cache"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/heapgoal"
	"bld/exec/remote"
	"bld/exec/remoteexec"
	"bld/exec/sandbox"
	"bld/exec/store"
)

// Prepare readies the workspace for a build, under the workspace lock
// (Layout.LockFile), before anything runs: it kills the commands a build
// killed with SIGKILL left running (returning how many), and removes what
// such a build left in exec roots, beside outputs, in the staging
// directory and in the state directory.
func Prepare(l Layout) (killed int, err error) {
	processDir := l.ProcessDir()
	if err := os.MkdirAll(processDir, 0o755); err != nil {
		return 0, err
	}
	if killed, err = executor.KillLeftovers(processDir, l.Root); err != nil {
		return killed, err
	}
	if err := sandbox.RemoveStale(l.Root); err != nil {
		return killed, err
	}
	// Outputs are restored through temporary files beside them, and a
	// build killed meanwhile leaves a marker that says so in the staging
	// directory; files are written through that directory, so that such a
	// build leaves its other temporary files there.
	if _, err := cache.RemoveTemps(l.OutputDir(), l.StagingDir()); err != nil {
		return killed, err
	}
	if err := sandbox.RemoveAll(l.StagingDir()); err != nil {
		return killed, fmt.Errorf("removing what a killed build left in %s: %w", l.StagingDir(), err)
	}
	// A build killed while it wrote a file of the state directory itself
	// (the snapshot, saved beside the build; the build log) left that
	// file's temporary file there. (A bld analyzing without the lock may
	// be writing the snapshot now: its write then fails, and the next
	// build analyzes again, which costs time, not correctness.)
	if _, err := store.RemoveAbandonedTemps(l.StateDir()); err != nil {
		return killed, fmt.Errorf("removing what a killed build left in %s: %w", l.StateDir(), err)
	}
	return killed, nil
}

// ExecOptions are what Execute runs a plan with.
type ExecOptions struct {
	Layout   Layout
	CacheDir string // the shared action cache (store)
	// Explain makes the cache say what changed since an action's last run.
	Explain bool
	// Rerun, if not nil, names the stage of actions whose cached result
	// must not be used (--rerun-stage).
	Rerun     func(a *graph.Action) string
	Sandbox   sandbox.Mode
	Sandboxes *sandbox.Manager
	Tokens    executor.TokenPool
	Observer  executor.Observer
	KeepGoing bool
	// BuildLog orders the ready actions by measured durations; Execute
	// saves it. Nil runs without one.
	BuildLog *buildlog.Log
	// Warn reports what does not fail the build (a cache that does not
	// work, a build log that cannot be saved).
	Warn func(msg string)
	// Remote are the remote cache and executor, if any.
	Remote Remote

	// CommandEnded is executor.Options.CommandEnded.
	CommandEnded func(id int)

	// ReadAhead is what StartReadAhead readied, if not nil.
	ReadAhead *ReadAhead
}

// A ReadAhead is what a build readies before Analyze for the build most
// often run, one that reuses the analysis snapshot (a no-op): collections
// held off while what it loads stays live (ReserveHeap), and the action
// cache's record, read in the background while the snapshot loads. Pass
// it to Analyze (Request.ReadAhead) and to Execute (ExecOptions.ReadAhead).
// A build that loads and analyzes instead lets both go before it starts:
// the record (at 100,000 actions, ~60 MB) would be live beside all that
// analysis keeps, and the heap's goal would follow a heap holding it and
// the snapshot just decoded for nothing, twice that at the first
// collection (a 100,000-action build that analyzed again and found every
// action up to date peaked at 331-358 MiB, docs/benchmarks.md, mem8). The
// record is then read by Execute, after the collection it starts: read
// again as soon as analysis' garbage was collected, beside the graph's
// checks and the snapshot's encoding, it came on top of a heap the
// collection had left fragmented, and RSS rose by 50 MB there. What
// changed since a read (another build ran before this one took the
// workspace lock) is read again at Execute. A nil *ReadAhead readies
// nothing.
type ReadAhead struct {
	endReserve func()
	record     *cache.Preload
	// dropped says that analyzing let go of what was read ahead, and
	// droppedRecord that it held a record with entries.
	dropped, droppedRecord bool
}

// StartReadAhead readies a build of the workspace l (see ReadAhead). With
// locked, the caller holds the workspace lock (Layout.LockFile) from now
// to the end of the build and has Prepared the workspace: the stats of
// the outputs of the actions in the record are then taken ahead too, for
// the up-to-date checks (cache.PreloadRecord's root).
func StartReadAhead(l Layout, locked bool) *ReadAhead {
	root := ""
	if locked {
		root = l.Root
	}
	return &ReadAhead{endReserve: ReserveHeap(l), record: cache.PreloadRecord(l.ActionRecord(), root)}
}

// analyzing lets go of what r readied: the build loads and analyzes. It
// reports whether that held a record with entries.
func (r *ReadAhead) analyzing() bool {
	if r == nil || r.dropped {
		return r.recordDropped()
	}
	r.dropped = true
	r.endReserve()
	r.droppedRecord = r.record.Drop()
	return r.droppedRecord
}

// recordDropped says whether analyzing let go of a record with entries
// (the workspace was built before: Execute reads it again).
func (r *ReadAhead) recordDropped() bool { return r != nil && r.droppedRecord }

// preload is the record r read or is reading, for cache.Open (nil: none).
func (r *ReadAhead) preload() *cache.Preload {
	if r == nil {
		return nil
	}
	return r.record
}

// loadFactor is how many bytes of heap a build that reuses the analysis
// snapshot allocates, up to the end of a no-op, per byte of the snapshot
// and the action record it loads: at 100,000 actions, 220 MB for 51 MB of
// files (4.4), nearly all of it live (the actions, the graph, the record);
// loadSlack is what it allocates besides (at 10,000 actions, 30 MB for
// 4.4 MB of files).
//
// hugePagesFrom is the size of those files from which the heap is advised
// huge pages (heapgoal.HugePages): its collection costs a few milliseconds,
// which the faults it saves repay at 10,000 actions (4.6 MB of files: an
// edit and a no-op at 0.70x) but not at 1,000 (0.5 MB: the no-op at
// 1.05-1.20x) or 3,000 (1.4 MB: 0.99-1.10x) (docs/benchmarks.md, incr12).
const (
	loadFactor    = 5
	loadSlack     = 16 << 20
	hugePagesFrom = 2 << 20
)

// ReserveHeap holds the garbage collector off while a build of the
// workspace l loads what it keeps (heapgoal.Reserve): as much heap as
// loadFactor times the sizes of the analysis snapshot and the action
// record plus loadSlack, about what a no-op build allocates to its end. A
// build that analyzes everything ends it before it starts (ReadAhead); one
// that runs actions follows its phases' policies from their start
// (heapgoal.Follow), and the reserve ends at the first collection, so a
// reserve sized wrong costs at most that first collection's timing. The
// function it returns ends the reserve at once (ReadAhead, tests).
//
// The heap it reserves is advised huge pages first (heapgoal.HugePages),
// when the files are hugePagesFrom or more: what a build loads is all
// fresh memory, and a fault per 4 KiB of it was ~6,300 faults of an edit
// at 10,000 actions (~1,500 since), as much of its time as the 20,000
// stats (docs/benchmarks.md, incr12).
func ReserveHeap(l Layout) (end func()) {
	var n uint64
	for _, f := range []string{l.AnalysisSnapshot(), l.ActionRecord()} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			n += uint64(fi.Size())
		}
	}
	if n == 0 {
		return func() {}
	}
	if n >= hugePagesFrom {
		heapgoal.HugePages(n*loadFactor + loadSlack)
	}
	return heapgoal.Reserve(n*loadFactor + loadSlack)
}

// remoteCheckers is how many up-to-date checks run at once with a remote
// cache: enough to keep a round trip of tens of milliseconds from setting
// the pace of a build of cache hits.
const remoteCheckers = 32

// Remote says how a build uses remote services (docs/remote.md).
type Remote struct {
	// Cache is the remote cache behind the action cache; nil for none.
	Cache remote.Service
	// Upload writes the results of actions that ran here to Cache.
	Upload bool
	// Exec runs actions remotely; nil for none. Jobs bounds how many at
	// once (0: the executor's default).
	Exec remote.Service
	Jobs int
	// Ship sends gcc compiles with the local toolchain (remoteexec).
	Ship bool
	// Download says which outputs of remote results are downloaded.
	Download Download
	// TakeBackAfter lets a remote action the service has not started
	// after that long run here, when a token is free (0: never).
	TakeBackAfter time.Duration
}

// Download says which outputs of remote results (remote cache hits,
// remote executions) come to this machine (Bazel's
// --remote_download_outputs).
type Download uint8

const (
	// DownloadAll downloads every output.
	DownloadAll Download = iota
	// DownloadToplevel keeps outputs in the remote cache until an action
	// that runs here reads them, and downloads the outputs of the goals
	// at the end of the build.
	DownloadToplevel
	// DownloadMinimal downloads only what actions that run here read.
	DownloadMinimal
)

// ParseDownload reads a --remote_download_outputs value.
func ParseDownload(s string) (Download, error) {
	switch s {
	case "all":
		return DownloadAll, nil
	case "toplevel":
		return DownloadToplevel, nil
	case "minimal":
		return DownloadMinimal, nil
	}
	return 0, fmt.Errorf("want all, toplevel or minimal")
}

// An Outcome is what Execute did.
type Outcome struct {
	Summary executor.Summary
	// RunErr is the executor's error: actions failed, or the build was
	// interrupted (it wraps ctx's error).
	RunErr error
	// CloseErr is why the action cache could not save what it learned;
	// the build's own result comes first.
	CloseErr error
	// RemoteHits counts the results restored from the remote cache;
	// RemoteRan the actions that ran remotely, RemoteExecCached those of
	// them the remote executor answered from its cache.
	RemoteHits, RemoteRan, RemoteExecCached int64
}

// Execute runs the plan's actions: it opens the action cache, runs the
// executor, then saves the build log and closes the cache, in that order,
// whatever happened. Its error says why nothing could run (a cache
// directory that cannot be opened: it is the user's to fix); what the run
// did, failures included, is in the Outcome.
func Execute(ctx context.Context, plan *Plan, o ExecOptions) (*Outcome, error) {
	// A complete analysis let go of the action record read ahead
	// (ReadAhead), and the cache reads it again below: a few large arrays
	// (at 100,000 actions, 60 MB), which the pages analysis freed cannot
	// hold (free, but scattered), so the runtime maps new ones. Those
	// pages are collected and given back first: else RSS rose by the
	// record's size on top of them (at 100,000 actions, to 286 MB against
	// 240 at analysis' end, docs/benchmarks.md, mem8).
	// (Not in a build of a workspace without a record, where nothing
	// large is read here: mem6 measured the full build's peak no lower
	// with it, docs/benchmarks.md.)
	returned := plan.analyzed && o.ReadAhead.recordDropped()
	if returned {
		debug.FreeOSMemory()
	}
	st, err := store.Open(o.CacheDir, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("opening the action cache %s: %w", o.CacheDir, err)
	}
	ac, err := cache.Open(st, o.Layout.Root, cache.Options{
		Explain:       o.Explain,
		Warn:          o.Warn,
		FixedExecRoot: o.Sandbox == sandbox.ModeNamespace,
		Sandboxed:     o.Sandbox != sandbox.ModeOff,
		Rerun:         o.Rerun,
		StagingDir:    o.Layout.StagingDir(),
		Remote:        o.Remote.Cache,
		RemoteUpload:  o.Remote.Upload,
		// One client serves both when the endpoints are the same.
		RemoteExecutes: o.Remote.Exec != nil && o.Remote.Exec == o.Remote.Cache,
		KeepRemote:     o.Remote.Download != DownloadAll,
		KeptFile:       o.Layout.RemoteOutputs(),
		Stats:          plan.Stats,
		ActionsFile:    o.Layout.ActionRecord(),
		Preload:        o.ReadAhead.preload(),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the action cache %s: %w", o.CacheDir, err)
	}
	// The snapshot's save that Analyze left goes on once the first
	// command has started, or once the run is over if none does. The
	// collection that sets execution's heap goal after a complete
	// analysis (below) starts once the first command has started or the
	// first action is done (restored, up to date), whichever comes
	// first: its stops of the world would otherwise delay the first
	// command (lean8, docs/benchmarks.md).
	defer plan.releaseSave()
	firstEvent := make(chan struct{})
	first := sync.OnceFunc(func() { close(firstEvent) })
	defer first()
	observer := &releaseOnStart{Observer: o.Observer, release: plan.releaseSave, first: first}
	opts := executor.Options{
		Root:       o.Layout.Root,
		KeepGoing:  o.KeepGoing,
		Cache:      ac,
		Tokens:     o.Tokens,
		Observer:   observer,
		ProcessDir: o.Layout.ProcessDir(),
		StagingDir: o.Layout.StagingDir(),
		LogDir:     o.Layout.LogDir(),
		Sandbox:    o.Sandbox,
		Sandboxes:  o.Sandboxes,
	}
	opts.CommandEnded = o.CommandEnded
	if o.BuildLog != nil {
		opts.Durations = o.BuildLog.Duration
	}
	if o.Remote.Cache != nil {
		// A miss asks the remote cache: checks wait for the network
		// rather than the CPU.
		opts.Checkers = remoteCheckers
	}
	var runner *remoteexec.Runner
	if o.Remote.Exec != nil {
		ropts := remoteexec.Options{Client: o.Remote.Exec, Root: o.Layout.Root, Inputs: ac, Warn: o.Warn,
			Endpoint: o.Remote.Exec.Target(), Ship: o.Remote.Ship, ShipMemo: o.Layout.ShippedToolchains()}
		if o.Remote.Download != DownloadAll {
			ropts.Outputs = ac
		}
		runner = remoteexec.New(ropts)
		opts.Remote, opts.RemoteJobs, opts.TakeBackAfter = runner, o.Remote.Jobs, o.Remote.TakeBackAfter
	}
	out := &Outcome{}
	// After a complete analysis, what the heap holds past its live data
	// is garbage (the analysis', the snapshot's encoding), and the last
	// collection ran while the snapshot was encoded (it may still be, and
	// be written, while the actions start: Request.SaveLater): the goal
	// follows a collection started at the first command (FollowCollected). Taking the heap as it is
	// for the base, as a build that loaded the snapshot must (what it
	// loaded is live), let it grow by the headroom on top of that
	// garbage: at 10,000 actions, to 41 MB of heap for 9 MB live.
	// (When the pages were given back above, that collection ran after
	// the snapshot's encoding: the heap as it is, the record on top of
	// what it found live, is the base.)
	follow := heapgoal.Follow
	if plan.analyzed && !returned {
		follow = func(p heapgoal.Policy) func() { return heapgoal.FollowCollected(p, firstEvent) }
	}
	defer follow(heapgoal.Execution)()
	out.Summary, out.RunErr = executor.Run(ctx, plan.Graph, plan.Goals, opts)
	if out.RunErr != nil && ctx.Err() == nil && ac.LostRemoteOutputs() > 0 {
		// Outputs kept in the remote cache were gone when an action here
		// needed them (evicted, or the service failed). The cache forgot
		// them, so the actions that made them miss now: build again, once.
		if o.Warn != nil {
			o.Warn(fmt.Sprintf("%d output(s) kept in the remote cache were gone from it; building again what made them", ac.LostRemoteOutputs()))
		}
		out.Summary, out.RunErr = executor.Run(ctx, plan.Graph, plan.Goals, opts)
	}
	if out.RunErr == nil && o.Remote.Download == DownloadToplevel {
		var goals []string
		for _, id := range plan.Goals {
			goals = append(goals, plan.Graph.Actions[id].Outputs...)
		}
		if err := ac.MaterializeFiles(ctx, goals); err != nil {
			out.RunErr = fmt.Errorf("downloading the outputs asked for: %w", err)
		}
	}
	if o.BuildLog != nil {
		if err := o.BuildLog.Save(); err != nil && o.Warn != nil {
			o.Warn(err.Error())
		}
	}
	if err := ac.Close(); err != nil {
		out.CloseErr = fmt.Errorf("saving the action cache: %w", err)
	}
	out.RemoteHits = ac.RemoteHits()
	if runner != nil {
		out.RemoteRan, out.RemoteExecCached = runner.Counts()
	}
	return out, nil
}

// releaseOnStart is an Observer that calls release when the first action
// starts, and first when the first action starts or finishes (and passes
// everything on).
type releaseOnStart struct {
	executor.Observer
	release func() // idempotent
	first   func() // idempotent
}

// Started implements executor.Observer.
func (r *releaseOnStart) Started(id int, a *graph.Action) {
	r.Observer.Started(id, a)
	r.release()
	r.first()
}

// Finished implements executor.Observer.
func (r *releaseOnStart) Finished(res executor.Result) {
	r.Observer.Finished(res)
	r.first()
}
