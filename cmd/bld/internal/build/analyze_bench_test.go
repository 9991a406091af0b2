package build

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"testing"
	"time"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// TestAnalyzeWorkspace loads and analyzes //... of the workspace named by
// $BLD_BENCH_WORKSPACE (made by bench/gen) with bld's GOGC and prints the
// phases, for measuring; without it, it is skipped.
func TestAnalyzeWorkspace(t *testing.T) {
	root := os.Getenv("BLD_BENCH_WORKSPACE")
	if root == "" {
		t.Skip("BLD_BENCH_WORKSPACE not set")
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	pattern, err := label.ParsePattern("//...", "")
	if err != nil {
		t.Fatal(err)
	}
	var ph Phases
	start := time.Now()
	p, err := Analyze(context.Background(), Request{
		Loader:   loading.New(loading.Options{Root: root, Builtins: rules.Files, MaxMemory: loading.DefaultMaxMemory}),
		Config:   analysis.Config{},
		Base:     []string{"PATH=/usr/bin:/bin"},
		Patterns: []label.Pattern{pattern},
		Lookup:   func(string) (string, bool) { return "", false },
		Phases:   &ph,
		Identity: "bench",
		Stderr:   io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	for _, x := range ph.List {
		t.Logf("%s: %.2fs", x.Name, x.End.Sub(x.Start).Seconds())
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("total %.2fs, %d actions, GC cycles %d, heap in use %d MiB, sys %d MiB, allocated %d bytes in %d objects", wall.Seconds(), len(p.Graph.Actions), ms.NumGC, ms.HeapInuse>>20, ms.Sys>>20, ms.TotalAlloc, ms.Mallocs)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("live after GC, plan kept %d MiB", ms.HeapAlloc>>20)
	if f := os.Getenv("BLD_BENCH_HEAPPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(out)
		out.Close()
	}
	runtime.KeepAlive(p)
}
