package executor

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
)

// A reaper waits for every command the runner started itself on one
// goroutine, as ninja waits for all its commands in one ppoll(2): the output
// pipe and the pidfd of each command are in one epoll set of the reaper's,
// and that set is itself in the runtime's poller, so that while commands run
// no thread of bld's sits in a system call of its own (the runtime's monitor,
// sysmon, takes back the processor of a thread in a long system call when no
// other is idle, and then polls every 20 µs). The reaper reads each
// command's output, reaps the command once it has ended (process.reap: its
// group killed first) and reads what is left in its pipe until EOF or for
// waitDelay at most, then wakes the goroutine that waits for it.
type reaper struct {
	once  sync.Once
	epfd  int // the set; -1 if it could not be made
	stopf int // an eventfd in the set: close's, or a new deadline's
	ended chan struct{}

	// mu guards what follows and the fields of the reapings in waits.
	mu      sync.Mutex
	closing bool
	broken  bool // the set cannot be waited on, or is closed: no command is taken
	next    int32
	waits   map[int32]*reaping
}

// A reaping is one command the reaper waits for.
type reaping struct {
	p        *process
	rd       int
	out      io.Writer
	buf      []byte
	exited   bool
	eof      bool
	deadline time.Time // once exited: when to stop reading the pipe
	ws       syscall.WaitStatus
	ru       syscall.Rusage
	werr     error
	fin      chan struct{} // closed when the wait is over
}

// What an event in the set is about (EpollEvent.Pad; Fd is the reaping's
// number).
const (
	reapPipe  = 0
	reapPidfd = 1
	reapStop  = 2
)

// start makes the set and starts the loop, once; it reports whether the
// reaper takes commands.
func (r *reaper) start() bool {
	r.once.Do(func() {
		r.epfd = -1
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		stopf, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			unix.Close(epfd)
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Pad: reapStop}
		if unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stopf, &ev) != nil || unix.SetNonblock(epfd, true) != nil {
			unix.Close(epfd)
			unix.Close(stopf)
			return
		}
		r.epfd, r.stopf = epfd, stopf
		r.waits = map[int32]*reaping{}
		r.ended = make(chan struct{})
		crash.Go(r.loop)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.epfd >= 0 && !r.broken
}

// close ends the loop; no command may be waited for.
func (r *reaper) close() {
	if r.ended == nil {
		return
	}
	r.mu.Lock()
	r.closing = true
	r.broken = true // a later wait is the caller's
	r.mu.Unlock()
	r.nudge()
	<-r.ended
	unix.Close(r.stopf)
	r.ended = nil
}

// nudge wakes the loop: to end it (closing), or to look at the deadlines.
func (r *reaper) nudge() {
	var one [8]byte
	one[0] = 1
	unix.Write(r.stopf, one[:])
}

// wait is process.wait through the reaper: ok is false if the reaper does
// not take the command (the caller then waits itself; nothing was read).
func (r *reaper) wait(p *process, rd int, out io.Writer, buf []byte) (ws syscall.WaitStatus, ru *syscall.Rusage, err error, ok bool) {
	if p.pidfd < 0 || !r.start() {
		return 0, nil, nil, false
	}
	w := &reaping{p: p, rd: rd, out: out, buf: buf, fin: make(chan struct{})}
	// Registered under mu: the loop, or fail, sees it whole.
	r.mu.Lock()
	if r.broken {
		r.mu.Unlock()
		return 0, nil, nil, false
	}
	r.next++
	id := r.next
	evp := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: id, Pad: reapPipe}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, rd, &evp); err != nil {
		r.mu.Unlock()
		return 0, nil, nil, false
	}
	r.waits[id] = w
	evx := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: id, Pad: reapPidfd}
	watched := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, p.pidfd, &evx) == nil
	r.mu.Unlock()
	if !watched {
		// The end is waited for here, and told to the loop.
		exitedUnreaped(p.pid)
		r.mu.Lock()
		if r.waits[id] == w {
			r.exitedLocked(id, w)
		}
		r.mu.Unlock()
		r.nudge()
	}
	<-w.fin
	unix.Close(p.pidfd)
	if w.werr != nil {
		return 0, nil, w.werr, true
	}
	return w.ws, &w.ru, nil, true
}

