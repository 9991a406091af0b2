package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// testEnv is the environment of test actions: only a PATH.
var testEnv = []string{"PATH=/usr/bin:/bin"}

// sh returns an action running script with /bin/sh in the workspace root.
func sh(owner, script string, inputs, outputs []string) *graph.Action {
	return &graph.Action{
		Owner: owner, Mnemonic: "Sh",
		Argv:   []string{"sh", "-c", script},
		Env:    testEnv,
		Inputs: inputs, Outputs: outputs,
	}
}

// memCache is a Cache that remembers which action keys succeeded, without
// looking at files: enough to test the scheduler.
type memCache struct {
	mu     sync.Mutex
	stored map[string]bool
	checks int
	// restoring makes every hit a restore, as after bld clean.
	restoring bool
}

func newMemCache() *memCache { return &memCache{stored: map[string]bool{}} }

func memKey(a *graph.Action) string {
	return a.Owner + "\x00" + strings.Join(a.Argv, "\x00") + "\x00" + string(a.Content())
}

func (c *memCache) Check(ctx context.Context, a *graph.Action) (Check, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++
	k := memKey(a)
	if c.stored[k] {
		return Check{UpToDate: true, Restored: c.restoring, Key: k}, nil
	}
	return Check{Key: k, Reason: "no previous result"}, nil
}

func (c *memCache) Store(ctx context.Context, a *graph.Action, key string, output []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key != memKey(a) {
		panic("Store called with another key than Check returned")
	}
	c.stored[key] = true
	return nil
}

func (c *memCache) Close() error { return nil }

// recorder is an Observer that keeps every event, and fails the test when
// two calls overlap.
type recorder struct {
	t       *testing.T
	busy    sync.Mutex
	planned []int
	events  []string // "start <owner>" or "<status> <owner>"
	results map[string]Result
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, results: map[string]Result{}} }

func (r *recorder) enter() {
	if !r.busy.TryLock() {
		r.t.Error("observer called concurrently")
		r.busy.Lock()
	}
}

func (r *recorder) Planned(actions []*graph.Action) {
	r.enter()
	defer r.busy.Unlock()
	r.planned = append(r.planned, len(actions))
}

func (r *recorder) Started(id int, a *graph.Action) {
	r.enter()
	defer r.busy.Unlock()
	r.events = append(r.events, "start "+a.Owner)
}

func (r *recorder) Finished(res Result) {
	r.enter()
	defer r.busy.Unlock()
	r.events = append(r.events, string(res.Status)+" "+res.Action.Owner)
	r.results[res.Action.Owner] = res
}

// build checks actions into a graph whose source files are those present
// under root, and runs all of them with -j jobs.
func build(t *testing.T, ctx context.Context, root string, actions []*graph.Action, jobs int, keepGoing bool, cache Cache) (Summary, *recorder, error) {
	t.Helper()
	return buildSandboxed(t, ctx, root, actions, jobs, keepGoing, cache, sandbox.ModeAuto)
}

// buildSandboxed is build with a sandbox mode.
func buildSandboxed(t *testing.T, ctx context.Context, root string, actions []*graph.Action, jobs int, keepGoing bool, cache Cache, mode sandbox.Mode) (Summary, *recorder, error) {
	t.Helper()
	g, err := graph.New(actions, func(p string) bool {
		_, err := os.Stat(filepath.Join(root, p))
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	goals := make([]int, len(actions))
	for i := range goals {
		goals[i] = i
	}
	rec := newRecorder(t)
	pool := NewSemaphore(jobs)
	sum, err := Run(ctx, g, goals, Options{Root: root, KeepGoing: keepGoing, Cache: cache, Tokens: pool, Observer: rec, Sandbox: mode})
	if n := len(pool.(*semaphore).ch); n != 0 {
		t.Errorf("%d tokens still held after Run returned", n)
	}
	if len(rec.planned) != 1 || rec.planned[0] != sum.Total {
		t.Errorf("Planned calls = %v, want one with %d", rec.planned, sum.Total)
	}
	if sum.Ran+sum.Restored+sum.UpToDate+sum.Failed+sum.Skipped != sum.Total {
		t.Errorf("summary does not add up: %+v", sum)
	}
	return sum, rec, err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
