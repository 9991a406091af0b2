package record_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/record"
)

type nopObserver struct{ reasons map[string]string }

func (nopObserver) Planned(int)                {}
func (nopObserver) Started(int, *graph.Action) {}
func (o nopObserver) Finished(r executor.Result) {
	if r.Status == executor.StatusRan {
		o.reasons[r.Action.Owner] = r.Reason
	}
}

// Builds a two-step chain with the record as the executor's cache: the
// second build does nothing, and editing the source reruns both steps.
func TestIncrementalBuild(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("hello\n"), 0o644)
	env := []string{"PATH=/usr/bin:/bin"}
	actions := []*graph.Action{
		{Owner: "//:upper", Mnemonic: "Tr", Env: env, Argv: []string{"sh", "-c", "tr a-z A-Z < in.txt > bld-out/upper.txt"},
			Inputs: []string{"in.txt"}, Outputs: []string{"bld-out/upper.txt"}},
		{Owner: "//:count", Mnemonic: "Wc", Env: env, Argv: []string{"sh", "-c", "wc -c < bld-out/upper.txt > bld-out/count.txt"},
			Inputs: []string{"bld-out/upper.txt"}, Outputs: []string{"bld-out/count.txt"}},
	}
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func() (executor.Summary, map[string]string) {
		t.Helper()
		rec, err := record.Open(root, filepath.Join(root, "bld-out/.bld"))
		if err != nil {
			t.Fatal(err)
		}
		obs := nopObserver{reasons: map[string]string{}}
		sum, err := executor.Run(context.Background(), g, []int{1}, executor.Options{
			Root: root, Cache: rec, Tokens: executor.NewSemaphore(2), Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		return sum, obs.reasons
	}
	if sum, _ := build(); sum.Ran != 2 {
		t.Errorf("first build: %+v", sum)
	}
	if sum, _ := build(); sum.UpToDate != 2 {
		t.Errorf("no-op build: %+v", sum)
	}
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("hello, world\n"), 0o644)
	sum, reasons := build()
	if sum.Ran != 2 || reasons["//:upper"] != "command or inputs changed" {
		t.Errorf("after an edit: %+v, reasons %q", sum, reasons)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "bld-out/count.txt")); string(got) != "13\n" {
		t.Errorf("count.txt = %q", got)
	}
}
