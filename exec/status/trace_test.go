package status

import (
	"bytes"
	"encoding/json"
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
