// Package executor runs the actions of an action graph: a central scheduler
// orders the ready actions by critical path, asks a Cache which of them are
// up to date, runs the others as local processes under a TokenPool, and tells
// an Observer what happened.
package executor

import (
	"context"
	"fmt"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// Options configure Run.
type Options struct {
	// Root is the absolute workspace root; paths in actions are relative
	// to it. A sandboxed command runs in a private exec root that holds
	// only its inputs (package sandbox); others run in Root.
	Root string
	// Sandbox is how commands are sandboxed; the zero value, ModeAuto,
	// uses a mount namespace where it works, else a symlink forest.
	// Actions with NoSandbox run in Root whatever the mode.
	Sandbox sandbox.Mode
	// Sandboxes, if not nil, is the Manager to use instead of a new one
	// for Sandbox: a caller that already resolved the mode (it tried the
	// namespace once) passes it, so that it is not tried again.
	Sandboxes *sandbox.Manager
	// KeepGoing (-k) keeps starting actions that do not depend on a failed
	// one; without it the first failure starts nothing new.
	KeepGoing bool
	// Cache decides which actions are up to date. Never nil.
	Cache Cache
	// Tokens limits how many commands run at once (-j). Never nil.
	Tokens TokenPool
	// Observer hears about every action. Never nil.
	Observer Observer
	// CommandEnded, if not nil, is called with an action's ID when its
	// command, run here, has ended, before its token is released and
	// before its outputs are checked and stored (then Observer.Finished):
	// what counts the commands running can count -j's exactly. It is
	// called from the goroutine that ran the command, concurrently with
	// the Observer's methods and with other calls of itself.
	CommandEnded func(id int)
	// ProcessDir, if not empty, is an existing directory where the process
	// group of each running command is recorded, so that a later build can
	// kill what a build killed with SIGKILL left running (KillLeftovers).
	ProcessDir string
	// StagingDir, if not empty, is where file-writing actions write their
	// file before renaming it into place (on the file system of the
	// outputs), so that a build killed meanwhile leaves its temporary file
	// there, for the caller to remove, rather than beside the outputs.
	StagingDir string
	// LogDir, if not empty, is where the whole output of a command that
	// printed more than bld keeps in memory (1 MiB: its first and last
	// 512 KiB) is written, one file per action named after its first
	// output; the kept output says which file.
	LogDir string
	// Durations, if not nil, reports how long an action took when it last
	// ran (package buildlog): ready actions start longest remaining path
	// first, by these durations; without it (or for a workspace it knows
	// nothing of), by the number of actions on the path.
	Durations func(*graph.Action) (time.Duration, bool)
	// Remote, if not nil, runs the actions it accepts on a remote executor,
	// at most RemoteJobs at once (default 64), without tokens: the local
	// token pool bounds only what runs here. An action the remote service
	// fails (rather than the action failing) runs here, with a token.
	Remote     RemoteRunner
	RemoteJobs int
	// TakeBackAfter, when positive, lets a remote action that the service
	// has not started after that long run here instead, when a token is
	// free and no local action waits for one (takeback.go).
	TakeBackAfter time.Duration
	// Checkers is how many up-to-date checks run at once; 0 means the
	// number of CPUs, right when a check is hashing. A caller whose Cache
	// asks a remote cache on a miss gives more, since such checks mostly
	// wait for the network.
	Checkers int
}

// Summary counts what a build did with the actions it needed.
type Summary struct {
	Total    int // actions the goals need, themselves included
	Ran      int // executed and succeeded
	Restored int // not executed: the outputs were restored from the cache
	UpToDate int // not executed: the outputs were already up to date
	Failed   int // executed (or checked) and failed
	Skipped  int // not started because a dependency failed or the build stopped
	// TakenBack counts the remote actions taken back from a slow remote
	// queue and run here (Options.TakeBackAfter).
	TakenBack int
}

// Run builds goals (action IDs of g) and everything they depend on; no other
// action of g is considered. It returns when no action is running any more.
//
// Up-to-date checks run in a pool of runtime.NumCPU() goroutines without
// holding a token; only an action that must run takes a token from
// opts.Tokens, and gives it back when its process has ended. On the first
// failure without opts.KeepGoing, Run starts nothing new, waits for the
// running actions and returns an error; with opts.KeepGoing, it goes on with
// every action that does not depend on a failed one, and returns an error
// saying how many failed. When ctx is done, running commands are killed
// (their whole process group), and the error wraps ctx.Err().
//
// Run keeps no global state: concurrent calls on different graphs (and
// different output files) are independent.
func Run(ctx context.Context, g *graph.Graph, goals []int, opts Options) (Summary, error) {
	for _, id := range goals {
		if id < 0 || id >= len(g.Actions) {
			return Summary{}, fmt.Errorf("executor: goal %d is not an action of the graph (it has %d)", id, len(g.Actions))
		}
	}
	s := newScheduler(g, neededPlan(g, goals), opts)
	return s.run(ctx)
}
