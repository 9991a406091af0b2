package executor

import "context"

// Holding a token for the critical path.
//
// A command releases its token when its process ends, before bld has
// collected and stored its outputs; the dependents it unblocks are then
// checked against the cache before they can run. A token that came back in
// between would go to whatever waits in runQ, however less urgent, and the
// critical path would wait a whole action for a slot. So a token that
// arrives while a more urgent action is about to become runnable (being
// checked, or waiting only for a dependency whose command has ended) is
// held for it, for the few milliseconds that takes.

// urgentSoon returns the highest priority of the actions about to become
// runnable, or -1 when there are none.
func (s *scheduler) urgentSoon() int64 {
	best := int64(-1)
	if s.poolQ.Len() > 0 {
		if id := s.poolQ.ids[0]; s.state[id] == queuedCheck {
			best = s.plan.prio[id]
		}
	}
	for id := range s.checkingIDs {
		best = max(best, s.plan.prio[id])
	}
	for id := range s.endedIDs {
		for _, d := range s.g.Dependents[id] {
			if s.plan.needed[d] && s.state[d] == waiting && s.pending[d] == 1 {
				best = max(best, s.plan.prio[d])
			}
		}
	}
	return best
}

// useHeld starts the most urgent runnable action with the held token, or
// keeps holding it for an action about to become runnable that is more
// urgent, or releases it when there is nothing to run.
func (s *scheduler) useHeld(ctx context.Context) {
	if !s.held {
		return
	}
	if s.stopped {
		s.releaseHeld()
		return
	}
	soon := s.urgentSoon()
	if soon >= 0 && (s.runQ.Len() == 0 || soon > s.plan.prio[s.runQ.ids[0]]) {
		return
	}
	id, ok := s.popRunnable()
	if !ok {
		if !s.takeBack() {
			s.releaseHeld()
		}
		return
	}
	s.held = false
	start := s.begin(id)
	s.running++
	why, key, prog := s.reason[id], s.key[id], s.prog[id]
	s.prog[id] = nil
	s.goWork(func() {
		s.events <- event{kind: evFinished, res: s.execute(ctx, id, start, why, key, prog)}
	})
}

// releaseHeld gives a held token back.
func (s *scheduler) releaseHeld() {
	if s.held {
		s.held = false
		s.opts.Tokens.Release()
	}
}
