package main

import (
	"strings"
	"testing"
)

// With -k, every analysis error is reported, each with its position, and
// the targets that analyzed are built; bld exits 1 at the end. Without -k
// the first analysis error stops the build before anything runs.
func TestKeepGoingAnalysisErrors(t *testing.T) {
	files := map[string]string{
		"p/defs.star": `def _broken_impl(ctx):
    fail("broken on purpose")

broken = rule(implementation = _broken_impl, attrs = {})
`,
		"p/BUILD.star": `load(":defs.star", "broken")

genrule(name = "bad1", srcs = ["missing.c"], outs = ["bad1.txt"], cmd = "cp $< $@")
broken(name = "bad2")
genrule(name = "good", outs = ["good.txt"], cmd = "echo good > $@")
genrule(name = "after_bad1", srcs = [":bad1"], outs = ["after.txt"], cmd = "cp $< $@")
`,
	}
	errBad1 := `bld: error: p/BUILD.star:3:8: genrule //p:bad1 depends on //p:missing.c: no target or file //p:missing.c`
	errBad2 := "bld: error: analyzing //p:bad2 (broken, declared at p/BUILD.star:4:7):"

	w := newWorkspace(t, files)
	r := w.bld("build", "-k", "//p:all")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%s", exitFailed, r)
	}
	wantContains(t, r.stderr, errBad1, errBad2, "p/defs.star:2:9: in _broken_impl", "Error in fail: broken on purpose",
		"bld: build failed: 2 analysis error(s), reported above; -k built the rest")
	if n := strings.Count(r.stderr, "//p:missing.c: no target or file"); n != 1 {
		t.Errorf("the error of //p:bad1 (also the error of //p:after_bad1) is reported %d times, want once:\n%s", n, r)
	}
	if got := w.read("bld-out/p/good.txt"); got != "good\n" {
		t.Errorf("good.txt = %q, want %q", got, "good\n")
	}

	// The errors are reported again by the next build, not hidden by the
	// analysis snapshot.
	if r := w.bld("build", "-k", "//p:all"); r.code != exitFailed || !strings.Contains(r.stderr, errBad1) || !strings.Contains(r.stderr, errBad2) {
		t.Errorf("second build: want exit %d and both errors again:\n%s", exitFailed, r)
	}

	w = newWorkspace(t, files)
	r = w.bld("build", "//p:all")
	if r.code != exitFailed {
		t.Fatalf("without -k: want exit %d:\n%s", exitFailed, r)
	}
	if strings.Count(r.stderr, "bld: error:") != 1 {
		t.Errorf("without -k: want one error:\n%s", r)
	}
	if w.exists("bld-out/p/good.txt") {
		t.Errorf("without -k, an analysis error still let //p:good build:\n%s", r)
	}
}

// With -k, a BUILD.star that does not load, named by the patterns, is
// reported and the rest is built.
func TestKeepGoingBrokenPackage(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"good/BUILD.star":   `genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")` + "\n",
		"broken/BUILD.star": "genrule(name = \"b\", outs = [\"b.txt\"], cmd = \n",
	})
	r := w.bld("build", "-k", "//...")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%s", exitFailed, r)
	}
	wantContains(t, r.stderr, "broken/BUILD.star:", "1 analysis error")
	if !w.exists("bld-out/good/g.txt") {
		t.Errorf("-k did not build the package that loads:\n%s", r)
	}
	r = w.bld("build", "-k", "//broken:b", "//good:g", "//good:nope")
	if r.code != exitFailed || strings.Count(r.stderr, "bld: error:") < 2 {
		t.Errorf("-k with a broken package and an unknown target: want both reported, exit 1:\n%s", r)
	}
	r = w.bld("build", "//...")
	if r.code != exitFailed || strings.Count(r.stderr, "bld: error:") != 1 {
		t.Errorf("without -k: want one error, exit 1:\n%s", r)
	}
}
