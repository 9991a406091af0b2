package jobserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
)

// ErrClosed is returned by Acquire on a closed pool.
var ErrClosed = errors.New("jobserver: pool is closed")

// errNotOpen is pipeCountLocked's error on a server whose fifo is not made.
var errNotOpen = errors.New("jobserver: the fifo is not made yet")

// Policy says who gets a token that bld's own action gives back while
// tokens are short.
type Policy int

const (
	// PreferActions hands a released token straight to an action of bld
	// waiting in Acquire, so bld starts as many actions as it can and
	// jobserver-aware actions get the tokens nobody else is waiting for
	// (cargo's approach). It is the default.
	PreferActions Policy = iota
	// Fair writes every released byte token back to the jobserver, where
	// bld's waiting actions and the extra demand of running children
	// compete for it on equal terms (make's approach). The implicit token
	// still goes straight to a waiting action: nobody else can use it.
	Fair
)

// A Pool is a set of tokens shared by bld's actions and the jobserver
// clients they run. It implements executor.TokenPool. All methods are safe
// for concurrent use. Create one with NewServer or FromEnv.
type Pool struct {
	mu sync.Mutex

	// Fixed at creation.
	server   bool     // bld owns the tokens (NewServer)
	n        int      // server: number of tokens, implicit one included
	file     *os.File // bld's own description of the pipe: read-write, non-blocking, polled
	fd       int      // file's descriptor; used only under mu while !closed
	rc       syscall.RawConn
	fifoPath string // the fifo children open (fifo style): the server's, or a client's inner one
	reopen   string // path that opens a new description of that fifo for pipe-style children
	proxy    bool   // client serving an inner jobserver of its own (see proxy.go)
	innerFd  int    // proxy: bld's read-write, non-blocking description of the inner fifo
	inherit  [2]int // client of a pipe-style parent: the inherited descriptors (made close-on-exec), or -1
	dir      string // server: private directory holding the fifo, removed by Close
	tempDir  string // server: where the fifo's private directory is made
	done     chan struct{}

	// Guarded by mu.
	style        Style
	policy       Policy
	implicitFree bool      // the implicit token is not held by an action
	held         int       // byte tokens read from the jobserver and held by bld's actions
	waiters      []*waiter // Acquire calls waiting, first come first served
	attached     int       // jobserver-aware children attached and not yet detached
	lent         int       // proxy: parent tokens in the inner fifo or held by children
	brokerOn     bool      // proxy: the broker goroutine runs
	closed       bool
	stats        Stats
	auditTimer   *time.Timer
	auditDelay   time.Duration
	openErr      error // server: why the fifo could not be made (openLocked)
}

// Stats describes the state of a pool, mainly for tests and reports.
type Stats struct {
	// Total is the number of tokens the pool owns, the implicit one
	// included; 0 for a client pool (the parent knows).
	Total int
	// InPipe is the number of token bytes waiting in the jobserver now.
	InPipe int
	// Held is the number of byte tokens held by bld's own actions.
	Held int
	// ImplicitFree is true when no action holds the implicit token.
	ImplicitFree bool
	// Attached is the number of jobserver-aware children running.
	Attached int
	// Lent is, for a client pool, the number of the parent's tokens that
	// bld has moved to its children's jobserver (staged there or held by
	// them); Close gives them all back.
	Lent int
	// Restored counts tokens the pool wrote back because a child died
	// holding them; Drained counts surplus bytes it removed.
	Restored, Drained int
}

type waiter struct {
	ch      chan error // receives nil (token granted) or ErrClosed; buffered
	granted bool
}

// init wraps f, bld's own read-write description of the pipe, and starts
// the goroutine that reads tokens for waiting Acquire calls.
func (p *Pool) init(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(fd uintptr) { p.fd = int(fd) }); err != nil {
		return err
	}
	p.file, p.rc = f, rc
	p.done = make(chan struct{})
	crash.Go(p.reader)
	return nil
}

// Acquire blocks until the pool grants a token or ctx is done. On ctx done
// it returns ctx.Err() and holds no token: a token granted at the same
// moment is passed on. The first token is the implicit one; the others are
// read from the jobserver. Waiting Acquire calls are served in order.
func (p *Pool) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if len(p.waiters) == 0 {
		if p.implicitFree {
			p.implicitFree = false
			p.mu.Unlock()
			return nil
		}
		if err := p.openLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
		if p.pipeMayHoldLocked() && p.readTokensLocked(1) == 1 {
			p.held++
			p.mu.Unlock()
			return nil
		}
	}
	w := &waiter{ch: make(chan error, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.granted {
			p.releaseLocked()
		} else {
			p.removeWaiterLocked(w)
		}
		return ctx.Err()
	}
}

// Release returns a token taken by Acquire. A byte token goes back to the
// jobserver, or, under PreferActions, straight to a waiting Acquire; the
// implicit token goes to a waiting Acquire or becomes free. Release on a
// closed pool does nothing.
func (p *Pool) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.releaseLocked()
}

func (p *Pool) releaseLocked() {
	if len(p.waiters) > 0 && (p.policy == PreferActions || p.held == 0) {
		p.grantLocked() // the token changes hands inside bld
		return
	}
	if p.held > 0 {
		p.held--
		p.writeTokensLocked(1)
		return
	}
	if p.implicitFree {
		panic("jobserver: Release without Acquire")
	}
	p.implicitFree = true
}

// grantLocked gives a token bld already holds to the first waiter.
func (p *Pool) grantLocked() {
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	w.granted = true
	w.ch <- nil
}

