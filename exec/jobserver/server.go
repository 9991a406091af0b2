package jobserver

import (
	"fmt"
	"os"
)

// NewServer creates a pool of n tokens (n >= 1) that bld serves as a GNU
// make jobserver. The first Acquire gets the implicit token; the other n-1
// tokens are bytes in a named fifo created in a new private directory
// under dir (os.TempDir() when dir is ""). Close removes that directory.
func NewServer(n int, dir string) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("jobserver: need at least 1 token, got %d", n)
	}
	if n-1 > 4096 {
		// A pipe holds 64 KiB on Linux and 512 bytes is the POSIX minimum
		// for atomic writes; keep far below both.
		return nil, fmt.Errorf("jobserver: %d tokens is too many (at most 4097)", n)
	}
	// The fifo is read-write for bld, so that opening never blocks and
	// reads never see EOF. The os package makes it non-blocking and polls
	// it; children get descriptions of their own (see Attach), so nothing
	// they do to theirs (make 4.3 sets O_NONBLOCK) changes ours.
	priv, path, f, err := newPrivateFifo(dir)
	if err != nil {
		return nil, err
	}
	p := &Pool{server: true, n: n, fifoPath: path, reopen: path, dir: priv, inherit: [2]int{-1, -1}, auditDelay: defaultAuditDelay}
	if err := p.init(f); err != nil {
		f.Close()
		os.RemoveAll(priv)
		return nil, fmt.Errorf("jobserver: %w", err)
	}
	p.mu.Lock()
	p.writeTokensLocked(n - 1)
	got, _ := p.pipeCountLocked()
	p.mu.Unlock()
	if got != n-1 {
		p.Close()
		return nil, fmt.Errorf("jobserver: fifo holds %d tokens after filling, want %d", got, n-1)
	}
	return p, nil
}
