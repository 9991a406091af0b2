package executor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
)

// orderCache is a memCache that also records the order of the checks.
type orderCache struct {
	*memCache
	mu      sync.Mutex
	checked []string
}

func (c *orderCache) Check(ctx context.Context, a *graph.Action) (Check, error) {
	c.mu.Lock()
	c.checked = append(c.checked, a.Owner)
	c.mu.Unlock()
	return c.memCache.Check(ctx, a)
}

// TestPrecheckOrder builds graphs whose actions are all up to date but
// some (miss), and checks that every action is checked once, after the
// actions it depends on are done, and that what depends on a miss is
// checked after it ran.
func TestPrecheckOrder(t *testing.T) {
	t.Parallel()
	// A diamond on a chain: a -> b, a -> c, (b, c) -> d -> e.
	actions := func() []*graph.Action {
		return []*graph.Action{
			sh("//p:e", "cat bld-out/d > bld-out/e", []string{"bld-out/d"}, []string{"bld-out/e"}),
			sh("//p:d", "cat bld-out/b bld-out/c > bld-out/d", []string{"bld-out/b", "bld-out/c"}, []string{"bld-out/d"}),
			sh("//p:b", "cat bld-out/a > bld-out/b", []string{"bld-out/a"}, []string{"bld-out/b"}),
			sh("//p:c", "cat bld-out/a > bld-out/c", []string{"bld-out/a"}, []string{"bld-out/c"}),
			sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
		}
	}
	deps := map[string][]string{"//p:e": {"//p:d"}, "//p:d": {"//p:b", "//p:c"}, "//p:b": {"//p:a"}, "//p:c": {"//p:a"}}
	tests := []struct {
		name string
		miss []string // forgotten by the cache before the second build
		want Summary
	}{
		{"no-op", nil, Summary{Total: 5, UpToDate: 5}},
		{"root", []string{"//p:a"}, Summary{Total: 5, Ran: 1, UpToDate: 4}},
		{"middle", []string{"//p:c"}, Summary{Total: 5, Ran: 1, UpToDate: 4}},
		{"two", []string{"//p:b", "//p:e"}, Summary{Total: 5, Ran: 2, UpToDate: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			cache := &orderCache{memCache: newMemCache()}
			if _, _, err := build(t, context.Background(), root, actions(), 2, false, cache); err != nil {
				t.Fatal(err)
			}
			for _, a := range actions() {
				for _, m := range tt.miss {
					if a.Owner == m {
						delete(cache.stored, memKey(a))
					}
				}
			}
			cache.checked = nil
			sum, rec, err := build(t, context.Background(), root, actions(), 2, false, cache)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, sum); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			at := map[string]int{}
			for i, o := range cache.checked {
				if _, ok := at[o]; ok {
					t.Errorf("%s checked twice: %v", o, cache.checked)
				}
				at[o] = i
			}
			if len(at) != 5 {
				t.Errorf("checked %v, want all 5 actions", cache.checked)
			}
			for o, ds := range deps {
				for _, d := range ds {
					if at[d] > at[o] {
						t.Errorf("%s checked before its dependency %s: %v", o, d, cache.checked)
					}
				}
			}
			// What depends on an action that ran finishes after it ran.
			done := map[string]int{}
			for i, e := range rec.events {
				if !strings.HasPrefix(e, "start ") {
					done[e[strings.Index(e, " ")+1:]] = i
				}
			}
			for o, ds := range deps {
				for _, d := range ds {
					if done[d] > done[o] {
						t.Errorf("%s finished before its dependency %s: %v", o, d, rec.events)
					}
				}
			}
		})
	}
}

