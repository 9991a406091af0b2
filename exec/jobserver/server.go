package jobserver

import (
	"fmt"
	"os"
)

// NewServer creates a pool of n tokens (n >= 1) that bld serves as a GNU
// make jobserver. The first Acquire gets the implicit token; the other n-1
// tokens are bytes in a named fifo created in a new private directory
// under dir (os.TempDir() when dir is ""). Close removes that directory.
//
// The fifo is made at the pool's first use that needs it (an Acquire
// while the implicit token is taken, Attach, Stats), not here: a build
// that runs nothing (a no-op) or one action at a time without a
// jobserver-aware one never creates it (a directory, a fifo, their
// removal: ~1 ms of a no-op's ~20 ms). An error creating it is then that
// call's error.
func NewServer(n int, dir string) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("jobserver: need at least 1 token, got %d", n)
	}
	if n-1 > 4096 {
		// A pipe holds 64 KiB on Linux and 512 bytes is the POSIX minimum
		// for atomic writes; keep far below both.
		return nil, fmt.Errorf("jobserver: %d tokens is too many (at most 4097)", n)
	}
	return &Pool{server: true, n: n, tempDir: dir, implicitFree: true, inherit: [2]int{-1, -1}, auditDelay: defaultAuditDelay}, nil
}

// openLocked creates a server pool's fifo, filled with its n-1 byte
// tokens, if it has none yet; other pools have theirs from the start. An
// error is kept: every later call that needs the fifo returns it.
func (p *Pool) openLocked() error {
	if p.openErr != nil {
		// Also a fifo made but found short of tokens: it stays unused.
		return p.openErr
	}
	if p.file != nil || !p.server {
		return nil
	}
	if p.closed {
		return ErrClosed
	}
	// The fifo is read-write for bld, so that opening never blocks and
	// reads never see EOF. The os package makes it non-blocking and polls
	// it; children get descriptions of their own (see Attach), so nothing
	// they do to theirs (make 4.3 sets O_NONBLOCK) changes ours.
	priv, path, f, err := newPrivateFifo(p.tempDir)
	if err != nil {
		p.openErr = err
		return err
	}
	if err := p.init(f); err != nil {
		f.Close()
		os.RemoveAll(priv)
		p.openErr = fmt.Errorf("jobserver: %w", err)
		return p.openErr
	}
	p.fifoPath, p.reopen, p.dir = path, path, priv
	p.writeTokensLocked(p.n - 1)
	if got, _ := p.pipeCountLocked(); got != p.n-1 {
		p.openErr = fmt.Errorf("jobserver: fifo holds %d tokens after filling, want %d", got, p.n-1)
		return p.openErr
	}
	return nil
}
