package build

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"bld/exec/cache"
	"bld/exec/filestat"
	"bld/starlark/label"
	"bld/starlark/snapshot"
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

// TestAnalysisPaths checks that the list of the snapshot's existence
// questions is saved beside it (Request.PathsFile) for the read-ahead to
// stat them, written again by an incremental analysis only when it asks
// about a new file, and that a source removed is seen whether or not its
// stat was taken ahead.
func TestAnalysisPaths(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   `genrule(name = "g", srcs = ["a.in"], outs = ["g.txt"], cmd = "cat $< > $@")` + "\n",
		"p/a.in":         "a",
		"q/BUILD.star":   `genrule(name = "h", srcs = ["b.in"], outs = ["h.txt"], cmd = "cat $< > $@")` + "\n",
		"q/b.in":         "b",
		"q/c.in":         "c",
	})
	l := Layout{Root: root}
	if err := os.MkdirAll(l.StateDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	pattern, err := label.ParsePattern("//...", "")
	if err != nil {
		t.Fatal(err)
	}
	analyze := func() (*Plan, *ReadAhead, error) {
		t.Helper()
		ra := StartReadAhead(l, true)
		defer ra.endReserve()
		plan, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.PathsFile = l.AnalysisPaths()
			r.ReadAhead = ra
		}))
		return plan, ra, err
	}
	listed := func() map[string]bool {
		t.Helper()
		m := map[string]bool{}
		for _, p := range snapshot.ReadPaths(l.AnalysisPaths()) {
			m[p] = true
		}
		return m
	}
	stamp := func() filestat.Stat {
		t.Helper()
		fi, err := os.Stat(l.AnalysisPaths())
		if err != nil {
			t.Fatal(err)
		}
		return filestat.Of(fi)
	}

	if _, ra, err := analyze(); err != nil || ra.listedPaths() {
		t.Fatalf("first analysis: %v; a list read ahead: %v, want none", err, ra.listedPaths())
	}
	if got := listed(); !got["p/a.in"] || !got["q/b.in"] || got["q/c.in"] {
		t.Fatalf("listed after a complete analysis: %v; want p/a.in and q/b.in, not q/c.in", got)
	}
	// A comment: the list read ahead is complete, and kept as it is.
	before := stamp()
	writeWorkspace(t, root, map[string]string{"q/BUILD.star": `genrule(name = "h", srcs = ["b.in"], outs = ["h.txt"], cmd = "cat $< > $@")` + "\n# edit\n"})
	if _, ra, err := analyze(); err != nil || !ra.listedPaths() {
		t.Fatalf("a comment added: %v; a list read ahead: %v, want one", err, ra.listedPaths())
	}
	if after := stamp(); after != before {
		t.Errorf("the list was written again after an edit that asks about no new file")
	}
	// A new source: the list is written again with it.
	writeWorkspace(t, root, map[string]string{"q/BUILD.star": `genrule(name = "h", srcs = ["b.in", "c.in"], outs = ["h.txt"], cmd = "cat $(SRCS) > $@")` + "\n"})
	if _, _, err := analyze(); err != nil {
		t.Fatal(err)
	}
	if got := listed(); !got["p/a.in"] || !got["q/b.in"] || !got["q/c.in"] {
		t.Errorf("listed after a source was added: %v; want p/a.in, q/b.in and q/c.in", got)
	}
	// A source removed is seen, its stat taken ahead or not.
	if err := os.Remove(filepath.Join(root, "p", "a.in")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := analyze(); err == nil || !strings.Contains(err.Error(), "a.in") {
		t.Errorf("p/a.in removed: Analyze's error %v, want one naming a.in", err)
	}
}
