package analysis_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/exec/heapgoal"
	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// defsStar is a .star file every generated package loads: a rule whose
// provider carries a depset up the graph, and a macro.
const defsStar = `
Info = provider(fields = ["srcs", "depth"])

def _chain_impl(ctx):
    direct = ctx.files.srcs
    trans = [d[Info].srcs for d in ctx.attr.deps if Info in d]
    depth = max([0] + [d[Info].depth for d in ctx.attr.deps if Info in d]) + 1
    srcs = depset(direct = direct, transitive = trans)
    out = ctx.actions.declare_file(ctx.label.name + ".lst")
    ctx.actions.run_shell(
        outputs = [out],
        inputs = srcs,
        command = "ls $@ > " + out.path,
        arguments = [f.path for f in srcs.to_list()],
        mnemonic = "Chain",
        env = {"DEPTH": str(depth)},
    )
    return [DefaultInfo(files = [out]), Info(srcs = srcs, depth = depth)]

chain = rule(
    implementation = _chain_impl,
    attrs = {"srcs": attr.label_list(allow_files = True), "deps": attr.label_list()},
)

def gen_and_chain(name, src, deps):
    native.genrule(name = name + "_gen", srcs = [src], outs = [name + ".txt"], cmd = "cat $(SRCS) > $@")
    chain(name = name, srcs = [":" + name + "_gen"], deps = deps)
`

