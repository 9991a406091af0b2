// Package status tells people and logs what a build does: Display is the
// terminal (or plain log) progress and diagnostics, EventLog is the
// --events file, and Multi fans the executor's events out to several
// observers.
package status

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/shell"
)

// redrawEvery limits how often the smart status line is redrawn for actions
// that finish without output, so that a no-op build of 100,000 actions does
// not spend its time writing to the terminal.
const redrawEvery = 50 * time.Millisecond

// Display is an executor.Observer that reports progress ninja-style:
// `[done/total, N running] message` (appendStatus). On a terminal (smart) it
// keeps one status line, rewritten in place and cleared before any block is
// printed; otherwise it prints one plain line per action started, the
// action counted as running. Output of actions that ran is
// printed as one block when the action finishes, never interleaved with
// another, under a header naming the action (label, mnemonic, and its
// message when the rule gave one); a failed action prints a block with
// its label, command line, error and whole output, once, and is listed
// again at the end of the build. Each compiler diagnostic is printed once
// in a build, by the first action that prints it (shownDiagnostics): later
// actions' blocks leave it out (a failure keeps its errors), and the build
// ends with a list of the repeated ones and how many actions printed each.
// The actions of a group (graph.Action.Group, such as the partitions of a
// unit) print together once the last of them has finished, in the order of
// their IDs, with a note under a diagnostic several of them printed.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	smart bool
	width int // terminal columns, 0 if unknown

	total, done int
	// running holds the actions whose command runs (Started, until
	// CommandEnded or Finished), under runningMu, which is never held
	// while writing: CommandEnded is called before the action's token is
	// released. A file-writing action (no command) is not counted.
	runningMu   sync.Mutex
	running     map[int]*graph.Action
	last        int    // the action the status line shows, if running
	line        []byte // the status line's buffer, reused
	lineShown   bool
	lastDraw    time.Time
	explain     bool
	color       bool
	subcommands bool

	messages map[*graph.Action]string // progress messages unlike Message() (messageOverrides), once needed
	planned  []*graph.Action          // what messages is computed from
	failed   []*graph.Action          // in the order they failed
	eta      *estimator               // the time left, with Estimates

	groupSize map[string]int               // actions planned per group
	grouped   map[string][]executor.Result // finished, not yet printed
	shown     shownDiagnostics             // the diagnostics printed so far
	one       [1][]byte                    // block's argument to shown.merge, kept to spare an allocation
	oneFailed [1]bool
}

var _ executor.Observer = (*Display)(nil)

// New returns a Display writing to w; smart says w is a terminal (the
// caller detects it, with go-isatty).
func New(w io.Writer, smart bool) *Display {
	d := &Display{w: w, smart: smart, running: map[int]*graph.Action{}, last: -1}
	if f, ok := w.(*os.File); ok && smart {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			d.width = int(ws.Col)
		}
	}
	return d
}

// Explain makes the display say, for each action that runs, why it runs
// (--explain): one line "explain: <message>: <reason>" before its output.
func (d *Display) Explain(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.explain = on
}

// Warn prints a warning on a line of its own, keeping the status line
// intact. It is safe to call from any goroutine.
func (d *Display) Warn(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	fmt.Fprintf(d.w, "bld: warning: %s\n", msg)
}

// Planned implements executor.Observer.
func (d *Display) Planned(actions []*graph.Action) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total, d.done = len(actions), 0 // a build run again (lost remote outputs) counts anew
	// The messages are computed when one is first shown: a build that
	// shows none (a no-op) does not compare 100,000 of them.
	d.messages, d.planned = nil, actions
	if d.eta != nil {
		d.eta.plan(actions)
	}
	d.groupSize = map[string]int{}
	d.grouped = map[string][]executor.Result{}
	for _, a := range actions {
		if a.Group() != "" {
			d.groupSize[a.Group()]++
		}
	}
}

// Started implements executor.Observer.
func (d *Display) Started(id int, a *graph.Action) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(a.Argv) > 0 {
		d.runningMu.Lock()
		d.running[id] = a
		d.runningMu.Unlock()
		d.last = id
	}
	if d.eta != nil {
		d.eta.start(a, time.Now())
	}
	if d.subcommands {
		d.subcommand(a)
	}
	if !d.smart {
		d.line = append(d.appendStatus(d.line[:0], d.message(a)), '\n')
		d.w.Write(d.line)
		return
	}
	d.draw(d.message(a))
}

// CommandEnded is executor.Options.CommandEnded: action id's command has
// ended, and the action no longer counts as running, though it is not
// finished until its outputs are stored (Finished). Without it, an action
// runs from Started to Finished. It is safe to call from any goroutine.
func (d *Display) CommandEnded(id int) {
	d.runningMu.Lock()
	delete(d.running, id)
	d.runningMu.Unlock()
}

// Finished implements executor.Observer.
func (d *Display) Finished(r executor.Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done++
	d.runningMu.Lock()
	delete(d.running, r.ID)
	d.runningMu.Unlock()
	if d.eta != nil {
		d.eta.finish(r.Action)
	}
	if r.Status == executor.StatusFailed {
		d.failed = append(d.failed, r.Action)
	}
	var printed bool
	if g := r.Action.Group(); g != "" && d.groupSize[g] > 1 {
		d.grouped[g] = append(d.grouped[g], r)
		if len(d.grouped[g]) == d.groupSize[g] {
			printed = d.printGroup(g)
		}
	} else {
		printed = d.print(d.block(r))
	}
	if !d.smart {
		return
	}
	if !printed && (r.Status == executor.StatusCached || r.Status == executor.StatusRestored) && time.Since(d.lastDraw) < redrawEvery && d.done < d.total {
		return
	}
	d.draw(d.message(d.shownRunning(r.Action)))
}

