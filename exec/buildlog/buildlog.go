// Package buildlog keeps, per workspace, how long each action took the last
// time it ran, as ninja's .ninja_log does: the scheduler starts the ready
// actions with the longest remaining path (by these durations) first, and
// the status line estimates the time left from them.
//
// The file is text, one action a line after a header line:
//
//	# bld build log v1: microseconds<TAB>first output
//	1532011	bld-out/lib/_objs/big/big.o
//
// An action is known by its first output (no two actions share an output).
// Only actions that ran (executed their command, or wrote their file) and
// succeeded are recorded: a check or a restore from the cache says nothing
// of how long the command takes. Lines it cannot read are ignored, and a
// missing or unreadable file is an empty log: the log is an optimization.
package buildlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/store"
)

// header is the first line of the file; a file with another first line is
// from another format and is ignored.
const header = "# bld build log v1: microseconds\tfirst output"

// Log is the durations of a workspace's actions. It is an executor.Observer
// that records the actions that ran; Save writes it back. Safe for
// concurrent use.
type Log struct {
	path    string
	mu      sync.Mutex
	data    []byte // the file as read, parsed into dur on first use
	dur     map[string]time.Duration
	changed bool
}

var _ executor.Observer = (*Log)(nil)

// Open reads the log at path. A missing file is an empty log; so is a file
// of another format. Only an error reading an existing file is returned,
// with the empty log, which the caller may use anyway. The file is parsed
// on first use: a build that runs nothing (a no-op) never needs it.
func Open(path string) (*Log, error) {
	l := &Log{path: path}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("reading the build log: %w", err)
	}
	l.data = data
	return l, nil
}

// parsed parses the file read by Open, once. l.mu is held.
func (l *Log) parsed() map[string]time.Duration {
	if l.dur != nil {
		return l.dur
	}
	l.dur = map[string]time.Duration{}
	data := l.data
	l.data = nil
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != header {
		return l.dur
	}
	for sc.Scan() {
		us, out, ok := strings.Cut(sc.Text(), "\t")
		if !ok || out == "" {
			continue
		}
		n, err := strconv.ParseInt(us, 10, 64)
		if err != nil || n < 0 {
			continue
		}
		l.dur[out] = time.Duration(n) * time.Microsecond
	}
	return l.dur
}

// Duration reports how long a took when it last ran, if it is known.
func (l *Log) Duration(a *graph.Action) (time.Duration, bool) {
	if len(a.Outputs) == 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.parsed()[a.Outputs[0]]
	return d, ok
}

// Len is the number of actions the log knows.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.parsed())
}

// Planned implements executor.Observer.
func (l *Log) Planned([]*graph.Action) {}

// Started implements executor.Observer.
func (l *Log) Started(int, *graph.Action) {}

// Finished implements executor.Observer: an action that ran and succeeded
// has its duration (End - Start: from taking its token to storing its
// result) recorded.
func (l *Log) Finished(r executor.Result) {
	if r.Status != executor.StatusRan || len(r.Action.Outputs) == 0 || r.End.Before(r.Start) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.parsed()[r.Action.Outputs[0]] = r.End.Sub(r.Start)
	l.changed = true
}

// Save writes the log if an action was recorded since Open: to a temporary
// file renamed over the old one, so that a crash leaves one or the other.
// Entries of actions this build did not run are kept.
func (l *Log) Save() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.changed {
		return nil
	}
	// Written through a small buffer, one line made at a time: it is
	// saved at the end of a build, when the heap is at its largest, and
	// the whole file in memory (with fmt's boxed arguments) was garbage
	// of ~30 bytes an action.
	err := store.WriteFileFrom(l.path, "", 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 64<<10)
		w.WriteString(header + "\n")
		var line []byte
		for _, out := range slices.Sorted(maps.Keys(l.dur)) {
			line = strconv.AppendInt(line[:0], l.dur[out].Microseconds(), 10)
			line = append(append(append(line, '\t'), out...), '\n')
			w.Write(line)
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("writing the build log: %w", err)
	}
	l.changed = false
	return nil
}
