package executor

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"bld/exec/graph"
)

// blockingPool never grants a token; it records how many Acquire calls
// were pending at once.
type blockingPool struct {
	mu            sync.Mutex
	pending, peak int
	calls         int
}

func (p *blockingPool) Acquire(ctx context.Context) error {
	p.mu.Lock()
	p.pending++
	p.calls++
	p.peak = max(p.peak, p.pending)
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.pending--
	p.mu.Unlock()
	return ctx.Err()
}

func (p *blockingPool) Release() { panic("no token was granted") }

func (p *blockingPool) AttachJobserver(*exec.Cmd, []string, string) (func(), error) {
	return func() {}, nil
}

func (p *blockingPool) counts() (pending, peak, calls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending, p.peak, p.calls
}

// countingCache says every action must run, and counts checks.
type countingCache struct {
	mu     sync.Mutex
	checks int
}

func (c *countingCache) Check(context.Context, *graph.Action) (Check, error) {
	c.mu.Lock()
	c.checks++
	c.mu.Unlock()
	return Check{Key: "k", Reason: "no previous result"}, nil
}
func (c *countingCache) Store(context.Context, *graph.Action, string, []byte) error { return nil }
func (c *countingCache) Close() error                                               { return nil }

func (c *countingCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

// With 100,000 actions ready to run and no token to be had, the scheduler
// keeps one Acquire pending, not one goroutine per action, checks only a
// bounded number of actions ahead (what a check computed is kept until the
// action runs), and cancelling the build cancels that Acquire.
func TestManyReadyActionsOneAcquire(t *testing.T) {
	const n = 100_000
	actions := make([]*graph.Action, n)
	goals := make([]int, n)
	for i := range actions {
		actions[i] = &graph.Action{Owner: "//p:a", Mnemonic: "M", Argv: []string{"true"}, Outputs: []string{fmt.Sprint("bld-out/", i)}}
		goals[i] = i
	}
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := &blockingPool{}
	cache := &countingCache{}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	type ret struct {
		sum Summary
		err error
	}
	done := make(chan ret, 1)
	go func() {
		sum, err := Run(ctx, g, goals, Options{Root: t.TempDir(), Cache: cache, Tokens: pool, Observer: newRecorder(t)})
		done <- ret{sum, err}
	}()
	// The checkers' slots, and as many again in flight when they fill.
	ahead := checkerQueueDepth * runtime.NumCPU()
	deadline := time.Now().Add(60 * time.Second)
	for cache.count() < ahead {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d actions checked", cache.count(), ahead)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if c := cache.count(); c > 2*ahead {
		t.Errorf("%d actions checked while none can run; want at most %d", c, 2*ahead)
	}
	if g := runtime.NumGoroutine() - before; g > runtime.NumCPU()+10 {
		t.Errorf("%d goroutines while %d actions wait for a token", g, n)
	}
	cancel()
	r := <-done
	if r.err == nil || ctx.Err() == nil {
		t.Errorf("Run returned %v after cancellation", r.err)
	}
	if r.sum.Skipped != n {
		t.Errorf("summary %+v, want all skipped", r.sum)
	}
	pending, peak, calls := pool.counts()
	if pending != 0 || peak != 1 || calls != 1 {
		t.Errorf("Acquire: %d pending after Run, peak %d, %d calls; want 0, 1, 1", pending, peak, calls)
	}
}

func TestPlanPriorities(t *testing.T) {
	// 0 -> 1 -> 2 -> 3 is the long chain; 4 -> 3; 5 is alone; 6 is not needed.
	actions := []*graph.Action{
		{Outputs: []string{"o0"}},
		{Inputs: []string{"o0"}, Outputs: []string{"o1"}},
		{Inputs: []string{"o1"}, Outputs: []string{"o2"}},
		{Inputs: []string{"o2", "o4"}, Outputs: []string{"o3"}},
		{Outputs: []string{"o4"}},
		{Outputs: []string{"o5"}},
		{Inputs: []string{"o0"}, Outputs: []string{"o6"}},
	}
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPlan(g, []int{3, 5}, nil)
	wantPrio := []int64{4, 3, 2, 1, 2, 1, 0}
	for id, w := range wantPrio {
		if p.prio[id] != w {
			t.Errorf("prio[%d] = %d, want %d", id, p.prio[id], w)
		}
	}
	if p.needed[6] {
		t.Error("action 6 is needed by no goal")
	}
	q := readyQueue{prio: p.prio}
	for _, id := range []int{5, 4, 1, 0, 3} {
		q.push(id)
	}
	var order []int
	for q.Len() > 0 {
		order = append(order, q.pop())
	}
	if fmt.Sprint(order) != "[0 1 4 3 5]" {
		t.Errorf("ready order %v, want [0 1 4 3 5]", order)
	}
}
