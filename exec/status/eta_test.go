package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

func TestTimeLeft(t *testing.T) {
	// a (4s) -> b (1s); c, d, e: 2s each, alone. -j2.
	a := &graph.Action{Owner: "//:a", Mnemonic: "M", Outputs: []string{"a"}}
	b := &graph.Action{Owner: "//:b", Mnemonic: "M", Inputs: []string{"a"}, Outputs: []string{"b"}}
	c := &graph.Action{Owner: "//:c", Mnemonic: "M", Outputs: []string{"c"}}
	dd := &graph.Action{Owner: "//:d", Mnemonic: "M", Outputs: []string{"d"}}
	e := &graph.Action{Owner: "//:e", Mnemonic: "N", Outputs: []string{"e"}}
	known := map[*graph.Action]time.Duration{a: 4 * time.Second, b: time.Second, c: 2 * time.Second, dd: 2 * time.Second}
	durations := func(x *graph.Action) (time.Duration, bool) { d, ok := known[x]; return d, ok }
	est := &estimator{durations: durations, jobs: 2}
	est.plan([]*graph.Action{a, b, c, dd, e})
	now := time.Unix(1000, 0)
	// e is unknown: the mean of all known, 2.25s. Work 11.25s / 2 = 5.625s > path 5s.
	check := func(want time.Duration) {
		t.Helper()
		got, ok := est.left(now)
		if !ok || got != want {
			t.Errorf("left = %v, %v; want %v", got, ok, want)
		}
	}
	check(5625 * time.Millisecond)
	est.start(a, now)
	est.start(c, now)
	now = now.Add(2 * time.Second)
	// Work left: 11.25 - 2 - 2 = 7.25s / 2 = 3.625s; path left: a's 5s - 2s = 3s.
	check(3625 * time.Millisecond)
	est.finish(c)
	est.finish(dd)
	est.finish(e)
	// Only a (running, 2s left) and b: the path, 3s, is longer than the work spread, 1.5s.
	check(3 * time.Second)
	// Past its estimate, a running action counts nothing left, not less.
	now = now.Add(10 * time.Second)
	check(time.Second)

	// Nothing known: no estimate.
	none := &estimator{durations: func(*graph.Action) (time.Duration, bool) { return 0, false }, jobs: 2}
	none.plan([]*graph.Action{a, b})
	if _, ok := none.left(now); ok {
		t.Error("an estimate without any known duration")
	}
}

func TestStatusLineTimeLeft(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, true)
	d.Estimates(func(*graph.Action) (time.Duration, bool) { return 90 * time.Second, true }, 1)
	d.Planned([]*graph.Action{compile, write})
	d.Started(0, compile)
	if !strings.Contains(buf.String(), "[0/2, 1 running, ~3m00s left] CcCompile //lib:foo") {
		t.Errorf("status line without the time left: %q", buf.String())
	}
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan})
	if !strings.Contains(buf.String(), "[1/2, ~1m30s left]") {
		t.Errorf("status line after one action: %q", buf.String())
	}
}

func TestFormatLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "~0s", 1400 * time.Millisecond: "~1s", 59 * time.Second: "~59s", 125 * time.Second: "~2m05s"} {
		if got := formatLeft(d); got != want {
			t.Errorf("formatLeft(%v) = %q, want %q", d, got, want)
		}
	}
}

// Only the smart status line shows the time left: a plain display does not
// plan an estimate (a build of 100,000 actions would pay for it).
func TestPlainDisplayNoEstimate(t *testing.T) {
	d := New(&bytes.Buffer{}, false)
	d.Estimates(func(*graph.Action) (time.Duration, bool) { return time.Second, true }, 1)
	d.Planned([]*graph.Action{compile, write})
	if d.eta != nil {
		t.Error("a plain display keeps an estimator")
	}
}
