package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/executor"
	"bld/exec/graph"
)

// smallBuild: gen -> cc -> link, and lib (restored) -> link; cc is slower
// than lib, so the critical path is gen, cc, link.
func smallBuild() []executor.Result {
	gen := &graph.Action{Owner: "//app:version", Mnemonic: "Genrule", Outputs: []string{"v.c"}}
	cc := &graph.Action{Owner: "//app:app", Mnemonic: "CcCompile", Description: "Compiling v.c", Inputs: []string{"v.c"}, Outputs: []string{"v.o"}}
	lib := &graph.Action{Owner: "//lib:lib", Mnemonic: "CcArchive", Outputs: []string{"lib.a"}}
	link := &graph.Action{Owner: "//app:app", Mnemonic: "CcLink", Inputs: []string{"lib.a", "v.o"}, Outputs: []string{"app"}}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	return []executor.Result{
		{ID: 0, Action: gen, Status: executor.StatusRan, Start: ms(0), End: ms(100)},
		{ID: 2, Action: lib, Status: executor.StatusRestored, Start: ms(0), End: ms(50)},
		{ID: 1, Action: cc, Status: executor.StatusRan, Start: ms(100), End: ms(400)},
		{ID: 3, Action: link, Status: executor.StatusRan, Start: ms(400), End: ms(450)},
	}
}

func TestCriticalPath(t *testing.T) {
	if diff := cmp.Diff([]int{0, 2, 3}, CriticalPath(smallBuild())); diff != "" {
		t.Errorf("critical path (-want +got):\n%s", diff)
	}
	if CriticalPath(nil) != nil {
		t.Error("critical path of nothing")
	}
}

func TestTimingsTables(t *testing.T) {
	tm := &Timings{Start: t0, Elapsed: 500 * time.Millisecond, Jobs: 2, Results: smallBuild()}
	byMn, byTarget := tm.Tables()
	ms := time.Millisecond
	wantMn := []Row{
		{Name: "CcCompile", Count: 1, Ran: 1, Total: 300 * ms, Share: 60},
		{Name: "Genrule", Count: 1, Ran: 1, Total: 100 * ms, Share: 20},
		{Name: "CcArchive", Count: 1, FromDisk: 1, Total: 50 * ms, Share: 10},
		{Name: "CcLink", Count: 1, Ran: 1, Total: 50 * ms, Share: 10},
	}
	wantTarget := []Row{
		{Name: "//app:app", Count: 2, Ran: 2, Total: 350 * ms, Share: 70},
		{Name: "//app:version", Count: 1, Ran: 1, Total: 100 * ms, Share: 20},
		{Name: "//lib:lib", Count: 1, FromDisk: 1, Total: 50 * ms, Share: 10},
	}
	if diff := cmp.Diff(wantMn, byMn); diff != "" {
		t.Errorf("by mnemonic (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTarget, byTarget); diff != "" {
		t.Errorf("by target (-want +got):\n%s", diff)
	}
}

// The page is self-contained (nothing fetched from the network), holds the
// charts' canvases, the tables, and every action in its data.
func TestTimingsHTMLStructure(t *testing.T) {
	tm := &Timings{Title: "//app <b>", Start: t0, Elapsed: 500 * time.Millisecond, Jobs: 2, Results: smallBuild(),
		Phases: []Phase{{Name: "loading", Start: t0, End: t0.Add(time.Millisecond)}}}
	var buf bytes.Buffer
	if err := tm.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`<canvas id="gantt">`, `<canvas id="concurrency"`, `<table id="by-mnemonic">`, `<table id="by-target">`,
		"<td>CcCompile</td><td>1</td><td>1</td><td>0</td><td>0.300</td><td>60.0%</td>", "//app &lt;b&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=|https?://|@import|<link`).FindString(page); m != "" {
		t.Errorf("page refers to something outside it: %q", m)
	}
	m := regexp.MustCompile(`const D = (.*);\n`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data in the page")
	}
	var d timingsData
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("data is not JSON: %v\n%s", err, m[1])
	}
	if len(d.Actions) != 4 || d.Critical != 3 || d.Lanes != 2 || fmt.Sprint(d.Mnemonics) != "[CcCompile Genrule CcArchive CcLink]" {
		t.Errorf("data: %d actions, %d critical, %d lanes, mnemonics %v", len(d.Actions), d.Critical, d.Lanes, d.Mnemonics)
	}
}

