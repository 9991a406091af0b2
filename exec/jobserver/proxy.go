package jobserver

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
)

// A client pool does not hand its parent's jobserver down as it is: a
// child that dies holding tokens of the parent (a make killed by Ctrl-C
// with two recipes running) would take them with it, and only the parent
// could notice, at its exit ("INTERNAL: Exiting with N jobserver tokens
// available"). So a client pool serves its children a fifo of its own, the
// inner jobserver, and moves tokens between the parent and that fifo on
// demand. It knows how many parent tokens are on the inner side (lent),
// so it can always give all of them back: at the quiet moment after the
// last jobserver-aware child ended, and on Close.
//
// Demand can't be seen on a pipe (a child blocked in read is invisible to
// the writer), so the broker keeps one token staged in the inner fifo
// while a jobserver-aware child runs, polling every brokerTick: when a
// child takes the staged token, the broker stages the next one from the
// parent; tokens the children give back beyond the staged one go back to
// the parent. The cost is one parent token that may sit unused in the
// inner fifo while a jobserver-aware child runs that wants no more, and up
// to brokerTick of latency for each extra token after the first.

// brokerTick is how often the broker looks at the inner fifo.
const brokerTick = 2 * time.Millisecond

// newPrivateFifo creates a fifo in a new private directory (mode 0700)
// under dir and opens it read-write (so that opening never blocks and
// reads never see EOF).
func newPrivateFifo(dir string) (priv, path string, f *os.File, err error) {
	priv, err = os.MkdirTemp(dir, "bld-jobserver-")
	if err != nil {
		return "", "", nil, fmt.Errorf("jobserver: %w", err)
	}
	path = filepath.Join(priv, "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		os.RemoveAll(priv)
		return "", "", nil, fmt.Errorf("jobserver: mkfifo %s: %w", path, err)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.RemoveAll(priv)
		return "", "", nil, fmt.Errorf("jobserver: %w", err)
	}
	return priv, path, f, nil
}

// initProxy gives a client pool its inner jobserver.
func (p *Pool) initProxy() error {
	priv, path, f, err := newPrivateFifo("")
	if err != nil {
		return err
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err == nil {
		unix.CloseOnExec(fd)
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		os.RemoveAll(priv)
		return fmt.Errorf("jobserver: %w", err)
	}
	p.proxy = true
	p.innerFd = fd
	p.dir = priv
	p.fifoPath = path
	p.reopen = path
	return nil
}

// innerCountLocked returns the number of tokens waiting in the inner fifo.
func (p *Pool) innerCountLocked() int {
	n, err := unix.IoctlGetInt(p.innerFd, fionread)
	if err != nil {
		return 0
	}
	return n
}

// innerReadLocked reads up to k bytes from the inner fifo without blocking.
func (p *Pool) innerReadLocked(k int) int {
	if k <= 0 {
		return 0
	}
	buf := make([]byte, k)
	for {
		n, err := unix.Read(p.innerFd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
}

// innerWriteLocked writes k token bytes to the inner fifo and returns how
// many it wrote.
func (p *Pool) innerWriteLocked(k int) int {
	buf := make([]byte, k)
	for i := range buf {
		buf[i] = '+'
	}
	done := 0
	for done < k {
		n, err := unix.Write(p.innerFd, buf[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		done += n
	}
	return done
}

// startBrokerLocked starts the broker if it is not running.
func (p *Pool) startBrokerLocked() {
	if p.brokerOn {
		return
	}
	p.brokerOn = true
	crash.Go(p.broker)
}

// broker runs while jobserver-aware children of a client pool are attached.
func (p *Pool) broker() {
	t := time.NewTicker(brokerTick)
	defer t.Stop()
	for {
		p.mu.Lock()
		if p.closed || p.attached == 0 {
			p.brokerOn = false
			p.mu.Unlock()
			return
		}
		p.brokerStepLocked()
		p.mu.Unlock()
		<-t.C
	}
}

// brokerStepLocked moves tokens between the parent and the inner fifo:
// bld's own waiting actions first under PreferActions, then one token
// staged for the children; any more in the inner fifo go back.
func (p *Pool) brokerStepLocked() {
	c := p.innerCountLocked()
	// Under PreferActions a token the children are not using serves a
	// waiting action of bld first.
	for c > 0 && len(p.waiters) > 0 && p.policy == PreferActions {
		if p.innerReadLocked(1) != 1 {
			break
		}
		c--
		p.lent--
		p.held++
		p.grantLocked()
	}
	switch {
	case c > 1:
		back := p.innerReadLocked(c - 1)
		p.writeTokensLocked(back)
		p.lent -= back
	case c == 0 && (len(p.waiters) == 0 || p.policy == Fair):
		if p.readTokensLocked(1) == 1 {
			if p.innerWriteLocked(1) == 1 {
				p.lent++
			} else {
				p.writeTokensLocked(1)
			}
		}
	}
}

// settleLocked gives the parent every token lent to the inner side, also
// those a dead child took, and empties the inner fifo. The caller makes
// sure that no child can hold an inner token any more.
func (p *Pool) settleLocked() {
	c := p.innerCountLocked()
	got := p.innerReadLocked(c)
	switch {
	case got < p.lent:
		p.stats.Restored += p.lent - got
	case got > p.lent:
		p.stats.Drained += got - p.lent
	}
	p.writeTokensLocked(p.lent)
	p.lent = 0
}