func (p *Pool) removeWaiterLocked(w *waiter) {
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return
		}
	}
}

// reader runs for the pool's lifetime. It parks in the runtime poller until
// the pipe is readable and, while Acquire calls wait, reads one byte per
// waiter under mu, so that a token is never in flight outside the
// accounting (see audit). With nobody waiting it leaves the bytes to the
// children. Close ends it by closing the file.
func (p *Pool) reader() {
	defer close(p.done)
	_ = p.rc.Read(func(uintptr) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return true
		}
		for len(p.waiters) > 0 {
			if !p.pipeMayHoldLocked() || p.readTokensLocked(1) == 0 {
				return false // wait for the next write
			}
			p.held++
			p.grantLocked()
		}
		return false
	})
}

// pipeMayHoldLocked reports whether bld may take a token from the
// jobserver's pipe: not when bld is the server and its own actions already
// hold every byte token (n-1; the implicit one is apart). Then the pipe is
// empty, or holds only a surplus that a child wrote back without having
// read it, which is not a token to run on (the audit drains it). So a
// server never grants more than n tokens, and a build with more ready
// actions than tokens saves the read(2) that would find nothing, once per
// action.
func (p *Pool) pipeMayHoldLocked() bool {
	return !p.server || p.held < p.n-1
}

// readTokensLocked reads up to k token bytes without blocking and returns
// how many it got.
func (p *Pool) readTokensLocked(k int) int {
	if p.closed || k <= 0 || p.file == nil {
		return 0
	}
	buf := make([]byte, k)
	for {
		n, err := unix.Read(p.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
}

// writeTokensLocked writes k token bytes. The pipe holds 64 KiB, far more
// than any pool, so a short write means the pipe is broken; the tokens are
// then lost and the next audit (server) restores them.
func (p *Pool) writeTokensLocked(k int) {
	if p.closed || k <= 0 || p.file == nil {
		return
	}
	buf := make([]byte, k)
	for i := range buf {
		buf[i] = '+'
	}
	for len(buf) > 0 {
		n, err := unix.Write(p.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		buf = buf[n:]
	}
}

// pipeCountLocked returns the number of bytes waiting in the pipe.
func (p *Pool) pipeCountLocked() (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if p.file == nil {
		return 0, errNotOpen
	}
	return unix.IoctlGetInt(p.fd, fionread)
}

// SetPolicy chooses who gets tokens released while tokens are short. The
// default is PreferActions.
func (p *Pool) SetPolicy(pol Policy) {
	p.mu.Lock()
	p.policy = pol
	p.mu.Unlock()
}

// Stats reports the pool's state. For a server at rest (no action
// running) it holds Total-1 bytes in the pipe, Held 0 and ImplicitFree
// (a server's fifo is made for it if it was not yet).
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.openLocked() // on failure InPipe is 0
	s := p.stats
	s.Total = p.n
	s.InPipe, _ = p.pipeCountLocked()
	s.Held = p.held
	s.ImplicitFree = p.implicitFree
	s.Attached = p.attached
	s.Lent = p.lent
	return s
}

// InUse reports how many tokens are taken now: the one each of bld's
// running actions holds, plus the extra tokens that jobserver-aware
// children read from the jobserver and have not given back; and total,
// the pool's size (Stats.Total: 0 for a client pool, whose parent knows).
// A server counts the bytes missing from its fifo (FIONREAD), which is
// exact; a client pool counts its own tokens and the parent's tokens its
// children took from the inner jobserver (lent, less those still in the
// inner fifo); a client without an inner jobserver cannot see its
// children's. It makes no fifo and reads or writes no token: cheap enough
// to sample every few milliseconds (--timings does).
func (p *Pool) InUse() (inUse, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	own := p.held
	if !p.implicitFree {
		own++
	}
	switch {
	case p.closed:
		return 0, p.n
	case p.server && p.file != nil:
		inPipe, err := p.pipeCountLocked()
		if err != nil {
			return own, p.n
		}
		// The byte tokens out of the fifo, and the implicit one if
		// taken; bytes a child wrote back without reading them (a
		// surplus the audit drains) would count below what bld's
		// actions hold.
		return max(own, p.n-1-inPipe+own-p.held), p.n
	case p.proxy:
		return own + max(0, p.lent-p.innerCountLocked()), p.n
	}
	return own, p.n
}

// Close gives back every token the pool holds and releases its resources.
// Waiting Acquire calls return ErrClosed; later Release calls do nothing.
// A client pool writes its byte tokens back to the parent, even those of
// actions still running, and every token it lent to its children's
// jobserver, even those a child still holds or died holding (call Close
// after the actions ended, or after killing them on Ctrl-C). A server pool removes its fifo; children still running
// keep their descriptors but bld no longer accounts for them.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if p.proxy {
		p.settleLocked()
	}
	if !p.server {
		p.writeTokensLocked(p.held)
	}
	p.held = 0
	p.closed = true
	for _, w := range p.waiters {
		w.ch <- ErrClosed
	}
	p.waiters = nil
	if p.auditTimer != nil {
		p.auditTimer.Stop()
	}
	p.mu.Unlock()

	if p.file == nil {
		return nil // a server whose fifo was never made
	}
	err := p.file.Close()
	<-p.done
	if p.proxy {
		unix.Close(p.innerFd)
	}
	for _, fd := range p.inherit {
		if fd > 0 {
			unix.Close(fd)
		}
	}
	if p.dir != "" {
		if rerr := os.RemoveAll(p.dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("jobserver: close: %w", err)
	}
	return nil
}
