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
	// StyleAuto picks the style by program: StyleFor. It is the default.
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

// ParseStyle reads a style as an action names it: "fifo", "pipe", or ""
// (or "auto") for StyleAuto.
func ParseStyle(s string) (Style, error) {
	switch s {
	case "", "auto":
		return StyleAuto, nil
	case "pipe":
		return StylePipe, nil
	case "fifo":
		return StyleFifo, nil
	}
	return 0, fmt.Errorf("jobserver: unknown style %q (want fifo or pipe)", s)
}

// StyleFor is the style bld gives the command line argv when nobody chose
// one: StyleFifo for ninja (the only style ninja 1.13 accepts on POSIX;
// "Ignoring jobserver: Pipe-based protocol is not supported!" otherwise),
// and for a shell (sh, bash, dash, ...) whose -c script has ninja as a word
// ("cd out && ninja", "tools/ninja -C b"); StylePipe for everything else,
// because make 4.3, cargo and rustc read only that one. A script that runs
// both ninja and make 4.3 must choose (the action's jobserver style).
func StyleFor(argv []string) Style {
	if len(argv) == 0 {
		return StylePipe
	}
	prog := programName(argv[0])
	if isNinja(prog) {
		return StyleFifo
	}
	if shells[prog] {
		if script, ok := shellScript(argv[1:]); ok && scriptRunsNinja(script) {
			return StyleFifo
		}
	}
	return StylePipe
}

func programName(p string) string { return strings.TrimSuffix(filepath.Base(p), ".exe") }

func isNinja(name string) bool { return name == "ninja" || name == "ninja-build" }

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true}

// shellScript finds the script of a shell's -c among its arguments: the
// first operand after an option cluster holding c ("-c", "-ec", "-e -c").
func shellScript(args []string) (string, bool) {
	c := false
	for _, a := range args {
		if len(a) > 1 && (a[0] == '-' || a[0] == '+') && a != "--" {
			if a[0] == '-' && strings.ContainsRune(a[1:], 'c') {
				c = true
			}
			continue
		}
		if a == "--" {
			continue
		}
		return a, c
	}
	return "", false
}

// scriptRunsNinja reports whether the shell text has ninja as a word: a
// run of name characters that is "ninja" or ends in "/ninja".
func scriptRunsNinja(script string) bool {
	words := strings.FieldsFunc(script, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./+-", r))
	})
	for _, w := range words {
		if isNinja(programName(w)) {
			return true
		}
	}
	return false
}

// SetStyle sets the style AttachJobserver uses for actions that chose none.
// The default is StyleAuto.
func (p *Pool) SetStyle(s Style) {
	p.mu.Lock()
	p.style = s
	p.mu.Unlock()
}

// AttachJobserver is Attach for an action: cmd runs the action's command
// line argv (cmd's own Args may be the sandbox helper's), and style is the
// style the action chose ("fifo", "pipe"; see ParseStyle). An action that
// chose none gets the pool's style (SetStyle), and under StyleAuto the
// style StyleFor(argv) says.
func (p *Pool) AttachJobserver(cmd *exec.Cmd, argv []string, style string) (detach func(), err error) {
	s, err := ParseStyle(style)
	if err != nil {
		return nil, err
	}
	if s == StyleAuto {
		p.mu.Lock()
		s = p.style
		p.mu.Unlock()
	}
	if s == StyleAuto {
		s = StyleFor(argv)
	}
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
		style = StyleFor(cmd.Args)
	}
	p.mu.Lock()
	err = p.openLocked()
	p.mu.Unlock()
	if err != nil {
		return nil, err
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
