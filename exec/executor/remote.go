package executor

import (
	"context"
	"fmt"
	"time"

	"bld/exec/crash"
	"bld/exec/program"
)

// Running actions remotely.
//
// An action the Options.Remote runner accepts waits in remoteQ, by the
// same priority as runQ, for one of RemoteJobs slots rather than for a
// token: remote workers are not this machine's cores. Its outputs are
// checked and stored as those of a local run. When the remote service
// fails it (not the action), the action runs here after all, with a
// token, in the same worker, so that the observer sees it start once.

// defaultRemoteJobs is RemoteJobs when Options leave it 0: enough to keep a
// remote pool busy, few enough not to open thousands of streams.
const defaultRemoteJobs = 64

// dispatchRemote starts queued remote actions while slots are free.
func (s *scheduler) dispatchRemote(ctx context.Context) {
	limit := s.opts.RemoteJobs
	if limit <= 0 {
		limit = defaultRemoteJobs
	}
	for s.remoteQ.Len() > 0 && s.remoteRunning < limit {
		id := s.remoteQ.pop()
		start := s.begin(id)
		s.remoteRunning++
		why, key, prog := s.reason[id], s.key[id], s.prog[id]
		s.prog[id] = nil
		rctx, claim := s.newClaim(ctx, id)
		crash.Go(func() {
			s.events <- event{kind: evFinished, remote: true, res: s.executeRemote(ctx, rctx, claim, id, start, why, key, prog)}
		})
	}
}

// executeRemote runs action id remotely (in rctx, which taking it back
// cancels), checks its outputs and stores the result; on a fallback it
// takes a token and runs it here; taken back, it runs it here with the
// token the scheduler handed over.
func (s *scheduler) executeRemote(ctx, rctx context.Context, claim *remoteClaim, id int, start time.Time, why, key string, prog *program.Program) Result {
	defer claim.cancel(nil)
	a := s.g.Actions[id]
	r := Result{ID: id, Action: a, Status: StatusRan, Reason: why, Start: start, ExitCode: -1, Remote: true}
	fail := func(err error) Result {
		removeOutputs(s.opts.Root, a)
		r.Status, r.Err, r.End = StatusFailed, err, time.Now()
		return r
	}
	if err := prepareOutputs(s.opts.Root, a, &s.dirs); err != nil {
		return fail(err)
	}
	out := &boundedOutput{logDir: s.opts.LogDir, outputs: a.Outputs}
	rr := s.opts.Remote.Run(rctx, a, out, claim)
	output := out.Bytes() // also closes its log file
	if !claim.Answered() {
		// Taken back (takeback.go): whatever the runner did is
		// abandoned, and the token is this action's.
		if ctx.Err() != nil {
			s.opts.Tokens.Release()
			return fail(ctx.Err())
		}
		return s.execute(ctx, id, start, why, key, prog)
	}
	if rr.Fallback && ctx.Err() == nil {
		if err := s.opts.Tokens.Acquire(ctx); err != nil {
			return fail(fmt.Errorf("acquiring a job token to run it here: %w", err))
		}
		return s.execute(ctx, id, start, why, key, prog)
	}
	r.Output, r.ExitCode, r.RemoteCached = output, rr.ExitCode, rr.Cached
	if rr.Err != nil {
		return fail(rr.Err)
	}
	var kept func(string) bool
	if ro, ok := s.opts.Cache.(RemoteOutputs); ok {
		kept = ro.KeptRemote
	}
	if err := checkOutputs(s.opts.Root, a, kept); err != nil {
		return fail(err)
	}
	if !a.NoCache {
		if err := s.opts.Cache.Store(ctx, a, key, r.Output); err != nil {
			return fail(fmt.Errorf("recording the result: %w", err))
		}
	}
	r.End = time.Now()
	return r
}
