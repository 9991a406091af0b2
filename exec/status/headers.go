package status

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"bld/exec/executor"
	"bld/exec/graph"
)

// What a Display prints around the output of actions, so that a reader
// knows which action printed what: headers, progress messages told apart,
// subcommands, the list of failures, and colours.

// ANSI styles of a Display that colours its output.
const (
	styleBold  = "\x1b[1m"
	styleRed   = "\x1b[1;31m"
	styleGreen = "\x1b[32m"
	styleReset = "\x1b[0m"
)

// Color makes the display colour headers, subcommands and failures with
// ANSI escapes. The caller decides (a terminal, and NO_COLOR unset or
// empty); the default is no colour.
func (d *Display) Color(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.color = on
}

// Subcommands makes the display print, for each action that executes, its
// command line quoted for a POSIX shell, when it starts (bld build -s):
//
//	SUBCOMMAND: //lib:foo (CcCompile): Compiling lib/foo.c
//	gcc -c lib/foo.c -o bld-out/lib/_objs/foo/foo.o
func (d *Display) Subcommands(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.subcommands = on
}

// style wraps s in an ANSI style when the display colours.
func (d *Display) style(style, s string) string {
	if !d.color {
		return s
	}
	return style + s + styleReset
}

// distinctMessages returns the progress message of each action of a build,
// keyed by action: Message(), followed by " (<owner>)" when another action
// of the build has the same message and the message does not already name
// its owner ("Compiling src/where.c (//a:x)" and "... (//b:y)").
func distinctMessages(actions []*graph.Action) map[*graph.Action]string {
	count := make(map[string]int, len(actions))
	msgs := make(map[*graph.Action]string, len(actions))
	for _, a := range actions {
		if _, dup := msgs[a]; !dup {
			msgs[a] = ""
			count[a.Message()]++
		}
	}
	for a := range msgs {
		m := a.Message()
		if count[m] > 1 && !strings.Contains(m, a.Owner) {
			m += " (" + a.Owner + ")"
		}
		msgs[a] = m
	}
	return msgs
}

// messageOverrides returns the progress messages of distinctMessages that
// differ from the action's Message(), and only those: the display of a
// build of 100,000 actions with messages of their own keeps none.
func messageOverrides(actions []*graph.Action) map[*graph.Action]string {
	// Actions are counted once however often they are listed: the first
	// action of each message is in first, the others in also.
	first := make(map[string]*graph.Action, len(actions))
	count := map[string]int{}
	also := map[*graph.Action]bool{}
	for _, a := range actions {
		m := a.Message()
		f, ok := first[m]
		switch {
		case !ok:
			first[m] = a
		case f != a && !also[a]:
			also[a] = true
			count[m]++
		}
	}
	over := map[*graph.Action]string{}
	add := func(a *graph.Action) {
		if m := a.Message(); count[m] > 0 && !strings.Contains(m, a.Owner) {
			over[a] = m + " (" + a.Owner + ")"
		}
	}
	for _, a := range first {
		add(a)
	}
	for a := range also {
		add(a)
	}
	return over
}

// message is the progress message the display shows for a. d.mu is held.
func (d *Display) message(a *graph.Action) string {
	if d.messages == nil && d.planned != nil {
		d.messages, d.planned = messageOverrides(d.planned), nil
	}
	if m, ok := d.messages[a]; ok {
		return m
	}
	return a.Message()
}

// identity names an action for a reader: "//lib:foo (CcCompile)", then
// ": <message>" unless the message is the default one, which says no more.
func (d *Display) identity(a *graph.Action, status executor.Status) string {
	s := a.Owner + " (" + a.Mnemonic
	if status == executor.StatusRestored {
		s += ", restored"
	}
	s += ")"
	if a.Description != "" {
		s += ": " + d.message(a)
	}
	return s
}

// header is the first line of the block an action's output prints in:
// "FAILED: <identity>" for a failure (ninja's), "From <identity>:" for an
// action that ran or was restored (Bazel's "INFO: From ...").
func (d *Display) header(r executor.Result) string {
	if r.Status == executor.StatusFailed {
		return d.style(styleRed, "FAILED:") + " " + r.Action.Owner + " (" + r.Action.Mnemonic + ")\n"
	}
	return d.style(styleBold, "From "+d.identity(r.Action, r.Status)+":") + "\n"
}

// body is what prints under an action's header: for a failure, its
// command line, the error, its whole output and what bld knows of the
// cause; otherwise its output.
func body(r executor.Result) []byte {
	if r.Status != executor.StatusFailed {
		if r.Action.QuietOutput {
			return nil // a passing test's log: kept, not shown
		}
		return r.Output
	}
	var b bytes.Buffer
	a := r.Action
	b.WriteString(CommandLine(a))
	b.WriteByte('\n')
	if r.Err != nil {
		fmt.Fprintf(&b, "error: %v\n", r.Err)
	}
	if !a.QuietFailure {
		b.Write(r.Output)
		if len(r.Output) > 0 && r.Output[len(r.Output)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	for _, c := range clashes(r.Output, a.Inputs) {
		fmt.Fprintf(&b, "bld: %s, which this action compiles as one source\n", c)
	}
	if a.Hint() != "" {
		fmt.Fprintf(&b, "bld: %s\n", a.Hint())
	}
	return b.Bytes()
}

// withHeader is the block an action prints: why it ran (with --explain),
// then, when it has a body (its output, or its failure), the header and
// the body. It is empty when there is nothing to say.
func (d *Display) withHeader(r executor.Result, body []byte) []byte {
	explain := d.explain && r.Status == executor.StatusRan
	if !explain && len(body) == 0 && r.Status != executor.StatusFailed {
		return nil // most actions of most builds: nothing allocated
	}
	var b bytes.Buffer
	if explain {
		fmt.Fprintf(&b, "explain: %s: %s\n", d.message(r.Action), r.Reason)
	}
	if len(body) > 0 || r.Status == executor.StatusFailed {
		b.WriteString(d.header(r))
		b.Write(body)
	}
	return b.Bytes()
}

// subcommand prints the command of action a, which starts now.
func (d *Display) subcommand(a *graph.Action) {
	d.clear()
	fmt.Fprintf(d.w, "%s %s\n%s\n", d.style(styleGreen, "SUBCOMMAND:"), d.identity(a, executor.StatusRan), CommandLine(a))
}

// failedList prints, after a build in which actions failed, one line for
// each, in the order they failed.
func (d *Display) failedList(w io.Writer) {
	if len(d.failed) == 0 {
		return
	}
	what := "1 action"
	if len(d.failed) > 1 {
		what = fmt.Sprintf("%d actions", len(d.failed))
	}
	fmt.Fprintf(w, "bld: %s failed:\n", what)
	for _, a := range d.failed {
		fmt.Fprintf(w, "  %s\n", d.style(styleRed, d.identity(a, executor.StatusFailed)))
	}
}
