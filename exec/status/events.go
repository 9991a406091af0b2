package status

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// EventLog is an executor.Observer that writes the --events file: one JSON
// object per line for each finished action. Lines are buffered; call Flush
// when the build is over.
type EventLog struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

var _ executor.Observer = (*EventLog)(nil)

// Event is one line of the event log.
type Event struct {
	Label    string   `json:"label"` // the owner of the action
	Mnemonic string   `json:"mnemonic"`
	Outputs  []string `json:"outputs"`
	Start    float64  `json:"start"` // Unix seconds
	End      float64  `json:"end"`
	ExitCode int      `json:"exit_code"`
	Status   string   `json:"status"`           // "ran", "cached", "restored" or "failed"
	Reason   string   `json:"reason,omitempty"` // why it ran
	Error    string   `json:"error,omitempty"`  // why it failed
	// MaxRSS is the peak resident set size in bytes of the command's
	// largest process, for an action that ran a command.
	MaxRSS int64 `json:"max_rss,omitempty"`
	// Group is the action's group (the partitions of a unit), if any.
	Group string `json:"group,omitempty"`
	// Pipeline and Stage name the optimization stage of the action, if
	// it belongs to one.
	Pipeline string `json:"pipeline,omitempty"`
	Stage    string `json:"stage,omitempty"`
	// Remote says where a remote service was involved: "executed" (the
	// command ran on a remote executor), "executor-cache" (the remote
	// executor answered from its cache) or "cache" (the outputs were
	// restored from the remote cache); empty when none was.
	Remote string `json:"remote,omitempty"`
}

// NewEventLog returns an EventLog writing to w.
func NewEventLog(w io.Writer) *EventLog {
	return &EventLog{w: bufio.NewWriter(w)}
}

// Planned implements executor.Observer.
func (l *EventLog) Planned([]*graph.Action) {}

// Started implements executor.Observer.
func (l *EventLog) Started(int, *graph.Action) {}

// Finished implements executor.Observer: it writes the action's line.
func (l *EventLog) Finished(r executor.Result) {
	e := Event{
		Label:    r.Action.Owner,
		Mnemonic: r.Action.Mnemonic,
		Outputs:  r.Action.Outputs,
		Start:    unixSeconds(r.Start),
		End:      unixSeconds(r.End),
		ExitCode: r.ExitCode,
		Status:   string(r.Status),
		MaxRSS:   r.MaxRSS,
		Group:    r.Action.Group(),
		Pipeline: r.Action.Pipeline(),
		Stage:    r.Action.Stage(),
		Remote:   remoteOf(r),
	}
	if r.Status == executor.StatusRan || r.Status == executor.StatusFailed {
		e.Reason = r.Reason
	}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "->" in reasons readable
	err := enc.Encode(e)     // Encode ends the line with '\n'
	line := buf.Bytes()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err != nil {
		l.err = fmt.Errorf("event log: %w", err)
		return
	}
	if _, err := l.w.Write(line); err != nil {
		l.err = fmt.Errorf("writing the event log: %w", err)
	}
}

// Flush writes out buffered lines, and reports the first error met since
// the log was created.
func (l *EventLog) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err := l.w.Flush(); err != nil {
		l.err = fmt.Errorf("writing the event log: %w", err)
	}
	return l.err
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// remoteOf is the Remote of r's event.
func remoteOf(r executor.Result) string {
	switch {
	case !r.Remote:
		return ""
	case r.Status == executor.StatusRestored:
		return "cache"
	case r.RemoteCached:
		return "executor-cache"
	}
	return "executed"
}
