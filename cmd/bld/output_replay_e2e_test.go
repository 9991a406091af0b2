package main

import (
	"strings"
	"testing"
)

// What an action printed is shown again when its result is restored from
// the cache (after bld clean), and not on a no-op.
func TestOutputReplayedFromCache(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo 'g.c:1: warning: unused x' >&2; echo ok > $@")` + "\n",
	})
	const warning = "g.c:1: warning: unused x"
	r := w.mustBuild("build", "//:g")
	if strings.Count(r.stderr, warning) != 1 {
		t.Fatalf("first build: want the warning once:\n%s", r)
	}
	r = w.mustBuild("build", "//:g")
	if strings.Contains(r.stderr, warning) {
		t.Errorf("no-op build repeated the warning:\n%s", r)
	}
	w.mustBuild("clean")
	r = w.mustBuild("build", "//:g")
	wantContains(t, r.stderr, "bld: 1 action: 0 ran, 1 restored, 0 up to date")
	if strings.Count(r.stderr, warning) != 1 {
		t.Errorf("build restored from the cache: want the warning once:\n%s", r)
	}
}
