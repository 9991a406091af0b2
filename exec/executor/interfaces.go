package executor

import (
	"context"
	"io"
	"os/exec"
	"time"

	"bld/exec/graph"
	"bld/exec/program"
)

// A Cache decides whether an action must run, and learns the results of the
// actions that did. Package exec/cache is the implementation bld uses (a
// content-addressed cache shared by every checkout); a remote cache can be
// another. Implementations must be safe for concurrent use.
type Cache interface {
	// Check hashes what the action depends on and reports whether its
	// outputs are already in place (or were restored) so it need not run.
	// The returned Check's Key is passed back to Store after a successful
	// run. Check is only called once every input of a exists.
	Check(ctx context.Context, a *graph.Action) (Check, error)
	// Store records that a ran successfully, with the key Check returned,
	// and that its outputs as they are now on disk are its result; output
	// is what the command printed (stdout and stderr, interleaved), kept
	// so that a later restore can show it again. A cache that cannot be
	// written is no error (the cache is an optimization: it warns and the
	// build goes on); an error is the action's fault, such as an output
	// that is not a regular file, and fails the action (its outputs are
	// left in place).
	Store(ctx context.Context, a *graph.Action, key string, output []byte) error
	// Close persists whatever the cache keeps between builds.
	Close() error
}

// A GraphCache is a Cache that can check an action knowing its place in
// the build's graph: the executor calls CheckIn instead of Check, so that
// the cache may keep what it learns of each action by its ID rather than
// look it up by name (exec/cache does, for its per-action records).
type GraphCache interface {
	Cache
	// CheckIn is Check of g.Actions[id]. Within a build, every call has
	// the same g.
	CheckIn(ctx context.Context, g *graph.Graph, id int) (Check, error)
}

// A RemoteOutputs is a Cache that may keep outputs in a remote cache
// instead of on disk (--remote_download_minimal; exec/cache's kept.go).
// The executor has the files an action reads put in place before the
// action runs here, and does not look on disk for the outputs a remote
// run left remote.
type RemoteOutputs interface {
	// Materialize puts the files a reads that are kept remote in place.
	// Its error fails a.
	Materialize(ctx context.Context, a *graph.Action) error
	// KeptRemote reports whether the output out is kept remote.
	KeptRemote(out string) bool
}

// Check is the answer of Cache.Check.
type Check struct {
	// UpToDate is true when the action's outputs are valid and it need
	// not run.
	UpToDate bool
	// Restored is true, with UpToDate, when the outputs were not all in
	// place and the cache restored them.
	Restored bool
	// Key identifies everything the action's outputs depend on.
	Key string
	// Reason says, when UpToDate is false, why the action must run
	// ("no previous result", "input a.c changed", ...).
	Reason string
	// Output is, when the outputs were restored from the cache rather
	// than found in place, what the command printed when it ran (its
	// warnings, say), to be shown again as if it had run.
	Output []byte
	// Remote is true, with Restored, when the result came from a remote
	// cache rather than the local one.
	Remote bool
	// Program is, when the action must run, the program its argv[0]
	// resolved to (program.Find) when Key was computed, if it was
	// found: the runner starts that file rather than resolving argv[0]
	// again, so that what runs is what the key covers. If the file
	// changes after the check, Store is told (its content is in the key)
	// and must not record the result under Key. Nil: the runner
	// resolves argv[0] itself.
	Program *program.Program
}

// A RemoteRunner runs commands on a remote executor (package
// exec/remoteexec: the Remote Execution API). Implementations must be
// safe for concurrent use.
type RemoteRunner interface {
	// Accepts reports whether a is to run remotely. It is asked once per
	// action that must run; false runs it here.
	Accepts(a *graph.Action) bool
	// Run runs a's command remotely, puts its outputs in place in the
	// workspace and writes what the command printed (its stdout, then its
	// stderr) to output, which bounds what it keeps as for a local
	// command. It takes no token: the remote service has its own workers.
	// It tells progress when the service starts the action and when it
	// answered; ctx is cancelled when the action is taken back
	// (Options.TakeBackAfter).
	Run(ctx context.Context, a *graph.Action, output io.Writer, progress RemoteProgress) RemoteResult
}