// The groups table: partitions' totals, longest member and the bound at
// -j; actions that did not run, or are in no group, are left out.
func TestTimingsGroups(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	part := func(id int, secs float64, status executor.Status, rss int64) executor.Result {
		return executor.Result{ID: id, Action: &graph.Action{Owner: "//lib:lib", Mnemonic: "CcCompile", More: &graph.More{Group: "//lib:lib partitions"},
			Outputs: []string{fmt.Sprintf("bld-out/p%d.o", id)}}, Status: status,
			Start: t0, End: t0.Add(time.Duration(secs * float64(time.Second))), MaxRSS: rss}
	}
	tm := &Timings{Jobs: 2, Start: t0, Results: []executor.Result{
		part(0, 3, executor.StatusRan, 100<<20), part(1, 1, executor.StatusRan, 120<<20),
		part(2, 2, executor.StatusRan, 90<<20), part(3, 9, executor.StatusCached, 0),
		{ID: 4, Action: &graph.Action{Owner: "//x", Mnemonic: "Genrule", Outputs: []string{"bld-out/x"}}, Status: executor.StatusRan, Start: t0, End: t0.Add(time.Second)},
	}}
	got := tm.Groups()
	want := []GroupRow{{Name: "//lib:lib partitions", Ran: 3, Sum: 6 * time.Second, Longest: 3 * time.Second, Bound: 3 * time.Second, MaxRSS: 120 << 20}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Groups (-want +got):\n%s", diff)
	}
	var b strings.Builder
	if err := tm.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<table id="by-group">`) || !strings.Contains(b.String(), "<td>//lib:lib partitions</td><td>3</td><td>6.000</td><td>3.000</td><td>3.000</td><td>120</td>") {
		t.Errorf("the report has no groups table, or a wrong one")
	}
}

// The actions running, ready and waiting on dependencies over time, from
// a hand-made timeline: cc waits 20 ms for a token after gen ends; the
// link is ready and starts when cc ends. Without Planned, an action
// counts from when it was ready, and one without Ready from its start.
func TestTimingsStates(t *testing.T) {
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	rs := smallBuild()
	for i, ready := range []int{0, 0, 100, 400} {
		rs[i].Ready = ms(ready)
	}
	rs[2].Start = ms(120)
	tm := &Timings{Start: t0, Results: rs, Planned: 4, PlannedAt: t0}
	want := []statePoint{
		{T: 0, Running: 2, Waiting: 2},
		{T: 0.05, Running: 1, Waiting: 2},
		{T: 0.1, Ready: 1, Waiting: 1},
		{T: 0.12, Running: 1, Waiting: 1},
		{T: 0.4, Running: 1},
		{T: 0.45},
	}
	if diff := cmp.Diff(want, tm.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}

	tm.Planned = 0
	rs[2].Ready = time.Time{}
	want = []statePoint{
		{T: 0, Running: 2},
		{T: 0.05, Running: 1},
		{T: 0.1},
		{T: 0.12, Running: 1},
		{T: 0.45},
	}
	if diff := cmp.Diff(want, tm.states()); diff != "" {
		t.Errorf("states without Planned, cc without Ready (-want +got):\n%s", diff)
	}

	// A build run again (lost remote outputs): the first run finished two
	// actions, the second, planned at 0.2 s, the two left. Waiting counts
	// the second run's, never below zero.
	first := smallBuild()[:2]
	second := smallBuild()[2:]
	for i := range second {
		second[i].Ready, second[i].Start, second[i].End = ms(200+10*i), ms(200+10*i), ms(300)
	}
	tm = &Timings{Start: t0, Results: append(first, second...), Planned: 2, PlannedAt: ms(200)}
	for _, p := range tm.states() {
		if p.Waiting < 0 || p.Ready < 0 || p.Running < 0 {
			t.Errorf("run twice: negative state %+v in %+v", p, tm.states())
			break
		}
	}
	if last := tm.states()[len(tm.states())-1]; last != (statePoint{T: 0.3}) {
		t.Errorf("run twice: last point %+v, want all done at 0.3", last)
	}
}
