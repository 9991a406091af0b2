package executor

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// mostAtOnce returns the most intervals [start, end] (nanoseconds, one
// "start end" line per output file) that overlap at one time.
func mostAtOnce(t *testing.T, files []string) int {
	t.Helper()
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, f := range files {
		var s, e int64
		if _, err := fmt.Sscan(readFile(t, f), &s, &e); err != nil || e < s {
			t.Fatalf("%s: %q: %v", f, readFile(t, f), err)
		}
		edges = append(edges, edge{s, 1}, edge{e, -1})
	}
	// Ends before starts at the same time: touching is not overlapping.
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.delta, b.delta)) })
	most, n := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// With actions queued ahead of their tokens in the namespace sandbox
// (ahead.go), never more commands run at once than there are tokens: real
// processes, counted while the build runs; and every action ran, once.
func TestAheadTokenBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the zygote is Linux's")
	}
	needNamespace(t)
	for _, jobs := range []int{1, 2} {
		t.Run(strconv.Itoa(jobs), func(t *testing.T) {
			root := t.TempDir()
			var actions []*graph.Action
			var outs []string
			for i := range 40 {
				out := fmt.Sprintf("bld-out/o%d", i)
				// Each command says when it ran, from within: a part
				// of its process's life.
				actions = append(actions, sh("//p:a"+strconv.Itoa(i), "s=$(date +%s%N); sleep 0.02; echo $s $(date +%s%N) > "+out, nil, []string{out}))
				outs = append(outs, filepath.Join(root, out))
			}
			sum, _, err := buildSandboxed(t, context.Background(), root, actions, jobs, false, newMemCache(), sandbox.ModeNamespace)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Ran != len(actions) {
				t.Errorf("summary %+v: want all %d ran", sum, len(actions))
			}
			if got := mostAtOnce(t, outs); got > jobs || got < 1 {
				t.Errorf("at most %d commands ran at once, want 1 to %d (-j %d)", got, jobs, jobs)
			}
		})
	}
}

// A failure without --keep_going withdraws the action queued ahead: what
// was not reported as run did not run (its output is not there), and what
// was skipped never started.
func TestAheadFailureWithdraws(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the zygote is Linux's")
	}
	needNamespace(t)
	root := t.TempDir()
	actions := []*graph.Action{sh("//p:bad", "sleep 0.1; exit 3", nil, []string{"bld-out/bad"})}
	for i := range 30 {
		out := fmt.Sprintf("bld-out/ok%d", i)
		actions = append(actions, sh("//p:ok"+strconv.Itoa(i), "sleep 0.03; touch "+out, nil, []string{out}))
	}
	sum, rec, err := buildSandboxed(t, context.Background(), root, actions, 2, false, newMemCache(), sandbox.ModeNamespace)
	if err == nil || !strings.Contains(err.Error(), "1 action failed") {
		t.Fatalf("err = %v, want one that says 1 action failed", err)
	}
	if sum.Failed != 1 || sum.Skipped == 0 {
		t.Errorf("summary %+v: want 1 failed and some skipped", sum)
	}
	started := map[string]bool{}
	for _, e := range rec.events {
		if owner, ok := strings.CutPrefix(e, "start "); ok {
			started[owner] = true
		}
	}
	for i := range 30 {
		owner := "//p:ok" + strconv.Itoa(i)
		r, done := rec.results[owner]
		ran := exists(filepath.Join(root, fmt.Sprintf("bld-out/ok%d", i)))
		switch {
		case done && r.Status != StatusRan:
			t.Errorf("%s: %s, %v", owner, r.Status, r.Err)
		case !done && (ran || started[owner]):
			t.Errorf("%s was skipped, yet it started (output there: %v; reported started: %v)", owner, ran, started[owner])
		case done && !ran:
			t.Errorf("%s ran but its output is not there", owner)
		}
	}
}
