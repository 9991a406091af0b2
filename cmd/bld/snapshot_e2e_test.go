package main

import (
	"os"
	"strings"
	"testing"
)

// A build reuses the previous analysis only while nothing it read has
// changed: each edit below must show in the next build's outputs.
func TestAnalysisSnapshotFollowsEdits(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"defs.star": `def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.run_shell(outputs = [out], command = "echo " + ctx.attr.word + " \"$V\" > " + out.path,
                          env_inherit = ["V"])
    return [DefaultInfo(files = [out])]
say = rule(implementation = _impl, attrs = {"word": attr.string()})
`,
		"p/BUILD.star": `load("//defs.star", "say")
say(name = "s", word = "one")
genrule(name = "cat", srcs = glob(["*.in"]), outs = ["cat.txt"], cmd = "cat $(SRCS) > $@")
`,
		"p/a.in": "a\n",
	})
	build := func(wantRan string) {
		t.Helper()
		r := w.mustBuild("build", "//...")
		wantContains(t, r.stderr, wantRan)
	}
	build("2 ran")
	build("nothing to do")
	if got := w.read("bld-out/p/s.txt"); got != "one \n" {
		t.Fatalf("s.txt = %q", got)
	}

	// A glob matches a new file.
	w.write("p/b.in", "b\n")
	build("1 ran")
	if got := w.read("bld-out/p/cat.txt"); got != "a\nb\n" {
		t.Errorf("after adding p/b.in, cat.txt = %q, want the new file too", got)
	}

	// A loaded .star file changes.
	w.write("defs.star", strings.Replace(w.read("defs.star"), `"echo "`, `"echo rule2 "`, 1))
	build("1 ran")
	if got := w.read("bld-out/p/s.txt"); got != "rule2 one \n" {
		t.Errorf("after editing defs.star, s.txt = %q", got)
	}

	// A BUILD.star changes.
	w.write("p/BUILD.star", strings.Replace(w.read("p/BUILD.star"), `word = "one"`, `word = "two"`, 1))
	build("1 ran")
	if got := w.read("bld-out/p/s.txt"); got != "rule2 two \n" {
		t.Errorf("after editing p/BUILD.star, s.txt = %q", got)
	}

	// An inherited environment variable changes.
	w.env = append(w.env, "V=vee")
	build("1 ran")
	if got := w.read("bld-out/p/s.txt"); got != "rule2 two vee\n" {
		t.Errorf("after setting $V, s.txt = %q", got)
	}

	// A new package appears under //...
	w.write("q/BUILD.star", `genrule(name = "q", outs = ["q.txt"], cmd = "echo q > $@")`+"\n")
	build("1 ran")
	if !w.exists("bld-out/q/q.txt") {
		t.Error("the new package //q was not built by //...")
	}

	// A source file a label names disappears: an error, not a stale success.
	w.write("p/BUILD.star", w.read("p/BUILD.star")+`genrule(name = "one", srcs = ["only.src"], outs = ["one.txt"], cmd = "cp $< $@")`+"\n")
	w.write("p/only.src", "x\n")
	build("1 ran")
	if err := os.Remove(w.path("p/only.src")); err != nil {
		t.Fatal(err)
	}
	r := w.bld("build", "//...")
	if r.code == 0 {
		t.Fatalf("a build after deleting p/only.src succeeded:\n%s", r)
	}
	wantContains(t, r.stderr, "only.src")
}
