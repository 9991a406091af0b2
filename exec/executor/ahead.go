package executor

import (
	"context"
	"errors"
	"time"

	"bld/exec/sandbox"
)

// Queuing the next action ahead of its token.
//
// In the namespace sandbox, a command's end and the next command's start
// were a chain of wake-ups: the zygote's reap and answer, bld's reader, the
// ended command's worker releasing its token, the token's acquirer, this
// scheduler, a worker preparing the next action and sending its request,
// and the zygote receiving it. When every token is busy (an Acquire has
// been pending across an event), the scheduler takes the most urgent
// runnable action and has a worker prepare it and send it to the zygote
// queued (sandbox.Ahead): the zygote starts it as soon as it has reaped a
// command of this Run that exited 0, whose token passes to it, without
// waiting for bld. The token count stays exact (package sandbox, ahead.go):
// a queued action runs only with a passed token or one this scheduler gave
// it (giveAhead, when the pending Acquire returns first: a command that
// failed, or ran outside the zygote, released its token).
//
// One action at most is queued ahead at a time; it is the top of runQ when
// queued, and runs before an action that becomes more urgent later (an
// action about to become runnable that is more urgent than the top keeps
// anything from being queued, as hold.go keeps a token for it). A stop
// (a failure without --keep_going, Ctrl-C) withdraws it if no token
// reached it yet: it is then skipped, as an action not started is. An
// action with a Timeout, NoSandbox or in a Serial group is not queued.

// queueAhead queues the most urgent runnable action ahead of its token,
// when the tokens are all busy (the caller checked), none is queued, a
// command runs whose end may hand its token on, and the sandbox queues.
func (s *scheduler) queueAhead(ctx context.Context) {
	if s.ahead != nil || s.stopped || s.running == 0 || s.runQ.Len() == 0 || !s.sandbox.Queues() {
		return
	}
	id := s.runQ.ids[0]
	a := s.g.Actions[id]
	if a.Timeout() > 0 || a.NoSandbox || a.Serial && a.Group() != "" {
		return
	}
	if soon := s.urgentSoon(); soon > s.plan.prio[id] {
		return
	}
	s.runQ.pop()
	h := sandbox.NewAhead(id)
	s.ahead = h
	s.state[id] = active // begun (told to the observer) once it has a token
	s.running++
	why, key, prog := s.reason[id], s.key[id], s.prog[id]
	s.prog[id] = nil
	s.goWork(func() {
		r, withdrawn := s.executeAhead(ctx, id, time.Time{}, why, key, prog, h)
		s.events <- event{kind: evFinished, res: r, withdrawn: withdrawn}
	})
}

// giveAhead gives the token just acquired to the action queued ahead, and
// reports whether it took it (else the scheduler holds the token).
func (s *scheduler) giveAhead() bool {
	h := s.ahead
	if h == nil || !h.Give() {
		return false
	}
	s.ahead = nil
	if s.started[h.ID].IsZero() {
		s.begin(h.ID)
	}
	return true
}

// passed handles the news that a command's token passed to h's action,
// which the zygote started: it has begun, and a token given to it as well
// (giveAhead, in between) is the scheduler's to use again.
func (s *scheduler) passed(ctx context.Context, h *sandbox.Ahead) {
	if s.ahead == h {
		s.ahead = nil
	}
	if s.started[h.ID].IsZero() {
		s.begin(h.ID)
	}
	if h.TakeExtra() {
		if s.held {
			s.opts.Tokens.Release()
			return
		}
		s.held = true
		s.useHeld(ctx)
	}
}

// withdrawn handles the end of an action queued ahead that was taken back
// before it started: a stop or Ctrl-C did, and it is skipped.
func (s *scheduler) withdrawn(ctx context.Context, r Result) {
	if s.stopped || ctx.Err() != nil {
		s.state[r.ID] = waiting // skipped
		return
	}
	// Nothing else withdraws one: say so rather than skip it silently.
	s.finish(Result{ID: r.ID, Action: r.Action, Status: StatusFailed, Start: time.Now(), End: time.Now(), ExitCode: -1,
		Err: errors.New("bld: the action queued ahead was withdrawn while the build went on (a bug; run the build again)")})
}
