package status

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// TraceEvent is one event of the Chrome trace event format ("JSON Object
// Format"), which chrome://tracing and https://ui.perfetto.dev open.
type TraceEvent struct {
	Name string `json:"name"`
	Cat  string `json:"cat,omitempty"`
	// Ph is the kind: "X" a complete event (Ts and Dur), "M" metadata
	// (names of the process and threads).
	Ph  string         `json:"ph"`
	Ts  float64        `json:"ts"` // microseconds since the build started
	Dur float64        `json:"dur,omitempty"`
	Pid int            `json:"pid"`
	Tid int            `json:"tid"`
	Arg map[string]any `json:"args,omitempty"`
}

// Trace is the file bld build --trace writes. Decoded from that file,
// TraceEvents holds every event. Made by NewTrace, it holds the metadata
// and phase events, and the finished actions are kept apart: Write encodes
// one event per action after them without a TraceEvent and its args map
// each (a build of 10,000 up-to-date actions spent ~60 ms of CPU making and
// encoding those through encoding/json, more than the build itself).
type Trace struct {
	TraceEvents     []TraceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`

	start   time.Time
	results []executor.Result
	lanes   []int
	// messages are the progress messages unlike Message()
	// (messageOverrides): a build's actions mostly have none.
	messages map[*graph.Action]string
}

// Thread IDs of the trace: phases on one, each lane of actions (Lanes) on
// its own after it.
const (
	tracePhaseTid = 1
	traceLaneTid0 = 2
)

// NewTrace builds the trace of a build that started at start: one complete
// event per phase on the "phases" thread, and one per finished action on
// the thread of its lane ("lane 1", ...), named by its progress message,
// with its mnemonic as category and its label, outputs, status (and
// reason, exit code, error, peak memory when there are any) as args.
func NewTrace(start time.Time, phases []Phase, results []executor.Result) *Trace {
	tr := &Trace{DisplayTimeUnit: "ms", start: start, results: results}
	add := func(e TraceEvent) { tr.TraceEvents = append(tr.TraceEvents, e) }
	add(TraceEvent{Name: "process_name", Ph: "M", Pid: 1, Arg: map[string]any{"name": "bld build"}})
	add(TraceEvent{Name: "thread_name", Ph: "M", Pid: 1, Tid: tracePhaseTid, Arg: map[string]any{"name": "phases"}})
	for _, p := range phases {
		add(TraceEvent{Name: p.Name, Cat: "phase", Ph: "X", Ts: tr.us(p.Start), Dur: max(tr.us(p.End)-tr.us(p.Start), 0), Pid: 1, Tid: tracePhaseTid})
	}
	lanes, n := Lanes(results)
	for l := range n {
		add(TraceEvent{Name: "thread_name", Ph: "M", Pid: 1, Tid: traceLaneTid0 + l, Arg: map[string]any{"name": fmt.Sprintf("lane %d", l+1)}})
	}
	tr.lanes = lanes
	tr.messages = messageOverrides(actionsOf(results))
	return tr
}

// us is t in microseconds since the build started.
func (tr *Trace) us(t time.Time) float64 { return float64(t.Sub(tr.start).Nanoseconds()) / 1e3 }

// Write writes the trace as JSON: the bytes encoding/json writes for
// TraceEvents followed by each action's event (as a TraceEvent with
// the args of NewTrace's doc), with no HTML escaping and a final newline.
func (tr *Trace) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	e := traceEncoder{}
	e.enc = json.NewEncoder(&e.scratch)
	e.enc.SetEscapeHTML(false)
	b := append(make([]byte, 0, 4<<10), `{"traceEvents":[`...)
	n := 0
	for _, ev := range tr.TraceEvents {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		var err error
		if b, err = e.value(b, ev); err != nil {
			return err
		}
	}
	for i, r := range tr.results {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		var err error
		if b, err = e.action(b, tr, i, r); err != nil {
			return err
		}
		if len(b) >= 3<<10 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, `],"displayTimeUnit":`...)
	b = e.string(b, tr.DisplayTimeUnit)
	b = append(b, "}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// traceEncoder appends JSON as encoding/json's Encoder with SetEscapeHTML
// (false) writes it; what it does not write itself (strings that need
// escaping, floats in exponent form, the few TraceEvents) it asks that
// Encoder for, so the two never disagree.
type traceEncoder struct {
	scratch bytes.Buffer
	enc     *json.Encoder
}

// value appends v as encoding/json encodes it.
func (e *traceEncoder) value(b []byte, v any) ([]byte, error) {
	e.scratch.Reset()
	if err := e.enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(e.scratch.Bytes(), []byte("\n"))...), nil
}

// string appends s as a JSON string.
func (e *traceEncoder) string(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			b, _ = e.value(b, s) // a string always encodes
			return b
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// float appends f as encoding/json encodes a float64.
func (e *traceEncoder) float(b []byte, f float64) ([]byte, error) {
	if a := math.Abs(f); math.IsInf(f, 0) || math.IsNaN(f) || a != 0 && (a < 1e-6 || a >= 1e21) {
		return e.value(b, f) // exponent form, or the error
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), nil
}

// action appends the event of results[i], r: the fields of a TraceEvent
// in its order, the args' keys sorted as encoding/json sorts a map's.
func (e *traceEncoder) action(b []byte, tr *Trace, i int, r executor.Result) ([]byte, error) {
	a := r.Action
	b = append(b, `{"name":`...)
	m, ok := tr.messages[a]
	if !ok {
		m = a.Message()
	}
	b = e.string(b, m)
	if a.Mnemonic != "" {
		b = append(b, `,"cat":`...)
		b = e.string(b, a.Mnemonic)
	}
	b = append(b, `,"ph":"X","ts":`...)
	var err error
	if b, err = e.float(b, tr.us(r.Start)); err != nil {
		return b, err
	}
	if dur := max(tr.us(r.End)-tr.us(r.Start), 0); dur != 0 {
		b = append(b, `,"dur":`...)
		if b, err = e.float(b, dur); err != nil {
			return b, err
		}
	}
	b = append(b, `,"pid":1,"tid":`...)
	b = strconv.AppendInt(b, int64(traceLaneTid0+tr.lanes[i]), 10)
	b = append(b, `,"args":{`...)
	if r.Err != nil {
		b = append(b, `"error":`...)
		b = e.string(b, r.Err.Error())
		b = append(b, ',')
	}
	if r.Status == executor.StatusFailed {
		b = append(b, `"exit_code":`...)
		b = strconv.AppendInt(b, int64(r.ExitCode), 10)
		b = append(b, ',')
	}
	if g := a.Group(); g != "" {
		b = append(b, `"group":`...)
		b = e.string(b, g)
		b = append(b, ',')
	}
	b = append(b, `"label":`...)
	b = e.string(b, a.Owner)
	if r.MaxRSS > 0 {
		b = append(b, `,"max_rss":`...)
		b = strconv.AppendInt(b, r.MaxRSS, 10)
	}
	b = append(b, `,"outputs":`...)
	if a.Outputs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for j, o := range a.Outputs {
			if j > 0 {
				b = append(b, ',')
			}
			b = e.string(b, o)
		}
		b = append(b, ']')
	}
	if r.Reason != "" && (r.Status == executor.StatusRan || r.Status == executor.StatusFailed) {
		b = append(b, `,"reason":`...)
		b = e.string(b, r.Reason)
	}
	b = append(b, `,"status":`...)
	b = e.string(b, string(r.Status))
	return append(b, "}}"...), nil
}
