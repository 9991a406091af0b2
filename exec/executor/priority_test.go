package executor

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// shallowSlowGraph: action 0 is alone and slow; 1 -> 2 -> 3 is a deeper
// chain of quick actions; 4 is alone and quick and has no measurement.
func shallowSlowGraph(t *testing.T) *graph.Graph {
	t.Helper()
	g, err := graph.New([]*graph.Action{
		{Owner: "//:slow", Mnemonic: "Slow", Outputs: []string{"o0"}},
		{Owner: "//:c1", Mnemonic: "Quick", Outputs: []string{"o1"}},
		{Owner: "//:c2", Mnemonic: "Quick", Inputs: []string{"o1"}, Outputs: []string{"o2"}},
		{Owner: "//:c3", Mnemonic: "Quick", Inputs: []string{"o2"}, Outputs: []string{"o3"}},
		{Owner: "//:new", Mnemonic: "Quick", Outputs: []string{"o4"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var shallowSlowDurations = map[string]time.Duration{
	"o0": 2 * time.Second, "o1": 10 * time.Millisecond, "o2": 20 * time.Millisecond, "o3": 30 * time.Millisecond,
}

func durationsOf(m map[string]time.Duration) func(*graph.Action) (time.Duration, bool) {
	return func(a *graph.Action) (time.Duration, bool) {
		d, ok := m[a.Outputs[0]]
		return d, ok
	}
}

func TestPlanPrioritiesByDuration(t *testing.T) {
	g := shallowSlowGraph(t)
	goals := []int{0, 3, 4}
	// Without durations: depths, the chain first.
	if diff := cmp.Diff([]int64{1, 3, 2, 1, 1}, newPlan(g, goals, nil).prio); diff != "" {
		t.Errorf("priorities without durations (-want +got):\n%s", diff)
	}
	// With them: the longest remaining path in microseconds; the unknown
	// action weighs the mean of its mnemonic's known ones (20 ms).
	want := []int64{2_000_000, 60_000, 50_000, 30_000, 20_000}
	if diff := cmp.Diff(want, newPlan(g, goals, durationsOf(shallowSlowDurations)).prio); diff != "" {
		t.Errorf("priorities with durations (-want +got):\n%s", diff)
	}
	// A mnemonic nothing is known of weighs the mean of all known ones.
	only := map[string]time.Duration{"o0": 3 * time.Second, "o1": time.Second}
	w := weights(g, []int{0, 1, 2, 3, 4}, durationsOf(only))
	if diff := cmp.Diff([]int64{3_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000}, w); diff != "" {
		t.Errorf("weights (-want +got):\n%s", diff)
	}
}

// gatedPool is a one-token pool whose first Acquire waits until the cache
// has checked n actions, so that every root is ready when the first
// command is chosen.
type gatedPool struct {
	TokenPool
	cache  *memCache
	n      int
	opened atomic.Bool
}

func (p *gatedPool) Acquire(ctx context.Context) error {
	for !p.opened.Load() {
		p.cache.mu.Lock()
		checked := p.cache.checks
		p.cache.mu.Unlock()
		if checked >= p.n {
			// The last check's answer may still be on its way to the
			// scheduler: let it arrive.
			time.Sleep(50 * time.Millisecond)
			p.opened.Store(true)
			break
		}
		time.Sleep(time.Millisecond)
	}
	return p.TokenPool.Acquire(ctx)
}

// With one token, the commands start in priority order: the slow shallow
// action first once its duration is known, the deeper chain first before.
// (Only the starts before a dependent becomes ready are certain: its check
// races with the next token.)
func TestScheduleByMeasuredDuration(t *testing.T) {
	for _, tc := range []struct {
		durations map[string]time.Duration
		want      []string
	}{
		{nil, []string{"start //:c1"}},
		{shallowSlowDurations, []string{"start //:slow", "start //:c1"}},
	} {
		root := t.TempDir()
		g := shallowSlowGraph(t)
		for i, a := range g.Actions {
			a.Argv = []string{"sh", "-c", fmt.Sprintf("touch o%d", i)}
			a.Env = testEnv
		}
		rec := newRecorder(t)
		cache := newMemCache()
		pool := &gatedPool{TokenPool: NewSemaphore(1), cache: cache, n: 3} // the roots 0, 1 and 4
		opts := Options{Root: root, Cache: cache, Tokens: pool, Observer: rec, Sandbox: sandbox.ModeOff}
		if tc.durations != nil {
			opts.Durations = durationsOf(tc.durations)
		}
		if _, err := Run(context.Background(), g, []int{0, 3, 4}, opts); err != nil {
			t.Fatal(err)
		}
		var starts []string
		for _, e := range rec.events {
			if e[:5] == "start" {
				starts = append(starts, e)
			}
		}
		if len(starts) != 5 {
			t.Fatalf("%d commands started, want 5: %v", len(starts), rec.events)
		}
		if diff := cmp.Diff(tc.want, starts[:len(tc.want)]); diff != "" {
			t.Errorf("durations %v: start order (-want +got):\n%s", tc.durations != nil, diff)
		}
	}
}

// The token a chain's command gives back when its process ends is held for
// the next action of the chain, more urgent than the ready wide action,
// rather than given to the wide one while the chain's outputs are being
// collected and its next action checked.
func TestTokenHeldForCriticalPath(t *testing.T) {
	for range 5 {
		root := t.TempDir()
		g, err := graph.New([]*graph.Action{
			sh("//:w", "touch w", nil, []string{"w"}),
			sh("//:c0", "touch c0", nil, []string{"c0"}),
			sh("//:c1", "touch c1", []string{"c0"}, []string{"c1"}),
			sh("//:c2", "touch c2", []string{"c1"}, []string{"c2"}),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(t)
		cache := newMemCache()
		pool := &gatedPool{TokenPool: NewSemaphore(1), cache: cache, n: 2} // the roots w and c0
		opts := Options{Root: root, Cache: cache, Tokens: pool, Observer: rec, Sandbox: sandbox.ModeOff}
		if _, err := Run(context.Background(), g, []int{0, 3}, opts); err != nil {
			t.Fatal(err)
		}
		var starts []string
		for _, e := range rec.events {
			if e[:5] == "start" {
				starts = append(starts, e)
			}
		}
		if diff := cmp.Diff([]string{"start //:c0", "start //:c1"}, starts[:2]); diff != "" {
			t.Fatalf("start order (-want +got):\n%s\nall: %v", diff, starts)
		}
	}
}

// With more actions ready to run than the scheduler checks ahead, the
// critical path still goes first: an action more urgent than every one
// waiting to run is checked at once, and the token held for it (no
// deadlock between the bound on checks and the held token).
func TestCheckAheadBoundKeepsCriticalPath(t *testing.T) {
	root := t.TempDir()
	actions := []*graph.Action{
		sh("//:c0", "touch c0", nil, []string{"c0"}),
		sh("//:c1", "touch c1", []string{"c0"}, []string{"c1"}),
		sh("//:c2", "touch c2", []string{"c1"}, []string{"c2"}),
		sh("//:c3", "touch c3", []string{"c2"}, []string{"c3"}),
	}
	goals := []int{3}
	for i := range 4 * checkerQueueDepth * runtime.NumCPU() {
		out := fmt.Sprintf("w%d", i)
		actions = append(actions, sh("//:"+out, "touch "+out, nil, []string{out}))
		goals = append(goals, len(actions)-1)
	}
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t)
	cache := newMemCache()
	pool := &gatedPool{TokenPool: NewSemaphore(1), cache: cache, n: checkerQueueDepth}
	opts := Options{Root: root, Cache: cache, Tokens: pool, Observer: rec, Sandbox: sandbox.ModeOff}
	sum, err := Run(context.Background(), g, goals, opts)
	if err != nil || sum.Ran != len(actions) {
		t.Fatalf("Run = %+v, %v; want all %d ran", sum, err, len(actions))
	}
	var starts []string
	for _, e := range rec.events {
		if e[:5] == "start" {
			starts = append(starts, e)
		}
	}
	// (c3 is no more urgent than the wide actions: any of them may go
	// before it.)
	if diff := cmp.Diff([]string{"start //:c0", "start //:c1", "start //:c2"}, starts[:3]); diff != "" {
		t.Errorf("start order (-want +got):\n%s", diff)
	}
}

// The ready queue pops by priority, then by ID, whatever the order of
// pushes, pops in between included.
func TestReadyQueueOrder(t *testing.T) {
	const n = 500
	prio := make([]int64, n)
	for i := range prio {
		prio[i] = int64((i * 7919) % 13)
	}
	q := readyQueue{prio: prio}
	in := map[int]bool{} // what the queue holds
	pop := func() {
		t.Helper()
		best := -1
		for id := range in {
			if best < 0 || prio[id] > prio[best] || prio[id] == prio[best] && id < best {
				best = id
			}
		}
		if got := q.pop(); got != best {
			t.Fatalf("popped %d, want %d", got, best)
		}
		delete(in, best)
	}
	for i := range n {
		id := (i * 104729) % n // every ID once, shuffled
		q.push(id)
		in[id] = true
		if i%5 == 4 {
			pop()
		}
	}
	for q.Len() > 0 {
		pop()
	}
	if len(in) != 0 {
		t.Fatalf("%d IDs never popped", len(in))
	}
	// A queue filled first and then emptied gives the total order.
	q = readyQueue{prio: prio}
	for i := range n {
		q.push((i * 104729) % n)
	}
	prev := q.pop()
	for q.Len() > 0 {
		id := q.pop()
		if prio[id] > prio[prev] || prio[id] == prio[prev] && id < prev {
			t.Fatalf("popped %d (prio %d) after %d (prio %d)", id, prio[id], prev, prio[prev])
		}
		prev = id
	}
}