// RemoteResult is the outcome of RemoteRunner.Run.
type RemoteResult struct {
	// ExitCode is the command's exit status; -1 if it did not exit.
	ExitCode int
	// Err is why the action failed: a non-zero exit, a missing output.
	Err error
	// Fallback is true when the remote service, not the action, failed
	// (unreachable, broken mid-build): the action runs here instead, and
	// the output written and Err mean nothing. The runner says so to the user.
	Fallback bool
	// Cached is true when the remote service answered from its cache
	// rather than running the command.
	Cached bool
}

// A TokenPool limits how many actions run at once. Each running action
// holds one token from Acquire until its process has ended and Release is
// called. Implementations must be safe for concurrent use.
type TokenPool interface {
	// Acquire blocks until a token is free or ctx is done; on ctx done it
	// returns ctx.Err() and holds no token.
	Acquire(ctx context.Context) error
	// Release returns a token taken by Acquire.
	Release()
	// AttachJobserver gives cmd access to the pool as a GNU make
	// jobserver (environment and inherited descriptors). It is called only
	// for actions with Jobserver set, before cmd starts, with the action's
	// Argv (cmd may be the sandbox helper that runs it) and
	// JobserverStyle; the returned detach is called once cmd has ended,
	// whatever its outcome.
	AttachJobserver(cmd *exec.Cmd, argv []string, style string) (detach func(), err error)
}

// Status is the outcome of one action, as the event log spells it.
type Status string

const (
	StatusRan      Status = "ran"      // executed, and succeeded
	StatusCached   Status = "cached"   // not executed: the outputs were already up to date
	StatusRestored Status = "restored" // not executed: the outputs were restored from the cache
	StatusFailed   Status = "failed"   // executed (or checked) and failed
)

// An Observer is told about each action as the build goes. Calls come from
// one goroutine at a time, in the order the events happened.
type Observer interface {
	// Planned is called once, before any action starts, with the actions
	// the build needs (in the order of their IDs).
	Planned(actions []*graph.Action)
	// Started is called when an action's command is about to run.
	Started(id int, a *graph.Action)
	// Finished is called when an action is done, whether it ran or not.
	Finished(r Result)
}

// Result describes one finished action.
type Result struct {
	ID     int
	Action *graph.Action
	Status Status
	// Reason is Check.Reason for an action that ran.
	Reason string
	// Ready is when the action became ready: every dependency done, and
	// the action queued to be checked against the cache (or, marked
	// NoCache, to run). Zero for an action that never became ready. For
	// an action that finished, Ready <= Start <= End: from Ready to Start
	// it waited for a checker, was checked (an action that must run) and
	// waited for a token; an up-to-date or restored action's Start is
	// its check's.
	Ready time.Time
	// Start and End bound the action's work: its command (write, remote
	// run) for one that ran or failed running, its check for one up to
	// date, restored, or failed checking.
	Start, End time.Time
	// ExitCode is the command's exit status; -1 if it did not exit
	// normally (killed by a signal, or never started).
	ExitCode int
	// Output is the command's stdout and stderr, interleaved as written.
	Output []byte
	// MaxRSS is the peak resident set size in bytes of the command's
	// largest process (it or a descendant it waited for), for an action
	// that ran a command here; 0 otherwise.
	MaxRSS int64
	// Remote is true when the command ran on a remote executor (Status
	// StatusRan or StatusFailed), or when the outputs were restored from
	// a remote cache (StatusRestored).
	Remote bool
	// RemoteCached is true, with Remote and StatusRan, when the remote
	// executor answered from its cache instead of running the command.
	RemoteCached bool
	// Err is why the action failed (non-zero exit, missing output, ...).
	Err error
}