// parallelWorkspace writes a workspace of n packages that load defs.star
// and depend on the two packages before them, and returns its root. extra
// files are added (or replace generated ones).
func parallelWorkspace(t *testing.T, n int, extra map[string]string) string {
	t.Helper()
	files := map[string]string{"WORKSPACE.star": "", "defs/BUILD.star": "", "defs/defs.star": defsStar}
	for i := range n {
		var b strings.Builder
		b.WriteString(`load("//defs:defs.star", "chain", "gen_and_chain")` + "\n")
		for j := range 4 {
			var deps []string
			if j > 0 {
				deps = append(deps, fmt.Sprintf(`":c%d"`, j-1))
			}
			for _, back := range []int{1, 2} {
				if i-back >= 0 {
					deps = append(deps, fmt.Sprintf(`"//p%02d:c%d"`, i-back, (j+back)%4))
				}
			}
			fmt.Fprintf(&b, "gen_and_chain(name = \"c%d\", src = \"s%d.in\", deps = [%s])\n", j, j, strings.Join(deps, ", "))
			files[fmt.Sprintf("p%02d/s%d.in", i, j)] = "x"
		}
		fmt.Fprintf(&b, "genrule(name = \"all\", srcs = [\":c0\", \":c3\", \":c2.txt\"], outs = [\"all.txt\"], cmd = \"cat $(SRCS) > $@\")\n")
		files[fmt.Sprintf("p%02d/BUILD.star", i)] = b.String()
	}
	for k, v := range extra {
		files[k] = v
	}
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// analysisRun is what an analysis of //... gave: the action list, the
// files of each label, and each error, in label order.
type analysisRun struct {
	Actions []*graph.Action
	Files   map[string][]string
	Errors  []string
	// Committed are the labels in commit order, each with its children's
	// places (EachCommitted), when no analysis failed.
	Committed []string
}

// analyzeAll analyzes //... of root as bld build -k does, with a new loader
// and the given number of workers (1: one target at a time, no Prepare).
func analyzeAll(t *testing.T, root string, workers int) analysisRun {
	return analyzePattern(t, root, "//...", workers)
}

// analyzePattern is analyzeAll for the targets of one pattern.
func analyzePattern(t *testing.T, root, pat string, workers int) analysisRun {
	t.Helper()
	return analyzeReleasing(t, root, pat, workers, false)
}

// expandIn returns a new loader of the workspace at root and the labels
// that pattern pat names in it.
func expandIn(t *testing.T, root, pat string) (*loading.Loader, []label.Label) {
	t.Helper()
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	pattern, err := label.ParsePattern(pat, "")
	if err != nil {
		t.Fatal(err)
	}
	labels, err := loader.Expand(context.Background(), []label.Pattern{pattern})
	if err != nil {
		t.Fatal(err)
	}
	return loader, labels
}

// analyzeReleasing is analyzePattern, the analysis letting go of the
// loaded targets as it goes if release (Analyzer.ReleasePackages).
func analyzeReleasing(t *testing.T, root, pat string, workers int, release bool) analysisRun {
	t.Helper()
	return analyzeCollecting(t, root, pat, workers, release, false)
}

// analyzeCollecting is analyzeReleasing, the results collected while the
// targets are analyzed (Analyzer.PrepareCollect) if collect.
func analyzeCollecting(t *testing.T, root, pat string, workers int, release, collect bool) analysisRun {
	t.Helper()
	ctx := context.Background()
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	pattern, err := label.ParsePattern(pat, "")
	if err != nil {
		t.Fatal(err)
	}
	var run analysisRun
	labels, err := loader.ExpandKeepGoing(ctx, []label.Pattern{pattern}, func(err error) {
		run.Errors = append(run.Errors, err.Error())
	})
	if err != nil {
		t.Fatal(err)
	}
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	a.SetWorkers(workers)
	if release {
		a.ReleasePackages(nil)
	}
	run.Files = map[string][]string{}
	addFiles := func(l label.Label, c *analysis.Configured) {
		for _, f := range c.Files {
			run.Files[l.String()] = append(run.Files[l.String()], f.Path)
		}
	}
	collected := 0
	switch {
	case workers > 1 && collect:
		var committed []string
		collected = a.PrepareCollect(ctx, labels, analysis.Collector{
			Committed: func(seq int, l label.Label, actions []*graph.Action, children []int32, pkgs, env []string) {
				committed = append(committed, fmt.Sprintf("%d %s %v", seq, l, children))
			},
			Root: func(i int, c *analysis.Configured) { addFiles(labels[i], c) },
		})
		if collected == len(labels) {
			defer func() {
				if diff := cmp.Diff(run.Committed, committed); diff != "" {
					t.Errorf("Collector.Committed differs from EachCommitted (-EachCommitted +Committed):\n%s", diff)
				}
			}()
		} else {
			for _, l := range labels[collected:] {
				delete(run.Files, l.String())
			}
		}
	case workers > 1:
		a.Prepare(ctx, labels)
	}
	for _, l := range labels[collected:] {
		c, err := a.Analyze(ctx, l)
		if err != nil {
			run.Errors = append(run.Errors, err.Error())
			continue
		}
		addFiles(l, c)
	}
	run.Actions = a.Actions()
	a.EachCommitted(func(seq int, l label.Label, children []int32, pkgs, env []string) {
		run.Committed = append(run.Committed, fmt.Sprintf("%d %s %v", seq, l, children))
	})
	return run
}

// TestParallelAnalysisIsSequential checks that analyzing targets in
// parallel gives the very action list (order included) and files that
// analyzing them one at a time gives, run after run.
func TestParallelAnalysisIsSequential(t *testing.T) {
	root := parallelWorkspace(t, 12, nil)
	want := analyzeAll(t, root, 1)
	if len(want.Errors) > 0 {
		t.Fatalf("errors: %q", want.Errors)
	}
	if len(want.Actions) != 12*9 {
		t.Fatalf("%d actions, want %d", len(want.Actions), 12*9)
	}
	for i := range 6 {
		got := analyzeCollecting(t, root, "//...", 2+i%3*3, false, i%2 == 1)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: parallel analysis differs from the sequential one (-want +got):\n%s", i, diff)
		}
	}
	// One target, whose dependencies the workers share.
	want = analyzePattern(t, root, "//p11:all", 1)
	if len(want.Actions) < 12*8 {
		t.Fatalf("//p11:all: %d actions, want the %d of its dependencies and its own", len(want.Actions), 12*8)
	}
	for i := range 6 {
		got := analyzeCollecting(t, root, "//p11:all", 2+i%3*3, false, i%2 == 1)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("//p11:all, run %d: parallel analysis differs from the sequential one (-want +got):\n%s", i, diff)
		}
	}
}

// TestParallelAnalysisErrors checks that the errors, and their order, do
// not depend on timing: broken targets in two packages, outputs of two
// packages that collide, and a cycle.
func TestParallelAnalysisErrors(t *testing.T) {
	root := parallelWorkspace(t, 8, map[string]string{
		"p03/bad/BUILD.star": `genrule(name = "b", srcs = ["//p02:c1", "missing.in"], outs = ["b.txt"], cmd = "x")` + "\n",
		"p05/bad/BUILD.star": `load("//defs:defs.star", "chain")
chain(name = "b", deps = ["//p04:c2", ":b2"])
chain(name = "b2", deps = [":b"])
`,
		// bld-out/p06/x is p06's output and p06/x's directory.
		"p06/BUILD.star":   `genrule(name = "xg", outs = ["x"], cmd = "touch $@")` + "\n",
		"p06/x/BUILD.star": `genrule(name = "yg", srcs = ["//p01:all"], outs = ["y"], cmd = "touch $@")` + "\n",
		"p07/BUILD.star": `load(":broken.star", "broken")
broken(name = "b", deps = ["//p06:xg"])
`,
		"p07/broken.star": `def _impl(ctx):
    fail("broken on purpose")
broken = rule(implementation = _impl, attrs = {"deps": attr.label_list()})
`,
	})
	want := analyzeAll(t, root, 1)
	for _, re := range []string{"missing.in", "dependency cycle: //p05/bad:b -> //p05/bad:b2 -> //p05/bad:b", "is a directory of output", "broken on purpose"} {
		found := false
		for _, e := range want.Errors {
			found = found || strings.Contains(e, re)
		}
		if !found {
			t.Errorf("no error mentions %q: %q", re, want.Errors)
		}
	}
	for i := range 8 {
		got := analyzeCollecting(t, root, "//...", 2+i%3, false, i%2 == 1)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: parallel analysis differs from the sequential one (-want +got):\n%s", i, diff)
		}
	}
}

