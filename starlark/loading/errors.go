package loading

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// NoSuchPackageError reports a label whose package has no BUILD.star.
type NoSuchPackageError struct {
	Pkg string
	// NoDir is set when the package's directory does not exist either.
	NoDir bool
}

func (e *NoSuchPackageError) Error() string {
	dir := e.Pkg
	if dir == "" {
		dir = "the workspace root"
	}
	if e.NoDir {
		return fmt.Sprintf("no package //%s: there is no directory %s", e.Pkg, dir)
	}
	return fmt.Sprintf("no package //%s: %s has no BUILD.star file (a directory is a package when it has one)", e.Pkg, dir)
}

// EvalError is a Starlark error with the backtrace that led to it. Its
// message starts with file:line:col of the innermost frame.
type EvalError struct {
	Msg       string
	Backtrace string
}

func (e *EvalError) Error() string { return e.Backtrace }

// evalError turns a Starlark evaluation error into an error whose text is
// the backtrace (each frame as file:line:col), so that the place is named.
// A deep backtrace is shortened to its first and last frames (backtrace).
func evalError(err error) error {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		bt := backtrace(ee)
		switch {
		case strings.HasSuffix(ee.Msg, "too many steps"):
			bt += "\n(the evaluation reached its limit of Starlark execution steps: look for an endless loop or recursion there)"
		case ee.Msg == "Starlark stack overflow":
			bt += "\n(a function called itself, directly or through others, without end: look for the recursion in the frames above)"
		}
		return &EvalError{Msg: ee.Msg, Backtrace: bt}
	}
	return err
}

// backtraceEnds is how many frames backtrace prints at each end of a deep
// stack.
const backtraceEnds = 10

// backtrace formats ee as go.starlark.net's Backtrace does ("Traceback (most
// recent call last):", one "  file:line:col: in fn" line per frame, then
// "Error[ in builtin]: msg"), except that a stack of more than
// 2*backtraceEnds frames shows its first and last backtraceEnds frames and
// one line counting the frames between ("  ... 99,981 more frames of f
// ..."): unbounded recursion would otherwise print a line per frame, 100,000
// of them. fail()'s message says "fail" once.
func backtrace(ee *starlark.EvalError) string {
	stack := ee.CallStack
	msg := ee.Msg
	suffix := ""
	if last := len(stack) - 1; last >= 0 && stack[last].Pos.Filename() == "<builtin>" {
		suffix = " in " + stack[last].Name
		stack = stack[:last]
		if suffix == " in fail" {
			// go.starlark.net's fail() says "fail: msg".
			msg = strings.TrimPrefix(msg, "fail: ")
		}
	}
	var b strings.Builder
	if len(stack) > 0 {
		b.WriteString("Traceback (most recent call last):\n")
	}
	frame := func(fr starlark.CallFrame) { fmt.Fprintf(&b, "  %s: in %s\n", fr.Pos, fr.Name) }
	if len(stack) <= 2*backtraceEnds {
		for _, fr := range stack {
			frame(fr)
		}
	} else {
		for _, fr := range stack[:backtraceEnds] {
			frame(fr)
		}
		between := stack[backtraceEnds : len(stack)-backtraceEnds]
		fmt.Fprintf(&b, "  ... %s more frames of %s ...\n", thousands(len(between)), frameNames(between))
		for _, fr := range stack[len(stack)-backtraceEnds:] {
			frame(fr)
		}
	}
	fmt.Fprintf(&b, "Error%s: %s", suffix, msg)
	return b.String()
}

// frameNames lists the distinct function names of frames, in order of first
// appearance, at most three and "..." after them.
func frameNames(frames []starlark.CallFrame) string {
	var names []string
	seen := map[string]bool{}
	for _, fr := range frames {
		if seen[fr.Name] {
			continue
		}
		seen[fr.Name] = true
		if len(names) == 3 {
			names = append(names, "...")
			break
		}
		names = append(names, fr.Name)
	}
	return strings.Join(names, ", ")
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// EvalErr converts err as the loader does, for other packages that run
// Starlark (analysis).
func EvalErr(err error) error { return evalError(err) }
