package jobserver

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// FromEnv joins the jobserver that environ names, when bld runs under
// make or cargo: the last --jobserver-auth= (or --jobserver-fds=) of the
// first of CARGO_MAKEFLAGS, MAKEFLAGS and MFLAGS that has one, either
// "R,W" (inherited descriptors) or "fifo:PATH".
//
// It returns (pool, true, nil) when it joined. The pool's first token is
// bld's implicit one (the parent counted bld as one job); the others are
// read from the parent, and Close writes back every one still held. It
// returns (nil, false, nil) when environ names no jobserver, and
// (nil, false, err) when it names one that cannot be used (descriptors not
// open, as under make 4.3 for a recipe without '+'; a fifo that cannot be
// opened): err is a warning for the user, and the caller goes on with a
// pool of its own (NewServer).
//
// The inherited descriptors are made close-on-exec. Children given the
// jobserver by Attach get a jobserver of bld's own, a private fifo that
// bld fills from the parent on demand (see proxy.go), in either style, so
// that bld can give the parent back the tokens of a child that dies
// holding them. Only if that fifo can't be made do children get the
// parent's jobserver itself.
func FromEnv(environ []string) (*Pool, bool, error) {
	a, ok, err := findAuth(environ)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w; running without the parent's jobserver", err)
	}
	if a.Fifo != "" {
		return joinFifo(a)
	}
	return joinPipe(a)
}

func joinFifo(a auth) (*Pool, bool, error) {
	f, err := os.OpenFile(a.Fifo, os.O_RDWR, 0)
	if err != nil {
		return nil, false, fmt.Errorf("jobserver: %s names the fifo %s, which cannot be opened (%v); running without the parent's jobserver", a.Var, a.Fifo, err)
	}
	p := &Pool{implicitFree: true, fifoPath: a.Fifo, reopen: a.Fifo, inherit: [2]int{-1, -1}, innerFd: -1, auditDelay: defaultAuditDelay}
	if err := p.init(f); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("jobserver: %w", err)
	}
	p.initProxy() // on failure, children get the parent's fifo itself
	return p, true, nil
}

func joinPipe(a auth) (*Pool, bool, error) {
	if err := checkPipeEnd(a.R, unix.O_RDONLY); err != nil {
		return nil, false, pipeWarning(a, err)
	}
	if err := checkPipeEnd(a.W, unix.O_WRONLY); err != nil {
		return nil, false, pipeWarning(a, err)
	}
	for _, fd := range []int{a.R, a.W} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return nil, false, pipeWarning(a, err)
		}
	}
	p := &Pool{implicitFree: true, inherit: [2]int{a.R, a.W}, innerFd: -1, auditDelay: defaultAuditDelay}
	// A description of our own, so that the O_NONBLOCK make 4.3 sets on
	// the shared one and ours are independent. Linux opens a pipe again
	// through /proc.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", a.R), os.O_RDWR, 0)
	if err != nil {
		// No /proc: share the inherited description, non-blocking, as
		// make 4.3 has it anyway.
		fd, derr := unix.FcntlInt(uintptr(a.R), unix.F_DUPFD_CLOEXEC, 3)
		if derr != nil {
			return nil, false, pipeWarning(a, derr)
		}
		if derr := unix.SetNonblock(fd, true); derr != nil {
			unix.Close(fd)
			return nil, false, pipeWarning(a, derr)
		}
		f = os.NewFile(uintptr(fd), "jobserver")
	}
	if err := p.init(f); err != nil {
		f.Close()
		return nil, false, pipeWarning(a, err)
	}
	if err := p.initProxy(); err != nil {
		// No inner jobserver: children get the parent's pipe itself,
		// through /proc when it can be opened again.
		if _, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", p.fd)); err == nil {
			p.reopen = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), p.fd)
			p.fifoPath = p.reopen
		}
	}
	return p, true, nil
}

// checkPipeEnd checks that fd is open, is a pipe or fifo, and can be used
// in mode (O_RDONLY or O_WRONLY).
func checkPipeEnd(fd, mode int) error {
	if fd < 0 {
		return fmt.Errorf("descriptor %d is invalid", fd)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("descriptor %d is not open", fd)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("descriptor %d is not a pipe", fd)
	}
	acc := fl & unix.O_ACCMODE
	if acc != mode && acc != unix.O_RDWR {
		return fmt.Errorf("descriptor %d is not open for %s", fd, map[int]string{unix.O_RDONLY: "reading", unix.O_WRONLY: "writing"}[mode])
	}
	return nil
}

func pipeWarning(a auth, err error) error {
	return fmt.Errorf("jobserver: %s names the jobserver %s, but %v: the parent make passes its jobserver only to recipes marked '+' or running $(MAKE); running without the parent's jobserver", a.Var, a.Text, err)
}
