package loading_test

import (
	"context"
	"runtime"
	"testing"
	"weak"
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
