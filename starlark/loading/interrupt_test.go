package loading_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"bld/starlark/label"
)

// TestInterruptedLoadIsNotRemembered checks that a package or module whose
// evaluation its caller's context cut short is evaluated again by the next
// caller, not reported as interrupted to it: an analysis that fails in
// parallel cancels its workers and is redone one target at a time, which
// must see the real error, not the cancellation.
func TestInterruptedLoadIsNotRemembered(t *testing.T) {
	// defs.star is slow to evaluate, so that a cancelled context
	// interrupts it (the cancellation reaches a running thread from
	// another goroutine: a quick evaluation may finish first).
	l := newLoader(t, map[string]string{
		"p/BUILD.star": `load("//p:defs.star", "n")` + "\n" +
			`genrule(name = "g", outs = ["g.txt"], cmd = "echo %d > $@" % n)` + "\n",
		"p/defs.star": slowStar + "n = slow()\n",
	})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.LoadPackage(cancelled, "p"); err == nil {
		t.Fatal("package p loaded under a cancelled context: the test lost its point")
	}
	p, err := l.LoadPackage(context.Background(), "p")
	if err != nil {
		t.Fatalf("package p after an interrupted load: %v", err)
	}
	if p.Targets["g"] == nil {
		t.Errorf("package p has no target g: %v", p.Targets)
	}
	defs := label.Label{Pkg: "p", Name: "defs.star"}
	l.Forget()
	if _, err := l.LoadModule(cancelled, defs); err == nil {
		t.Fatal("module loaded under a cancelled context: the test lost its point")
	}
	if g, err := l.LoadModule(context.Background(), defs); err != nil || g["n"] == nil {
		t.Fatalf("module after an interrupted load: %v, %v", g, err)
	}
}

// slowStar defines slow(), a function that takes a while (~0.1 s).
const slowStar = "def slow():\n    n = 0\n    for i in range(1000000):\n        n += i\n    return n\n"

// TestInterruptedLoadWaiterEvaluatesAgain checks that a caller waiting for
// a package another caller is evaluating gets the package, not the other
// caller's interruption, when only the other caller's context ends.
func TestInterruptedLoadWaiterEvaluatesAgain(t *testing.T) {
	// A package slow to evaluate, so that the second caller finds it
	// being evaluated.
	l := newLoader(t, map[string]string{
		"p/BUILD.star": slowStar +
			`genrule(name = "g", outs = ["g.txt"], cmd = "echo %d > $@" % slow())` + "\n",
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.LoadPackage(ctx, "p")
	}()
	time.Sleep(20 * time.Millisecond)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	p, err := l.LoadPackage(context.Background(), "p")
	wg.Wait()
	if err != nil {
		t.Fatalf("the waiting caller got %v, want the package", err)
	}
	if p.Targets["g"] == nil {
		t.Errorf("package p has no target g: %v", p.Targets)
	}
}
