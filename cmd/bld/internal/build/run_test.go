package build

import (
	"context"
	"os"
	"runtime/debug"
	"testing"

	"bld/exec/cache"
	"bld/starlark/label"
)

// TestReserveHeap checks that ReserveHeap holds collections off for
// loadFactor times the snapshot and the record plus loadSlack (GOGC's floor,
// 4 MiB per 100, at least that), that end gives the GOGC of before back,
// and that a workspace with neither file reserves nothing.
func TestReserveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(400)
	defer debug.SetGCPercent(prev)
	gogc := func() int {
		p := debug.SetGCPercent(400)
		debug.SetGCPercent(p)
		return p
	}
	l := Layout{Root: t.TempDir()}
	end := ReserveHeap(l)
	if got := gogc(); got != 400 {
		t.Errorf("no snapshot, no record: GOGC = %d, want 400 kept", got)
	}
	end()
	const size = 64 << 20
	if err := os.MkdirAll(l.StateDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{l.AnalysisSnapshot(), l.ActionRecord()} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(f, size/2); err != nil { // sparse: sized, not written
			t.Fatal(err)
		}
	}
	end = ReserveHeap(l)
	want := (size*loadFactor + loadSlack) / (4 << 20) * 100
	if got := gogc(); got < want {
		t.Errorf("GOGC = %d, want at least %d (a floor of %d MiB)", got, want, (size*loadFactor+loadSlack)>>20)
	}
	end()
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after end = %d, want 400", got)
	}
}

// TestReadAheadLetGoByCompleteAnalysis checks that a build that reuses the
// analysis snapshot keeps the action record read ahead for it, and one
// that analyzes everything (the snapshot made by another bld) lets it go.
func TestReadAheadLetGoByCompleteAnalysis(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   `genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")` + "\n",
	})
	l := Layout{Root: root}
	if err := os.MkdirAll(l.StateDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.ActionRecord(), []byte("not a record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pattern, err := label.ParsePattern("//p:g", "")
	if err != nil {
		t.Fatal(err)
	}
	analyze := func(identity string) (ra *ReadAhead, first *cache.Preload) {
		t.Helper()
		ra = StartReadAhead(l, true)
		defer ra.endReserve()
		first = ra.record
		if _, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.Identity = identity
			r.ReadAhead = ra
		})); err != nil {
			t.Fatal(err)
		}
		return ra, first
	}
	analyze("one") // writes the snapshot
	if ra, first := analyze("one"); ra.record != first || ra.dropped {
		t.Errorf("the snapshot reused: the record read ahead was replaced (dropped %v)", ra.dropped)
	}
	if ra, _ := analyze("another bld"); !ra.dropped {
		t.Error("a complete analysis kept the record read ahead")
	}
}