// TestParallelAnalysisCancel checks that a cancelled context ends a
// parallel analysis with the context's error.
func TestParallelAnalysisCancel(t *testing.T) {
	root := parallelWorkspace(t, 6, nil)
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	pattern, _ := label.ParsePattern("//...", "")
	labels, err := loader.Expand(context.Background(), []label.Pattern{pattern})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := analysis.New(loader, analysis.Config{}, nil, nil)
	a.SetWorkers(4)
	a.Prepare(ctx, labels)
	if _, err := a.Analyze(ctx, labels[0]); err != context.Canceled {
		t.Errorf("Analyze after cancel: %v, want %v", err, context.Canceled)
	}
}

// TestFailedTargetKeepsDependencies checks that when a target fails
// (here through a declared output of a target that fails), the actions of
// the dependencies that were analyzed stay in the graph, as bld build -k
// builds them.
func TestFailedTargetKeepsDependencies(t *testing.T) {
	a, err := analyze(t, map[string]string{"p/BUILD.star": `genrule(name = "d", outs = ["d.txt"], cmd = "echo > $@")
genrule(name = "g", srcs = [":d", "nosuch.in"], outs = ["out.txt"], cmd = "x")
genrule(name = "t", srcs = [":out.txt"], outs = ["t.txt"], cmd = "x")
genrule(name = "u", srcs = [":t"], outs = ["u.txt"], cmd = "x")
`}, "//p:u")
	if err == nil || !strings.Contains(err.Error(), "nosuch.in") {
		t.Fatalf("error %v, want one about nosuch.in", err)
	}
	var owners []string
	for _, act := range a.Actions() {
		owners = append(owners, act.Owner)
	}
	if diff := cmp.Diff([]string{"//p:d"}, owners); diff != "" {
		t.Errorf("owners of the actions (-want +got):\n%s", diff)
	}
}

// TestCountProgress checks that Prepare says how far it is through the
// labels it was given: all of them once it returns.
func TestCountProgress(t *testing.T) {
	root := parallelWorkspace(t, 6, nil)
	ctx := context.Background()
	loader, labels := expandIn(t, root, "//...")
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	a.SetWorkers(2)
	var pr heapgoal.Progress
	a.CountProgress(&pr)
	a.Prepare(ctx, labels)
	if done, total := pr.Get(); done != len(labels) || total != len(labels) {
		t.Errorf("progress after Prepare = %d of %d, want %d of %d", done, total, len(labels), len(labels))
	}
}

// TestParallelAnalysisCancelsRunningImplementation checks that the end of
// Prepare's context cancels an implementation that is running (its
// thread is one of the Analyzer's group, watched by one AfterFunc for the
// whole analysis), and that the threads reused after it are not cancelled.
func TestParallelAnalysisCancelsRunningImplementation(t *testing.T) {
	root := parallelWorkspace(t, 2, map[string]string{
		"loop/BUILD.star": `load(":defs.star", "spin")
spin(name = "s")
`,
		"loop/defs.star": `def _impl(ctx):
    n = 0
    for i in range(1 << 40):
        n += i
    return []

spin = rule(implementation = _impl)
`,
	})
	loader, all := expandIn(t, root, "//...")
	spin := label.Label{Pkg: "loop", Name: "s"}
	var others []label.Label
	for _, l := range all {
		if l != spin {
			others = append(others, l)
		}
	}
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	a.SetWorkers(2)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan struct{})
	go func() {
		a.Prepare(ctx, []label.Label{spin, spin})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Prepare still runs a minute after its context was cancelled")
	}
	if _, err := a.Analyze(ctx, spin); err != context.Canceled {
		t.Errorf("Analyze after cancel: %v, want %v", err, context.Canceled)
	}
	// The threads of the cancelled analysis are reused by the next one,
	// whose context is alive: none may be cancelled still.
	a.Prepare(context.Background(), others)
	for _, l := range others {
		if _, err := a.Analyze(context.Background(), l); err != nil {
			t.Fatalf("%s after the cancelled analysis: %v", l, err)
		}
	}
}
