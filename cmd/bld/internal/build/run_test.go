package build

import (
	"os"
	"runtime/debug"
	"testing"
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
