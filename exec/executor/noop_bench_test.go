package executor

import (
	"context"
	"fmt"
	"testing"

	"bld/exec/graph"
)

// BenchmarkNoOpRun is the scheduler's share of a no-op build: 10,000
// independent actions, every one up to date in an in-memory cache, per
// iteration (no file is looked at). It prices what the scheduler does per
// action when nothing runs, such as stamping Result.Ready.
//
//	go test -run '^$' -bench NoOpRun -benchmem -count 10 ./exec/executor
func BenchmarkNoOpRun(b *testing.B) {
	const n = 10_000
	cache := newMemCache()
	var actions []*graph.Action
	for i := range n {
		a := sh(fmt.Sprintf("//p:o%d", i), "true", nil, []string{fmt.Sprintf("bld-out/o%d", i)})
		cache.stored[memKey(a)] = true
		actions = append(actions, a)
	}
	g, err := graph.New(actions, func(string) bool { return true })
	if err != nil {
		b.Fatal(err)
	}
	goals := make([]int, n)
	for i := range goals {
		goals[i] = i
	}
	root := b.TempDir()
	for b.Loop() {
		sum, err := Run(context.Background(), g, goals, Options{Root: root, Cache: cache, Tokens: NewSemaphore(2), Observer: nopObserver{}})
		if err != nil || sum.UpToDate != n {
			b.Fatalf("%+v, %v", sum, err)
		}
	}
}
