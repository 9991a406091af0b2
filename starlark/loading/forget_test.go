package loading_test

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"

	"bld/starlark/loading"
)

// TestForgetReleasesPackages checks that after Forget nothing of the
// loader keeps a package it loaded (bld forgets them when analysis is
// over, so that execution's peak memory is not analysis'), and that a
// package still in use stays.
func TestForgetReleasesPackages(t *testing.T) {
	l := newLoader(t, map[string]string{
		"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")`,
		"q/BUILD.star": `genrule(name = "h", outs = ["h.txt"], cmd = "echo > $@")`,
	})
	ctx := context.Background()
	p, err := l.LoadPackage(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	q, err := l.LoadPackage(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	wp, wq := weak.Make(p), weak.Make(q)
	wt := weak.Make(p.Targets["g"])
	p = nil
	runtime.GC()
	if wp.Value() == nil {
		t.Fatal("package p was collected before Forget: the loader must keep it")
	}
	l.Forget()
	runtime.GC()
	for _, tt := range []struct {
		what     string
		released bool
		want     bool
	}{
		{"package p, forgotten and unused", wp.Value() == nil, true},
		{"target //p:g", wt.Value() == nil, true},
		{"package q, forgotten but still used", wq.Value() == nil, false},
	} {
		if tt.released != tt.want {
			t.Errorf("%s: released = %v, want %v", tt.what, tt.released, tt.want)
		}
	}
	runtime.KeepAlive(q)
}

// TestReleasePackage checks that Release lets go of one package, which
// LoadedPackages still lists and LoadPackage evaluates again, the same;
// that it leaves the others; and that ReleaseAttrs lets go of a target's
// attribute values but not of the rest of it.
func TestReleasePackage(t *testing.T) {
	l := newLoader(t, map[string]string{
		"p/BUILD.star": `genrule(name = "g", srcs = ["a.in"], outs = ["g.txt"], cmd = "echo > $@")`,
		"p/a.in":       "a",
		"q/BUILD.star": `genrule(name = "g", srcs = ["b.in"], outs = ["h.txt"], cmd = "echo > $@")`,
		"q/b.in":       "b",
		"r/BUILD.star": `genrule(name = "i", outs = ["i.txt"], cmd = "echo > $@")`,
	})
	ctx := context.Background()
	weakOf := func(pkg string) (weak.Pointer[loading.Package], weak.Pointer[starlark.List]) {
		p, err := l.LoadPackage(ctx, pkg)
		if err != nil {
			t.Fatal(err)
		}
		srcs, ok := p.Targets["g"].Attr("srcs").(*starlark.List)
		if !ok {
			t.Fatalf("//%s:g: srcs is no list", pkg)
		}
		return weak.Make(p), weak.Make(srcs)
	}
	wp, wsrcs := weakOf("p")
	wq, wqsrcs := weakOf("q")
	l.Release("p")
	l.Release("nosuch") // not loaded: nothing to do
	runtime.GC()
	if wp.Value() != nil || wsrcs.Value() != nil {
		t.Errorf("package p is reachable after Release")
	}
	if wq.Value() == nil || wqsrcs.Value() == nil {
		t.Errorf("package q was collected: only p was released")
	}
	if diff := cmp.Diff([]string{"p", "q"}, l.LoadedPackages()); diff != "" {
		t.Errorf("LoadedPackages after Release (-want +got):\n%s", diff)
	}
	p, err := l.LoadPackage(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	g := p.Targets["g"]
	if g == nil || len(loading.LabelsOf(g.Attr("srcs"))) != 1 {
		t.Fatalf("package p evaluated again: target g is %v", g)
	}
	r, err := l.LoadPackage(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	i := r.Targets["i"]
	i.ReleaseAttrs()
	if i.Attr("outs") != nil || len(i.Deps()) != 0 {
		t.Errorf("after ReleaseAttrs: outs %v, deps %v; want none", i.Attr("outs"), i.Deps())
	}
	if i.Label.String() != "//r:i" || i.Rule.Name() != "genrule" {
		t.Errorf("after ReleaseAttrs: %s of rule %s, want //r:i of genrule", i.Label, i.Rule.Name())
	}
	runtime.KeepAlive(wq)
}
