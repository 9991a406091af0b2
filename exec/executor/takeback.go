package executor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Taking remote actions back (a dynamic strategy).
//
// With Options.TakeBackAfter, a remote action that the service has not
// started after that long (its inputs still uploading, or the operation
// queued for a worker) is taken back and run here, when this machine has a
// token free and no local action waits for one: the remote queue is slow
// and a core is idle. Taking back cancels the remote execution, and the
// action then runs as a fallback does, with the token the scheduler got
// for it. An action the service started running, or answered, is never
// taken: unlike Bazel's dynamic strategy, bld does not run an action in
// both places at once, so no remote work that has begun is thrown away and
// the outputs have one writer.
//
// A token is asked for on behalf of remote actions only when one of them
// can be taken back: a timer per remote action wakes the scheduler when it
// becomes eligible.

// errTakenBack is the cause of the cancellation of a remote action taken
// back.
var errTakenBack = errors.New("taken back to run on this machine")

// A RemoteProgress is how a RemoteRunner tells the scheduler where a remote
// action is, so that it may be taken back (Options.TakeBackAfter).
// Implementations are safe for concurrent use.
type RemoteProgress interface {
	// Started says the service runs the action: it left the queue.
	Started()
	// Answered says the service answered (the runner is about to put the
	// outputs in place). It returns false when the action was taken back
	// already: the runner must then abandon it, writing nothing.
	Answered() bool
}

// remoteClaim is the state of one remote action under way, shared by the
// scheduler and the goroutine that runs it.
type remoteClaim struct {
	since  time.Time // when it was dispatched
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	started  bool
	answered bool
	taken    bool
	timer    *time.Timer
}

// Started implements RemoteProgress.
func (c *remoteClaim) Started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = true
	c.stopTimer()
}

// Answered implements RemoteProgress.
func (c *remoteClaim) Answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken {
		return false
	}
	c.answered = true
	c.stopTimer()
	return true
}

func (c *remoteClaim) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// eligible reports whether the action may be taken back at now.
func (c *remoteClaim) eligible(now time.Time, after time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.started && !c.answered && !c.taken && now.Sub(c.since) >= after
}

// take takes the action back, if it is still eligible, and cancels its
// remote execution.
func (c *remoteClaim) take(now time.Time, after time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.answered || c.taken || now.Sub(c.since) < after {
		return false
	}
	c.taken = true
	c.stopTimer()
	c.cancel(errTakenBack)
	return true
}

// newClaim registers remote action id, dispatched now, and arms the timer
// that wakes the scheduler when it may be taken back. The returned
// context is the remote execution's: taking back cancels it.
func (s *scheduler) newClaim(ctx context.Context, id int) (context.Context, *remoteClaim) {
	rctx, cancel := context.WithCancelCause(ctx)
	c := &remoteClaim{since: time.Now(), cancel: cancel}
	if after := s.opts.TakeBackAfter; after > 0 {
		c.timer = time.AfterFunc(after, s.wakeUp)
	}
	s.claims[id] = c
	return rctx, c
}

// wakeUp makes the scheduler's loop look again at what it can start.
func (s *scheduler) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// canTakeBack reports whether a remote action may be taken back now.
func (s *scheduler) canTakeBack() bool {
	if s.opts.TakeBackAfter <= 0 {
		return false
	}
	now := time.Now()
	for _, c := range s.claims {
		if c.eligible(now, s.opts.TakeBackAfter) {
			return true
		}
	}
	return false
}

// takeBack takes back the most urgent eligible remote action, handing it
// the held token, and reports whether it did.
func (s *scheduler) takeBack() bool {
	if s.opts.TakeBackAfter <= 0 || !s.held {
		return false
	}
	now := time.Now()
	best := -1
	for id, c := range s.claims {
		if !c.eligible(now, s.opts.TakeBackAfter) {
			continue
		}
		if best < 0 || s.plan.prio[id] > s.plan.prio[best] || (s.plan.prio[id] == s.plan.prio[best] && id < best) {
			best = id
		}
	}
	if best < 0 || !s.claims[best].take(now, s.opts.TakeBackAfter) {
		return false
	}
	s.held = false // the token is the taken action's now (executeRemote)
	s.summary.TakenBack++
	return true
}
