package jobserver

import "time"

const (
	defaultAuditDelay = 100 * time.Millisecond
	maxAuditDelay     = 5 * time.Second
)

// auditLocked restores the server's token count after a jobserver-aware
// child ended. The protocol has no way to learn what a child holds, so the
// pool counts only when nobody but bld can hold a token: no attached child
// is running (checked under mu, and Attach needs mu, so none can start
// meanwhile) and no other process still has the fifo open (a grandchild
// that outlived its parent may hold tokens and give them back later; see
// othersHold). Then exactly n-1-held bytes belong in the pipe: missing
// bytes were taken by a child that died holding them and are written
// back; surplus bytes (a child wrote more than it read) are read out, so
// the total never exceeds n. While children run, lost tokens stay lost:
// the build runs with fewer tokens, never more, until the next quiet
// moment, at the latest when the last jobserver-aware action ends. A
// client pool serving an inner jobserver (see proxy.go) settles with its
// parent at the same quiet moments.
func (p *Pool) auditLocked() {
	if !(p.server || p.proxy) || p.closed || p.attached > 0 || p.file == nil {
		return
	}
	if othersHold(p.fifoPath) {
		p.scheduleAuditLocked()
		return
	}
	p.auditDelay = defaultAuditDelay
	if p.proxy {
		// A client knows how many of the parent's tokens its children's
		// jobserver had: it gives them all back, dead children's too.
		p.settleLocked()
		return
	}
	have, err := p.pipeCountLocked()
	if err != nil {
		return
	}
	want := p.n - 1 - p.held
	switch {
	case have < want:
		p.writeTokensLocked(want - have)
		p.stats.Restored += want - have
	case have > want:
		p.stats.Drained += p.readTokensLocked(have - want)
	}
}

// scheduleAuditLocked tries the audit again later, backing off, while a
// process other than bld keeps the fifo open.
func (p *Pool) scheduleAuditLocked() {
	if p.auditTimer != nil {
		return
	}
	d := p.auditDelay
	p.auditDelay = min(2*d, maxAuditDelay)
	p.auditTimer = time.AfterFunc(d, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.auditTimer = nil
		p.auditLocked()
	})
}
