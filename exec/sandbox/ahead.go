package sandbox

import (
	"context"
	"sync"
)

// Queuing a command ahead of its token.
//
// Between one command's end and the next one's start, a build at -j N whose
// N tokens are all busy went through the zygote's reap of the ended
// command, its answer, bld's reader, the ended command's runner releasing
// its token, the scheduler handing the token to the next action, that
// action's preparation and request, and the zygote's receipt of it: some
// hundreds of microseconds of wake-ups, each a wait for a CPU on a loaded
// machine. An Ahead lets the executor send the next action's request
// before a token is free for it, marked queued: the zygote keeps it and
// starts it right after it reaps a command of the same group (the same
// build's token pool) that ended with status 0, whose token passes to it
// (bld learns which from the ended command's 'x'), or when bld gives it a
// token of the pool (Give: 'g'). Only a command that ended successfully
// hands its token on, so a failed one (or one killed on Ctrl-C or a
// timeout) starts nothing: the executor decides what comes next, as
// without an Ahead.
//
// The token count is exact: a queued command runs only with a token that
// a reaped command held, or with one bld gave it; a token given while the
// zygote already passed one to the command is extra, and TakeExtra says so
// once, for the caller to release or reuse.
//
// Withdraw takes a queued request back (a build that stops on a failure):
// the zygote answers 'n' for it if it was still queued, and Started.Wait
// returns ErrWithdrawn; if a token reached it first, it runs on, as a
// command started just before the failure would. A kill (the context's end,
// Ctrl-C) also withdraws a queued request; a command whose token passed
// to it just before the kill arrived is killed like any running one.

// An Ahead is the token state of one command queued ahead. Its methods are
// safe for concurrent use.
type Ahead struct {
	// ID is the caller's name for the command (the executor's action id).
	ID int

	mu        sync.Mutex
	given     bool // Give: a token of the caller's is the command's
	passed    bool // a command of its group ended and handed it its token
	withdrawn bool // Withdraw, or WaitToken ended without a token
	done      bool // Done: no token reaches it any more
	extra     bool // TakeExtra returned true
	queued    bool // the queued request was sent
	goSent    bool // 'g' was sent for it
	// send sends a message about the queued request ('g', 'd'); set
	// when it is queued.
	send  func(kind byte)
	token chan struct{} // closed once given, passed or withdrawn
}

// NewAhead returns the Ahead of a command the caller calls id.
func NewAhead(id int) *Ahead { return &Ahead{ID: id, token: make(chan struct{})} }

// Give gives the command a token of the caller's, and returns true, unless
// the command is done or withdrawn (false: the caller keeps the token).
// A command still queued is started now.
func (h *Ahead) Give() bool {
	h.mu.Lock()
	if h.done || h.withdrawn {
		h.mu.Unlock()
		return false
	}
	if !h.given {
		h.given = true
		h.signal()
	}
	send := h.goLocked()
	h.mu.Unlock()
	if send != nil {
		send(msgGo)
	}
	return true
}

// goLocked returns the function to send 'g' with when the command is
// queued and given a token and 'g' was not sent yet (h.mu held).
func (h *Ahead) goLocked() func(byte) {
	if h.given && h.queued && !h.goSent && !h.passed {
		h.goSent = true
		return h.send
	}
	return nil
}

// Withdraw takes the command back if no token reached it yet: a queued
// request is withdrawn (Started.Wait then returns ErrWithdrawn), one not
// sent yet will not be (StartZygote returns ErrWithdrawn). A command that
// got a token runs on.
func (h *Ahead) Withdraw() {
	h.mu.Lock()
	if h.done || h.withdrawn || h.given || h.passed {
		h.mu.Unlock()
		return
	}
	h.withdrawn = true
	h.signal()
	send := h.send
	if !h.queued {
		send = nil
	}
	h.mu.Unlock()
	if send != nil {
		send(msgWithdraw)
	}
}

// WaitToken waits until the command has a token (the caller's, Give, or a
// passed one), for a command that could not be queued, or that the zygote
// could not start: it reports whether it has one. When ctx ends first, or
// the command was withdrawn, it has none (and is withdrawn).
func (h *Ahead) WaitToken(ctx context.Context) bool {
	select {
	case <-h.token:
	case <-ctx.Done():
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.given && !h.passed && !h.withdrawn {
		h.withdrawn = true
		h.signal()
	}
	return h.given || h.passed
}

// signal closes h.token, once (h.mu held).
func (h *Ahead) signal() {
	select {
	case <-h.token:
	default:
		close(h.token)
	}
}

// Done says that the command is over (or never started): no token reaches
// it any more. It reports whether the command held a token (one: an extra
// one is TakeExtra's), which its end releases unless it passed it on.
func (h *Ahead) Done() (owned bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	return h.given || h.passed
}

// TakeExtra reports, once, whether the command got two tokens: the
// caller's (Give) and a passed one. The caller then releases or reuses
// one of them.
func (h *Ahead) TakeExtra() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.given && h.passed && !h.extra {
		h.extra = true
		return true
	}
	return false
}

// markPassed records that an ended command's token passed to the command
// (its 'x' named it).
func (h *Ahead) markPassed() {
	h.mu.Lock()
	h.passed = true
	h.signal()
	h.mu.Unlock()
}

// markQueued records that the queued request was sent, with send for the
// messages about it; it sends 'g' at once if a token was given meanwhile.
func (h *Ahead) markQueued(send func(byte)) {
	h.mu.Lock()
	h.queued, h.send = true, send
	g := h.goLocked()
	wd := h.withdrawn
	h.mu.Unlock()
	if g != nil {
		g(msgGo)
	}
	if wd {
		send(msgWithdraw)
	}
}

// queueable reports whether the request may be sent queued: not when a
// token was given already (it is sent as any request), and not at all once
// withdrawn (withdrawn).
func (h *Ahead) queueable() (queue, withdrawn bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.given, h.withdrawn
}
