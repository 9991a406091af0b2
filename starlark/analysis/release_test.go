package analysis_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"weak"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// TestReleasingAnalysisIsTheSame checks that an analysis that lets go of
// the loaded targets as it goes gives what one that keeps them gives: the
// same actions in the same order, files and errors, one target at a time
// or in parallel, also when a parallel analysis fails and is redone one
// target at a time (which evaluates the released packages again).
func TestReleasingAnalysisIsTheSame(t *testing.T) {
	for name, root := range map[string]string{
		"good": parallelWorkspace(t, 10, nil),
		"errors": parallelWorkspace(t, 6, map[string]string{
			"p03/bad/BUILD.star": `genrule(name = "b", srcs = ["//p02:c1", "missing.in"], outs = ["b.txt"], cmd = "x")` + "\n",
			// A file named first after //p01 is released (its targets
			// all analyzed by then, one at a time): //p01 is
			// evaluated again.
			"p05/x/BUILD.star": `genrule(name = "x", srcs = ["//p01:extra.in", "//p01:c2.txt"], outs = ["x.txt"], cmd = "x")` + "\n",
			"p01/extra.in":     "x",
		}),
	} {
		for _, pat := range []string{"//...", "//p05:all"} {
			want := analyzePattern(t, root, pat, 1)
			if len(want.Actions) == 0 {
				t.Fatalf("%s %s: no actions", name, pat)
			}
			if name == "errors" && pat == "//..." && len(want.Errors) == 0 {
				t.Fatalf("%s %s: no errors; the test lost its point", name, pat)
			}
			for _, workers := range []int{1, 2, 3, 5} {
				for _, collect := range []bool{false, true} {
					got := analyzeCollecting(t, root, pat, workers, true, collect)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s %s, %d workers, collecting as it goes %v: the releasing analysis differs (-keeping +releasing):\n%s", name, pat, workers, collect, diff)
					}
				}
			}
		}
	}
}

// TestReleasedTargetsAreCollected checks that what an analysis lets go of
// can be collected while the analysis is still alive: the attribute values
// of the targets analyzed, and the packages all of whose targets were
// analyzed, but not a package that has targets left to analyze; and that
// an analysis that keeps them keeps them.
func TestReleasedTargetsAreCollected(t *testing.T) {
	// //p03:all depends on every other target of //p03 and on the
	// chains of //p00, //p01 and //p02, not on their all.
	root := parallelWorkspace(t, 4, nil)
	for _, release := range []bool{false, true} {
		ctx := context.Background()
		loader, labels := expandIn(t, root, "//p03:all")
		// The weak pointers are made in a function of their own, so
		// that nothing of this one keeps the package or a value alive.
		p02, srcs02 := weakPackage(t, loader, "p02", "c0_gen")
		p03, srcs03 := weakPackage(t, loader, "p03", "c1_gen")
		a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
		a.SetWorkers(3)
		if release {
			a.ReleasePackages(nil)
		}
		a.Prepare(ctx, labels)
		if _, err := a.Analyze(ctx, labels[0]); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		got := map[string]bool{
			"//p02 reachable":         p02.Value() != nil,
			"//p02:c0_gen srcs":       srcs02.Value() != nil,
			"//p03 reachable":         p03.Value() != nil,
			"//p03:c1_gen srcs":       srcs03.Value() != nil,
			"//p03 in LoadedPackages": slices.Contains(loader.LoadedPackages(), "p03"),
		}
		want := map[string]bool{
			"//p02 reachable":         true, // //p02:all is not analyzed
			"//p02:c0_gen srcs":       !release,
			"//p03 reachable":         !release,
			"//p03:c1_gen srcs":       !release,
			"//p03 in LoadedPackages": true,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("release %v: what is reachable after the analysis (-want +got):\n%s", release, diff)
		}
		if n := len(a.Actions()); n != 4*8+1 {
			t.Errorf("release %v: %d actions, want %d", release, n, 4*8+1)
		}
		runtime.KeepAlive(a)
		runtime.KeepAlive(loader)
	}
}

// weakPackage loads package pkg and returns weak pointers to it and to
// the srcs attribute's list of its target name.
func weakPackage(t *testing.T, loader *loading.Loader, pkg, name string) (weak.Pointer[loading.Package], weak.Pointer[starlark.List]) {
	t.Helper()
	p, err := loader.LoadPackage(context.Background(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	tg := p.Targets[name]
	if tg == nil {
		t.Fatalf("//%s:%s: no such target", pkg, name)
	}
	srcs, ok := tg.Attr("srcs").(*starlark.List)
	if !ok || srcs.Len() == 0 {
		t.Fatalf("//%s:%s: srcs is %v, want a list", pkg, name, tg.Attr("srcs"))
	}
	return weak.Make(p), weak.Make(srcs)
}

// TestAnalysisCollectedAtOnce checks that once an Analyzer is dropped,
// the first collection frees it and what it analyzed: nothing the runtime
// keeps through a collection (a sync.Pool's values) refers to it. (bld
// collects once at the analysis' end; with the implementations' threads
// in a sync.Pool, a thread's stack kept the whole analysis through it.)
func TestAnalysisCollectedAtOnce(t *testing.T) {
	root := parallelWorkspace(t, 4, nil)
	for _, workers := range []int{1, 3} {
		loader, labels := expandIn(t, root, "//...")
		wa, wc := analyzeWeakly(t, loader, labels, workers)
		runtime.GC()
		if wa.Value() != nil || wc.Value() != nil {
			t.Errorf("%d workers: after one collection, the Analyzer is reachable: %v, a result: %v", workers, wa.Value() != nil, wc.Value() != nil)
		}
		runtime.KeepAlive(loader)
	}
}

// analyzeWeakly analyzes labels with loader and returns weak pointers to
// the Analyzer and to the first label's result, in a function of its own
// so that nothing of the caller keeps them alive.
func analyzeWeakly(t *testing.T, loader *loading.Loader, labels []label.Label, workers int) (weak.Pointer[analysis.Analyzer], weak.Pointer[analysis.Configured]) {
	t.Helper()
	ctx := context.Background()
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	a.SetWorkers(workers)
	a.PrepareCollect(ctx, labels, analysis.Collector{Root: func(int, *analysis.Configured) {}})
	var first *analysis.Configured
	for i, l := range labels {
		c, err := a.Analyze(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c
		}
	}
	if len(a.Actions()) == 0 {
		t.Fatal("no actions")
	}
	return weak.Make(a), weak.Make(first)
}