// loop serves the set until close: it parks in the runtime's poller until
// the set is readable (or the nearest deadline passes), then handles what
// epoll_wait(2) gives without blocking.
func (r *reaper) loop() {
	defer close(r.ended)
	f := os.NewFile(uintptr(r.epfd), "|reaper") // non-blocking: in the runtime's poller
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		r.fail()
		return
	}
	evs := make([]unix.EpollEvent, 16)
	for {
		f.SetReadDeadline(r.nearest())
		var werr error
		stop := false
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.EpollWait(int(fd), evs, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				var again bool
				stop, again = r.handle(evs[:n])
				if stop || again {
					return true
				}
				if n < len(evs) {
					return false // none left: park until the set is readable
				}
			}
		})
		if stop {
			return
		}
		if werr != nil || err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			r.fail()
			return
		}
		r.expire()
	}
}

// handle acts on the set's events. It reports whether the loop must end,
// and whether it must look at the deadlines again.
func (r *reaper) handle(evs []unix.EpollEvent) (stop, again bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		if ev.Pad == reapStop {
			var b [8]byte
			unix.Read(r.stopf, b[:])
			if r.closing {
				return true, false
			}
			again = true
			continue
		}
		w := r.waits[ev.Fd]
		if w == nil {
			continue
		}
		switch ev.Pad {
		case reapPipe:
			// One read per wake-up: epoll said it will not block.
			k, err := unix.Read(w.rd, w.buf)
			switch {
			case k > 0 || err == unix.EINTR || err == unix.EAGAIN:
				if k > 0 {
					w.out.Write(w.buf[:k])
				}
				re := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: ev.Fd, Pad: reapPipe}
				if unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, w.rd, &re) != nil {
					w.eof = true
				}
			default:
				w.eof = true // EOF, or an error no read will mend
			}
			if w.exited && w.eof {
				r.finishLocked(ev.Fd, w)
			}
		case reapPidfd:
			if !w.exited && !r.exitedLocked(ev.Fd, w) {
				again = true // its pipe is still open: a deadline
			}
		}
	}
	return false, again
}

// exitedLocked reaps w's command, which has ended, and finishes w if its
// pipe is at EOF, reporting whether it did. r.mu is held.
func (r *reaper) exitedLocked(id int32, w *reaping) bool {
	if w.exited {
		return false
	}
	w.exited = true
	w.ws, w.werr = w.p.reap(&w.ru)
	w.deadline = time.Now().Add(waitDelay)
	if w.eof {
		r.finishLocked(id, w)
		return true
	}
	return false
}

// finishLocked hands w back to its goroutine. r.mu is held.
func (r *reaper) finishLocked(id int32, w *reaping) {
	delete(r.waits, id)
	close(w.fin)
}

// expire finishes the commands that ended waitDelay ago with their pipe
// still open (a descendant that left the group holds it).
func (r *reaper) expire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for id, w := range r.waits {
		if w.exited && !now.Before(w.deadline) {
			unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, w.rd, nil)
			r.finishLocked(id, w)
		}
	}
}

// nearest is the nearest deadline of a command that ended with its pipe
// still open; zero if none.
func (r *reaper) nearest() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	for _, w := range r.waits {
		if w.exited && (t.IsZero() || w.deadline.Before(t)) {
			t = w.deadline
		}
	}
	return t
}

// fail reaps every command waited for the blocking way, without the rest
// of its output, when the set cannot be waited on; no later command is
// taken (its goroutine waits itself).
func (r *reaper) fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broken = true
	for id, w := range r.waits {
		if !w.exited {
			exitedUnreaped(w.p.pid)
			w.ws, w.werr = w.p.reap(&w.ru)
		}
		r.finishLocked(id, w)
	}
}
