package executor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"bld/exec/crash"
)

// precheckSequential is the size of a wave below which precheck checks its
// actions in the scheduler's goroutine rather than fanning out.
const precheckSequential = 8

// precheck asks the cache about the ready actions (poolQ) in waves, before
// the scheduler's loop starts: a wave is every action whose dependencies
// are all done, checked in a tight loop by a few goroutines (no channel,
// event or queue per action); an up-to-date action finishes at once, which
// readies its dependents for the next wave. On a no-op build every action
// is done here, and the scheduler's machinery (checkers, events, the token
// acquirer) has nothing left to do.
//
// It stops once as many actions as the checkers' slots must run (the
// answers go to the scheduler as a checker's would: the actions queue to
// run) so that a full build starts running commands as soon as it would
// without it, and does not hold every action's key in memory at once
// (checkedEnough's reason). The actions it did not check stay in poolQ for
// the checkers. It returns early, with the build stopped, when ctx ends or
// an action fails (unless KeepGoing).
func (s *scheduler) precheck(ctx context.Context) {
	misses := 0
	var wave, rest []int
	var evs []checkedEvent
	for s.poolQ.Len() > 0 && misses < s.slots && !s.stopped {
		wave, rest = wave[:0], rest[:0]
		if cap(wave) < len(s.poolQ.ids) {
			wave = make([]int, 0, len(s.poolQ.ids)) // no copies as it grows
		}
		for _, id := range s.poolQ.ids {
			if s.state[id] == queuedCheck {
				wave = append(wave, id)
			} else {
				rest = append(rest, id)
			}
		}
		if len(wave) == 0 {
			return
		}
		s.poolQ.ids = s.poolQ.ids[:0]
		for _, id := range rest {
			s.poolQ.push(id)
		}
		// The wave is checked a chunk at a time, the answers of a chunk
		// handled before the next is checked: one buffer of answers
		// (~330 bytes each) serves the whole build instead of one as
		// long as the widest wave (3.3 MB of fresh pages, ~800 page
		// faults, in a no-op of 10,000 actions). At most precheckChunks
		// chunks a wave: each ends in a join of the checkers, which
		// waits for the slowest (one descheduled, on a loaded machine).
		size := max(precheckChunk, (len(wave)+precheckChunks-1)/precheckChunks)
		for len(wave) > 0 {
			chunk := wave[:min(len(wave), size)]
			wave = wave[len(chunk):]
			limit := s.slots - misses
			if limit <= 0 || s.stopped {
				// Left for the checkers, as checkWave leaves those
				// it did not check. (With ctx ended, checkWave
				// checks none and the build stops below.)
				for _, id := range chunk {
					s.poolQ.push(id)
				}
				continue
			}
			evs = s.checkWave(ctx, chunk, limit, evs)
			if ctx.Err() != nil {
				s.cancelled = true
				s.stop()
			}
			for i, id := range chunk {
				ev := evs[i]
				if !ev.checked { // left for the checkers
					s.poolQ.push(id)
					continue
				}
				if !ev.check.UpToDate || ev.err != nil {
					misses++
				}
				s.checked(ev.event)
			}
		}
	}
}

// A wave is checked in chunks of at least precheckChunk actions (enough
// that the checkers' start and join are amortized), and in at most
// precheckChunks chunks (few joins), so that the buffer of answers is an
// eighth of the widest wave's, or less.
const (
	precheckChunk  = 512
	precheckChunks = 8
)

// checkWave checks the actions of wave, from up to s.checkers goroutines,
// and returns the answers in wave's order, in buf if it has room (the
// answers of a wave are handled before the next one is checked). Once
// limit of them are not up to date, it checks no more: the answers it did
// not ask for have checked false.
func (s *scheduler) checkWave(ctx context.Context, wave []int, limit int, buf []checkedEvent) []checkedEvent {
	evs := buf[:0]
	if cap(evs) < len(wave) {
		evs = make([]checkedEvent, len(wave))
	}
	evs = evs[:len(wave)]
	clear(evs)
	var next, misses atomic.Int64
	work := func() {
		// One clock reading per check: a check starts when the one
		// before it on this goroutine ended (two readings were ~4 ms
		// of a 10,000-action no-op's CPU).
		now := time.Now()
		for ctx.Err() == nil && misses.Load() < int64(limit) {
			i := int(next.Add(1) - 1)
			if i >= len(wave) {
				return
			}
			id := wave[i]
			start := now
			c, err := s.check(ctx, id)
			now = time.Now()
			evs[i] = checkedEvent{event{kind: evChecked, id: id, check: c, err: err, start: start, end: now}, true}
			if err != nil || !c.UpToDate {
				misses.Add(1)
			}
		}
	}
	workers := min(s.checkers, (len(wave)+precheckSequential-1)/precheckSequential)
	if workers <= 1 {
		work()
		return evs
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			work()
		})
	}
	work()
	wg.Wait()
	return evs
}

// A checkedEvent is an answer of checkWave: checked is false for an action
// it did not check.
type checkedEvent struct {
	event
	checked bool
}
