package status

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"bld/exec/executor"
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

// Trace is the file bld build --trace writes.
type Trace struct {
	TraceEvents     []TraceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
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
	us := func(t time.Time) float64 { return float64(t.Sub(start).Nanoseconds()) / 1e3 }
	tr := &Trace{DisplayTimeUnit: "ms"}
	add := func(e TraceEvent) { tr.TraceEvents = append(tr.TraceEvents, e) }
	add(TraceEvent{Name: "process_name", Ph: "M", Pid: 1, Arg: map[string]any{"name": "bld build"}})
	add(TraceEvent{Name: "thread_name", Ph: "M", Pid: 1, Tid: tracePhaseTid, Arg: map[string]any{"name": "phases"}})
	for _, p := range phases {
		add(TraceEvent{Name: p.Name, Cat: "phase", Ph: "X", Ts: us(p.Start), Dur: max(us(p.End)-us(p.Start), 0), Pid: 1, Tid: tracePhaseTid})
	}
	lanes, n := Lanes(results)
	for l := range n {
		add(TraceEvent{Name: "thread_name", Ph: "M", Pid: 1, Tid: traceLaneTid0 + l, Arg: map[string]any{"name": fmt.Sprintf("lane %d", l+1)}})
	}
	messages := distinctMessages(actionsOf(results))
	for i, r := range results {
		args := map[string]any{"label": r.Action.Owner, "outputs": r.Action.Outputs, "status": string(r.Status)}
		if r.Reason != "" && (r.Status == executor.StatusRan || r.Status == executor.StatusFailed) {
			args["reason"] = r.Reason
		}
		if r.Status == executor.StatusFailed {
			args["exit_code"] = r.ExitCode
		}
		if r.Err != nil {
			args["error"] = r.Err.Error()
		}
		if r.MaxRSS > 0 {
			args["max_rss"] = r.MaxRSS
		}
		if r.Action.Group() != "" {
			args["group"] = r.Action.Group()
		}
		add(TraceEvent{Name: messages[r.Action], Cat: r.Action.Mnemonic, Ph: "X", Ts: us(r.Start),
			Dur: max(us(r.End)-us(r.Start), 0), Pid: 1, Tid: traceLaneTid0 + lanes[i], Arg: args})
	}
	return tr
}

// Write writes the trace as JSON.
func (tr *Trace) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tr); err != nil {
		return err
	}
	return bw.Flush()
}