// TestPrecheckStopsAfterSlots checks that precheck stops checking once as
// many actions as the checkers' slots must run, and leaves the rest to the
// checkers: a full build does not check everything before running anything.
func TestPrecheckStopsAfterSlots(t *testing.T) {
	t.Parallel()
	var actions []*graph.Action
	for i := range 5 * checkerQueueDepth {
		out := fmt.Sprintf("bld-out/%d", i)
		actions = append(actions, sh(fmt.Sprintf("//p:%d", i), "echo > "+out, nil, []string{out}))
	}
	g, err := graph.New(actions, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	goals := make([]int, len(actions))
	for i := range goals {
		goals[i] = i
	}
	cache := newMemCache()
	s := newScheduler(g, newPlan(g, goals, nil), Options{Root: t.TempDir(), Cache: cache, Checkers: 1, Observer: newRecorder(t)})
	s.acqCancel = func() {}
	for _, id := range s.plan.ids {
		s.ready(id)
	}
	s.precheck(context.Background())
	if cache.checks != checkerQueueDepth || s.runQ.Len() != checkerQueueDepth || s.poolQ.Len() != len(actions)-checkerQueueDepth {
		t.Errorf("after precheck: %d checks, %d to run, %d to check; want %d, %d, %d",
			cache.checks, s.runQ.Len(), s.poolQ.Len(), checkerQueueDepth, checkerQueueDepth, len(actions)-checkerQueueDepth)
	}
}

// TestPrecheckCancelled checks that a build cancelled before it starts
// reports the interruption, and fails no action.
func TestPrecheckCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, rec, err := build(t, ctx, t.TempDir(), []*graph.Action{sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"})}, 2, false, newMemCache())
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want the build interrupted", err)
	}
	if sum.Failed != 0 || len(rec.events) != 0 {
		t.Errorf("summary %+v, events %v; want nothing failed or started", sum, rec.events)
	}
}

// TestNoopSkipsPriorities checks that a build whose actions are all up to
// date never computes the critical-path priorities, and one with an action
// to run does, before it schedules it.
func TestNoopSkipsPriorities(t *testing.T) {
	t.Parallel()
	for _, miss := range []bool{false, true} {
		root := t.TempDir()
		actions := []*graph.Action{
			sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
			sh("//p:b", "cat bld-out/a > bld-out/b", []string{"bld-out/a"}, []string{"bld-out/b"}),
		}
		g, err := graph.New(actions, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		cache := newMemCache()
		if !miss {
			for _, a := range actions {
				cache.stored[memKey(a)] = true
			}
		}
		p := neededPlan(g, []int{0, 1})
		s := newScheduler(g, p, Options{Root: root, Cache: cache, Tokens: NewSemaphore(1), Observer: newRecorder(t)})
		if _, err := s.run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if p.prioritized != miss {
			t.Errorf("with a miss %v: priorities computed %v", miss, p.prioritized)
		}
	}
}

// graphCache is an orderCache that is a GraphCache: it records the IDs
// CheckIn is asked about, and that they name the action checked.
type graphCache struct {
	*orderCache
	mu  sync.Mutex
	ids []int
	bad []string
}

func (c *graphCache) CheckIn(ctx context.Context, g *graph.Graph, id int) (Check, error) {
	c.mu.Lock()
	c.ids = append(c.ids, id)
	if id < 0 || id >= len(g.Actions) {
		c.bad = append(c.bad, fmt.Sprintf("id %d out of range", id))
	}
	c.mu.Unlock()
	return c.orderCache.Check(ctx, g.Actions[id])
}

// TestGraphCacheCheckIn: a GraphCache is asked through CheckIn, with each
// action's ID in the graph, once per action, whether precheck or the
// checkers ask (a miss sends what depends on it to the checkers).
func TestGraphCacheCheckIn(t *testing.T) {
	t.Parallel()
	actions := func() []*graph.Action {
		return []*graph.Action{
			sh("//p:c", "cat bld-out/b > bld-out/c", []string{"bld-out/b"}, []string{"bld-out/c"}),
			sh("//p:b", "cat bld-out/a > bld-out/b", []string{"bld-out/a"}, []string{"bld-out/b"}),
			sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
		}
	}
	for _, tt := range []struct {
		name string
		miss string // forgotten by the cache before the second build
		want Summary
	}{
		{"no-op", "", Summary{Total: 3, UpToDate: 3}},
		{"miss", "//p:a", Summary{Total: 3, Ran: 1, UpToDate: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			cache := &graphCache{orderCache: &orderCache{memCache: newMemCache()}}
			if _, _, err := build(t, context.Background(), root, actions(), 2, false, cache); err != nil {
				t.Fatal(err)
			}
			for _, a := range actions() {
				if a.Owner == tt.miss {
					delete(cache.stored, memKey(a))
				}
			}
			cache.checked, cache.ids = nil, nil
			sum, _, err := build(t, context.Background(), root, actions(), 2, false, cache)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, sum); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			// Every check came through CheckIn, with the ID of the
			// action checked: owners in the order of the IDs asked (a
			// chain: one check at a time).
			var byID []string
			acts := actions()
			for _, id := range cache.ids {
				byID = append(byID, acts[id].Owner)
			}
			if diff := cmp.Diff(cache.checked, byID); diff != "" || len(cache.bad) > 0 || len(byID) != 3 {
				t.Errorf("checks through CheckIn (-checked +by ID):\n%s%v", diff, cache.bad)
			}
		})
	}
}

// TestPrecheckChunks checks precheck on a wave wider than a chunk: when
// every action is up to date, all are checked once and done before the
// scheduler's loop; when none is, it still stops after as many misses as
// the checkers' slots (the limit carries over from chunk to chunk) and
// leaves every other action, of this chunk and the next ones, to the
// checkers.
func TestPrecheckChunks(t *testing.T) {
	t.Parallel()
	n := 2*precheckChunk + 5
	for _, upToDate := range []bool{true, false} {
		var actions []*graph.Action
		for i := range n {
			out := fmt.Sprintf("bld-out/%d", i)
			actions = append(actions, sh(fmt.Sprintf("//p:%d", i), "echo > "+out, nil, []string{out}))
		}
		g, err := graph.New(actions, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		goals := make([]int, n)
		for i := range goals {
			goals[i] = i
		}
		cache := newMemCache()
		if upToDate {
			for _, a := range actions {
				cache.stored[memKey(a)] = true
			}
		}
		s := newScheduler(g, newPlan(g, goals, nil), Options{Root: t.TempDir(), Cache: cache, Checkers: 2, Observer: newRecorder(t)})
		s.acqCancel = func() {}
		for _, id := range s.plan.ids {
			s.ready(id)
		}
		s.precheck(context.Background())
		wantChecks, wantRun, wantLeft := n, 0, 0
		if !upToDate {
			wantChecks, wantRun, wantLeft = s.slots, s.slots, n-s.slots
		}
		// Two checkers may each check one more before they see the
		// limit reached: at most one more per checker than the slots.
		if upToDate && cache.checks != wantChecks || !upToDate && (cache.checks < wantChecks || cache.checks > wantChecks+2) ||
			s.runQ.Len() != wantRun && upToDate || s.runQ.Len()+s.poolQ.Len() != wantRun+wantLeft {
			t.Errorf("up to date %v: after precheck: %d checks, %d to run, %d to check; want %d, %d, %d",
				upToDate, cache.checks, s.runQ.Len(), s.poolQ.Len(), wantChecks, wantRun, wantLeft)
		}
	}
}
