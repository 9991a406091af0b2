package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/executor"
	"bld/exec/graph"
)

func TestLanes(t *testing.T) {
	at := func(s, e int) executor.Result {
		return executor.Result{Start: t0.Add(time.Duration(s) * time.Second), End: t0.Add(time.Duration(e) * time.Second)}
	}
	// 0-4 and 1-2 overlap; 2-3 and 3-5 take the lane 1-2 left in turn;
	// 4-5 takes lane 0; 4-6 needs a third.
	lanes, n := Lanes([]executor.Result{at(0, 4), at(1, 2), at(2, 3), at(3, 5), at(4, 5), at(4, 6)})
	if diff := cmp.Diff([]int{0, 1, 1, 1, 0, 2}, lanes); diff != "" || n != 3 {
		t.Errorf("lanes (-want +got):\n%s; %d lanes, want 3", diff, n)
	}
}

func TestTrace(t *testing.T) {
	link := &graph.Action{Owner: "//app:app", Mnemonic: "CcLink", Description: "Linking bld-out/app/app", Outputs: []string{"bld-out/app/app"}}
	results := []executor.Result{
		{ID: 0, Action: compile, Status: executor.StatusRan, Reason: "no cached result", Start: t0.Add(100 * time.Millisecond), End: t0.Add(600 * time.Millisecond), MaxRSS: 1 << 20},
		{ID: 1, Action: write, Status: executor.StatusRestored, Start: t0.Add(100 * time.Millisecond), End: t0.Add(110 * time.Millisecond)},
		{ID: 2, Action: link, Status: executor.StatusFailed, ExitCode: 1, Start: t0.Add(600 * time.Millisecond), End: t0.Add(700 * time.Millisecond)},
	}
	phases := []Phase{{Name: "loading", Start: t0, End: t0.Add(50 * time.Millisecond)}, {Name: "execution", Start: t0.Add(90 * time.Millisecond), End: t0.Add(700 * time.Millisecond)}}
	var buf bytes.Buffer
	if err := NewTrace(t0, phases, results).Write(&buf); err != nil {
		t.Fatal(err)
	}
	// Parsed as any JSON reader would, without bld's types.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("trace is not JSON: %v\n%s", err, buf.String())
	}
	events, ok := doc["traceEvents"].([]any)
	if !ok {
		t.Fatalf("no traceEvents array: %s", buf.String())
	}
	type row struct {
		Name, Cat, Ph string
		Ts, Dur       float64
		Tid           float64
	}
	var got []row
	for _, e := range events {
		m := e.(map[string]any)
		for _, f := range []string{"name", "ph", "ts", "pid", "tid"} {
			if _, ok := m[f]; !ok {
				t.Errorf("event %v lacks %q", m, f)
			}
		}
		if m["ph"] == "X" {
			cat, _ := m["cat"].(string)
			got = append(got, row{m["name"].(string), cat, "X", m["ts"].(float64), m["dur"].(float64), m["tid"].(float64)})
		}
	}
	want := []row{
		{"loading", "phase", "X", 0, 50_000, 1},
		{"execution", "phase", "X", 90_000, 610_000, 1},
		{"CcCompile //lib:foo", "CcCompile", "X", 100_000, 500_000, 2},
		{"Writing config.h", "Write", "X", 100_000, 10_000, 3},
		{"Linking bld-out/app/app", "CcLink", "X", 600_000, 100_000, 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("complete events (-want +got):\n%s", diff)
	}
	var tr Trace
	if err := json.Unmarshal(buf.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	args := tr.TraceEvents[len(tr.TraceEvents)-3].Arg
	wantArgs := map[string]any{"label": "//lib:foo", "outputs": []any{"bld-out/lib/foo.o"}, "status": "ran", "reason": "no cached result", "max_rss": float64(1 << 20)}
	if diff := cmp.Diff(wantArgs, args); diff != "" {
		t.Errorf("args of the compile (-want +got):\n%s", diff)
	}
	if s := tr.TraceEvents[len(tr.TraceEvents)-1].Arg["status"]; s != "failed" {
		t.Errorf("the link's status: %v", s)
	}
}

// TestTraceAsEncodingJSON checks that Write's hand-made encoding of the
// actions is byte for byte what encoding/json writes for the same events
// as TraceEvents with an args map (the trace's format before Write made
// them itself), for strings that need escaping, every optional arg, and
// times before the start and without a duration.
func TestTraceAsEncodingJSON(t *testing.T) {
	odd := []string{"plain", `quo"te`, `back\slash`, "new\nline\ttab\x01\x1f", "<html>&amp;", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8", ""}
	var results []executor.Result
	statuses := []executor.Status{executor.StatusRan, executor.StatusFailed, executor.StatusCached, executor.StatusRestored}
	for i := range 64 {
		s := odd[i%len(odd)]
		a := &graph.Action{Owner: "//p:" + s, Mnemonic: []string{"Genrule", "", s}[i%3], Outputs: []string{"bld-out/" + s, "bld-out/x"}}
		switch i % 4 {
		case 0:
			a.Description = "Generating " + s
		case 1:
			a.Outputs = nil
		case 2:
			a.Outputs = []string{}
			a.More = &graph.More{Group: "group " + s}
		}
		r := executor.Result{ID: i, Action: a, Status: statuses[i%len(statuses)], Reason: []string{"", "no cached result: " + s}[i%2],
			Start: t0.Add(time.Duration(i*7919-20000) * time.Microsecond / 3), ExitCode: []int{0, 1, -1}[i%3], MaxRSS: int64(i%5) << 20}
		r.End = r.Start.Add(time.Duration(i%6) * time.Nanosecond * 1001)
		if i%5 == 0 {
			r.Err = fmt.Errorf("failed: %s", s)
		}
		if i == 63 {
			r.Start, r.End = time.Time{}, time.Time{}
		}
		results = append(results, r)
	}
	slices.SortStableFunc(results, func(a, b executor.Result) int { return a.Start.Compare(b.Start) })
	phases := []Phase{{Name: "loading", Start: t0, End: t0.Add(50 * time.Millisecond)}, {Name: odd[3], Start: t0.Add(time.Second), End: t0}}
	var got bytes.Buffer
	if err := NewTrace(t0, phases, results).Write(&got); err != nil {
		t.Fatal(err)
	}

	// The reference: every event a TraceEvent, encoded by encoding/json.
	ref := NewTrace(t0, phases, nil)
	lanes, n := Lanes(results)
	ref.TraceEvents = ref.TraceEvents[:2+len(phases)]
	for l := range n {
		ref.TraceEvents = append(ref.TraceEvents, TraceEvent{Name: "thread_name", Ph: "M", Pid: 1, Tid: traceLaneTid0 + l, Arg: map[string]any{"name": fmt.Sprintf("lane %d", l+1)}})
	}
	messages := distinctMessages(actionsOf(results))
	us := func(at time.Time) float64 { return float64(at.Sub(t0).Nanoseconds()) / 1e3 }
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
		ref.TraceEvents = append(ref.TraceEvents, TraceEvent{Name: messages[r.Action], Cat: r.Action.Mnemonic, Ph: "X", Ts: us(r.Start),
			Dur: max(us(r.End)-us(r.Start), 0), Pid: 1, Tid: traceLaneTid0 + lanes[i], Arg: args})
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		TraceEvents     []TraceEvent `json:"traceEvents"`
		DisplayTimeUnit string       `json:"displayTimeUnit"`
	}{ref.TraceEvents, ref.DisplayTimeUnit}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := got.String(), want.String()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Errorf("Write differs from encoding/json at byte %d:\n got %q\nwant %q", i, g[max(i-80, 0):min(i+80, len(g))], w[max(i-80, 0):min(i+80, len(w))])
	}
	if n := bytes.Count(got.Bytes(), []byte(`"ph":"X"`)); n != len(results)+len(phases) {
		t.Errorf("%d complete events, want %d", n, len(results)+len(phases))
	}
}

// BenchmarkTrace10k makes and writes the trace of a no-op build of 10,000
// actions (bench/gen's wide genrules: all cached, in two lanes).
func BenchmarkTrace10k(b *testing.B) {
	results := make([]executor.Result, 10_000)
	for i := range results {
		name := fmt.Sprintf("p%04d/t%05d.txt", i/100, i)
		a := &graph.Action{Owner: fmt.Sprintf("//p%04d:t%05d", i/100, i), Mnemonic: "Genrule", Description: "Generating bld-out/" + name, Outputs: []string{"bld-out/" + name}}
		start := t0.Add(time.Duration(i) * 7 * time.Microsecond)
		results[i] = executor.Result{ID: i, Action: a, Status: executor.StatusCached, Start: start, End: start.Add(6900 * time.Nanosecond)}
	}
	phases := []Phase{{Name: "loading", Start: t0, End: t0.Add(50 * time.Millisecond)}}
	b.ReportAllocs()
	for b.Loop() {
		if err := NewTrace(t0, phases, results).Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