// shownRunning is the action the status line names after otherwise finished
// ends: the one it named, if its command still runs, else any whose
// command runs, else otherwise.
func (d *Display) shownRunning(otherwise *graph.Action) *graph.Action {
	d.runningMu.Lock()
	defer d.runningMu.Unlock()
	if a, ok := d.running[d.last]; ok {
		return a
	}
	for id, a := range d.running {
		d.last = id
		return a
	}
	return otherwise
}

// block is what the display shows for a finished action: its output (or
// its failure) under a header naming it, preceded by why it ran with
// --explain (withHeader), with the diagnostics printed before by other
// actions left out (shownDiagnostics.merge). An action without output
// costs no allocation here.
func (d *Display) block(r executor.Result) []byte {
	b := body(r)
	if len(b) > 0 {
		d.one[0], d.oneFailed[0] = b, r.Status == executor.StatusFailed
		b = d.shown.merge(d.one[:], d.oneFailed[:], "")[0]
		d.one[0] = nil
	}
	return d.withHeader(r, b)
}

// print writes block on lines of its own, and reports whether there was
// anything to write.
func (d *Display) print(block []byte) bool {
	if len(block) == 0 {
		return false
	}
	d.clear()
	d.w.Write(block)
	if block[len(block)-1] != '\n' {
		io.WriteString(d.w, "\n")
	}
	return true
}

// printGroup prints the blocks of group g's finished actions, in the order
// of their IDs, each diagnostic once (a note under it counts the group's
// actions that printed it), and forgets them.
func (d *Display) printGroup(g string) bool {
	results := d.grouped[g]
	delete(d.grouped, g)
	slices.SortFunc(results, func(a, b executor.Result) int { return a.ID - b.ID })
	bodies := make([][]byte, len(results))
	failed := make([]bool, len(results))
	for i, r := range results {
		bodies[i] = body(r)
		failed[i] = r.Status == executor.StatusFailed
	}
	printed := false
	// Each action's header heads what is left of its output once the
	// diagnostics printed before are left out: none when nothing is.
	for i, b := range d.shown.merge(bodies, failed, fmt.Sprintf("%d actions of %s", len(results), g)) {
		printed = d.print(d.withHeader(results[i], b)) || printed
	}
	return printed
}

// Summary prints the final line of a build, after clearing the status line:
// "bld: 12 actions: 3 ran, 2 restored, 7 up to date (0.42s)" (restored
// only when some were), or "bld: nothing to do: 12 actions up to date
// (0.05s)" when nothing ran or was restored, with failed and skipped
// counts when non-zero.
func (d *Display) Summary(s executor.Summary, elapsed time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Groups the build stopped before finishing print what they have.
	for _, g := range slices.Sorted(maps.Keys(d.grouped)) {
		d.printGroup(g)
	}
	d.clear()
	d.shown.writeRepeated(d.w)
	d.failedList(d.w)
	secs := fmt.Sprintf("(%.2fs)", elapsed.Seconds())
	if s.Ran == 0 && s.Restored == 0 && s.Failed == 0 && s.Skipped == 0 {
		fmt.Fprintf(d.w, "bld: nothing to do: %s up to date %s\n", Plural(s.Total, "action"), secs)
		return
	}
	parts := []string{fmt.Sprintf("%d ran", s.Ran)}
	if s.Restored > 0 {
		parts = append(parts, fmt.Sprintf("%d restored", s.Restored))
	}
	parts = append(parts, fmt.Sprintf("%d up to date", s.UpToDate))
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", s.Skipped))
	}
	fmt.Fprintf(d.w, "bld: %s: %s %s\n", Plural(s.Total, "action"), strings.Join(parts, ", "), secs)
}

// Plural returns "1 noun" or "N nouns".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// appendStatus appends the status line for msg to b: between brackets what
// it counts, the actions finished of the total, the actions running when
// there are any and the time left when it is estimated (Estimates), then
// msg: "[12/40, 2 running, ~8s left] Compiling src/where.c".
func (d *Display) appendStatus(b []byte, msg string) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(d.done), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(d.total), 10)
	d.runningMu.Lock()
	running := len(d.running)
	d.runningMu.Unlock()
	if running > 0 {
		b = append(b, ", "...)
		b = strconv.AppendInt(b, int64(running), 10)
		b = append(b, " running"...)
	}
	if d.eta != nil {
		if left, ok := d.eta.left(time.Now()); ok {
			b = append(append(append(b, ", "...), formatLeft(left)...), " left"...)
		}
	}
	return append(append(b, "] "...), msg...)
}

// draw rewrites the smart status line.
func (d *Display) draw(msg string) {
	line := d.appendStatus(append(d.line[:0], '\r'), msg)
	if d.width > 4 && utf8.RuneCount(line[1:]) >= d.width {
		line = append(append(line[:1], string([]rune(string(line[1:]))[:d.width-4])...), "..."...)
	}
	d.line = append(line, "\x1b[K"...)
	d.w.Write(d.line)
	d.lineShown = true
	d.lastDraw = time.Now()
}

// clear erases the smart status line, so that a block starts on a clean line.
func (d *Display) clear() {
	if d.lineShown {
		io.WriteString(d.w, "\r\x1b[K")
		d.lineShown = false
	}
}

// CommandLine is how an action is shown to people: its argv quoted for a
// POSIX shell, or "write <output>" for a file-writing action.
func CommandLine(a *graph.Action) string {
	if len(a.Argv) == 0 {
		return "write " + strings.Join(a.Outputs, " ")
	}
	q := make([]string, len(a.Argv))
	for i, arg := range a.Argv {
		q[i] = shell.Quote(arg)
	}
	return strings.Join(q, " ")
}
