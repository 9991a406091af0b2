package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// After an edit to some packages, bld analyzes again only their targets and
// those that depend on them (the trace's analysis phase says how many
// packages it loaded and how many labels it analyzed), and the build's
// outputs are those of a complete analysis.
func TestIncrementalAnalysis(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/defs.star": `def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, ctx.attr.word + "\n")
    return [DefaultInfo(files = [out])]
say = rule(implementation = _impl, attrs = {"word": attr.string()})
`,
		"a/BUILD.star": `load("//lib/defs.star", "say")
say(name = "a", word = "alpha")
`,
		"b/BUILD.star": `load("//lib/defs.star", "say")
say(name = "b", word = "beta")
genrule(name = "b2", srcs = ["//a:a"], outs = ["b2.txt"], cmd = "cat $< > $@")
`,
		"c/BUILD.star": `genrule(name = "c", srcs = ["//b:b", "//b:b2"], outs = ["c.txt"], cmd = "cat $(SRCS) > $@")
`,
		"d/BUILD.star": `genrule(name = "d", outs = ["d.txt"], cmd = "echo d > $@")
`,
	})
	w.write("out/", "")
	// Analysis in parallel (Prepare's workers are GOMAXPROCS), whatever
	// the machine: the index that the complete analysis saves must still
	// let the next builds be incremental.
	w.env = append(w.env, "GOMAXPROCS=4")
	build := func(wantRan, wantPhase string) {
		t.Helper()
		r := w.mustBuild("build", "--trace", "out/trace.json", "//...")
		wantContains(t, r.stderr, wantRan)
		var doc struct {
			TraceEvents []struct{ Name, Cat string } `json:"traceEvents"`
		}
		if err := json.Unmarshal([]byte(w.read("out/trace.json")), &doc); err != nil {
			t.Fatalf("trace is not JSON: %v", err)
		}
		var phases []string
		for _, e := range doc.TraceEvents {
			if e.Cat == "phase" && (strings.HasPrefix(e.Name, "analysis") || e.Name == "loading") {
				phases = append(phases, e.Name)
			}
		}
		if got := strings.Join(phases, ", "); got != wantPhase {
			t.Errorf("analysis phases %q, want %q", got, wantPhase)
		}
	}
	wantFile := func(rel, want string) {
		t.Helper()
		if got := w.read(rel); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	build("5 ran", "loading, analysis")
	build("nothing to do", "analysis snapshot")

	// A comment in a package nothing depends on.
	w.write("d/BUILD.star", w.read("d/BUILD.star")+"# a comment\n")
	build("nothing to do", "analysis (incremental: 1 of 4 packages, 1 of 5 labels)")

	// A command changes in a package another depends on.
	w.write("b/BUILD.star", strings.Replace(w.read("b/BUILD.star"), "cat $< > $@", "(echo from-a; cat $<) > $@", 1))
	build("2 ran", "analysis (incremental: 2 of 4 packages, 3 of 5 labels)")
	wantFile("bld-out/c/c.txt", "beta\nfrom-a\nalpha\n")

	// The .star file that a and b load changes.
	w.write("lib/defs.star", strings.Replace(w.read("lib/defs.star"), `ctx.attr.word + "\n"`, `ctx.attr.word.upper() + "\n"`, 1))
	build("4 ran", "analysis (incremental: 3 of 4 packages, 4 of 5 labels)")
	wantFile("bld-out/c/c.txt", "BETA\nfrom-a\nALPHA\n")

	// a and b are declarative BUILD files (loads, then calls of rules),
	// which bld reads without Starlark: the rule they load loses the
	// attribute they set, and both are evaluated again, as the error
	// says; once the rule is back, so is the build.
	defs := w.read("lib/defs.star")
	w.write("lib/defs.star", strings.Replace(defs, `attrs = {"word": attr.string()}`, `attrs = {"text": attr.string()}`, 1))
	if r := w.bld("build", "//..."); r.code == 0 || !strings.Contains(r.stderr, "a/BUILD.star:2:4") {
		t.Errorf("a rule without the attribute its callers set: want an error naming a/BUILD.star:2:4, got %s", r)
	}
	w.write("lib/defs.star", defs)
	build("nothing to do", "analysis snapshot")

	// A target is added, and c depends on it.
	w.write("a/BUILD.star", w.read("a/BUILD.star")+`say(name = "a2", word = "again")`+"\n")
	w.write("c/BUILD.star", strings.Replace(w.read("c/BUILD.star"), `"//b:b2"]`, `"//b:b2", "//a:a2"]`, 1))
	build("2 ran", "analysis (incremental: 3 of 4 packages, 3 of 5 labels)")
	wantFile("bld-out/c/c.txt", "BETA\nfrom-a\nALPHA\nAGAIN\n")

	// A package is deleted, then one is added: the packages under //...
	// changed, so everything is analyzed again.
	if err := os.Remove(w.path("d/BUILD.star")); err != nil {
		t.Fatal(err)
	}
	build("nothing to do", "loading, analysis")
	w.write("e/BUILD.star", `genrule(name = "e", srcs = ["//c:c"], outs = ["e.txt"], cmd = "wc -l < $< > $@")`+"\n")
	build("1 ran", "loading, analysis")
	wantFile("bld-out/e/e.txt", "4\n")

	// An edit that breaks the analysis is reported as by a complete one;
	// once fixed, the build goes on from the last good snapshot.
	w.write("a/BUILD.star", w.read("a/BUILD.star")+`say(name = "bad", word = 1)`+"\n")
	if r := w.bld("build", "//..."); r.code == 0 || !strings.Contains(r.stderr, "a/BUILD.star:4") {
		t.Errorf("a broken package: want an error naming a/BUILD.star:4, got %s", r)
	}
	w.write("a/BUILD.star", strings.Replace(w.read("a/BUILD.star"), "word = 1)", `word = "one")`, 1))
	build("1 ran", "analysis (incremental: 4 of 4 packages, 5 of 6 labels)")
	wantFile("bld-out/a/bad.txt", "ONE\n")
}
