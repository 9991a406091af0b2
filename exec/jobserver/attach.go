package jobserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Style is how a jobserver-aware child is told about the jobserver.
type Style int

const (
	// StyleAuto picks StyleFifo for ninja (the only style ninja 1.13
	// reads) and StylePipe for everything else. It is the default.
	StyleAuto Style = iota
	// StylePipe passes two inherited descriptors and
	// "-j --jobserver-fds=R,W --jobserver-auth=R,W", the only style GNU
	// make 4.3, cargo, rustc and the jobserver crate read; make 4.4 and
	// gcc read it too.
	StylePipe
	// StyleFifo passes "-j --jobserver-auth=fifo:PATH", which make 4.4+,
	// ninja 1.13 and recent jobserver crates read. make 4.3 does not.
	StyleFifo
)

func (s Style) String() string {
	switch s {
	case StyleAuto:
		return "auto"
	case StylePipe:
		return "pipe"
	case StyleFifo:
		return "fifo"
	}
	return fmt.Sprintf("Style(%d)", int(s))
}

// SetStyle sets the style AttachJobserver uses. The default is StyleAuto.
func (p *Pool) SetStyle(s Style) {
	p.mu.Lock()
	p.style = s
	p.mu.Unlock()
}

// AttachJobserver is Attach with the pool's style (see SetStyle).
func (p *Pool) AttachJobserver(cmd *exec.Cmd) (detach func(), err error) {
	p.mu.Lock()
	s := p.style
	p.mu.Unlock()
	return p.Attach(cmd, s)
}

// Attach gives cmd, which must not have started, access to the pool as a
// GNU make jobserver in the given style: it sets MAKEFLAGS (keeping other
// make options), CARGO_MAKEFLAGS and, if present, MFLAGS in cmd.Env
// (starting from os.Environ() when cmd.Env is nil), and for the pipe style
// appends two descriptors to cmd.ExtraFiles (numbered 3+len(ExtraFiles)
// before the call, and the next). Each child gets descriptions of its own,
// so a child switching its descriptor to non-blocking affects nobody else.
//
// detach must be called once cmd has ended, whatever its outcome (calls
// after the first do nothing). It closes bld's copies of the descriptors
// and, on a server pool, lets the pool restore tokens a dead child took.
// The child's own token is the one bld acquired for it; the child reads
// only extra tokens from the jobserver.
func (p *Pool) Attach(cmd *exec.Cmd, style Style) (detach func(), err error) {
	if cmd.Process != nil {
		return nil, fmt.Errorf("jobserver: attach to %s: already started", cmd.Path)
	}
	if style == StyleAuto {
		style = autoStyle(cmd)
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	var files []*os.File
	switch style {
	case StyleFifo:
		if p.fifoPath == "" {
			return nil, fmt.Errorf("jobserver: the fifo style is not available here: the parent jobserver is a pipe and /proc is missing")
		}
		env = jobserverEnv(env, "--jobserver-auth=fifo:"+p.fifoPath)
	case StylePipe:
		r, w, err := p.childDescriptors()
		if err != nil {
			return nil, err
		}
		files = []*os.File{r, w}
		rn := 3 + len(cmd.ExtraFiles)
		cmd.ExtraFiles = append(cmd.ExtraFiles, r, w)
		fds := fmt.Sprintf("%d,%d", rn, rn+1)
		env = jobserverEnv(env, "--jobserver-fds="+fds+" --jobserver-auth="+fds)
	default:
		return nil, fmt.Errorf("jobserver: unknown style %v", style)
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		closeAll(files)
		return nil, ErrClosed
	}
	p.attached++
	if p.proxy {
		p.startBrokerLocked()
	}
	p.mu.Unlock()
	cmd.Env = env

	var once sync.Once
	return func() {
		once.Do(func() {
			closeAll(files)
			p.mu.Lock()
			p.attached--
			p.auditLocked()
			p.mu.Unlock()
		})
	}, nil
}

func autoStyle(cmd *exec.Cmd) Style {
	name := cmd.Path
	if len(cmd.Args) > 0 {
		name = cmd.Args[0]
	}
	base := strings.TrimSuffix(filepath.Base(name), ".exe")
	if base == "ninja" || filepath.Base(cmd.Path) == "ninja" {
		return StyleFifo
	}
	return StylePipe
}

// childDescriptors opens two new blocking descriptions of the pipe (read
// and write end), close-on-exec so that only the child they are passed to
// inherits them. A client pool without /proc falls back to duplicating the
// descriptors it inherited, which share the parent's description.
func (p *Pool) childDescriptors() (r, w *os.File, err error) {
	open := func(name string) (*os.File, error) {
		if p.reopen != "" {
			fd, err := unix.Open(p.reopen, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err == nil {
				return os.NewFile(uintptr(fd), name), nil
			}
			if p.inherit[0] < 0 {
				return nil, fmt.Errorf("jobserver: open %s: %w", p.reopen, err)
			}
		}
		i := 0
		if name == "jobserver-w" {
			i = 1
		}
		fd, err := unix.FcntlInt(uintptr(p.inherit[i]), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("jobserver: dup: %w", err)
		}
		return os.NewFile(uintptr(fd), name), nil
	}
	if r, err = open("jobserver-r"); err != nil {
		return nil, nil, err
	}
	if w, err = open("jobserver-w"); err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, w, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
