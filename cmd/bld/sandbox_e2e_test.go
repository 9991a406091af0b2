package main

import (
	"os"
	"strings"
	"testing"
)

// TestSandboxUndeclaredTool runs a genrule whose command runs ./gen.sh: without
// gen.sh among its tools the build fails and says what to declare; with it,
// the build passes. Every sandbox mode that isolates is tried.
func TestSandboxUndeclaredTool(t *testing.T) {
	for _, mode := range []string{"auto", "symlinks"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				"BUILD.star": `genrule(name = "bad", outs = ["bad.txt"], cmd = "./gen.sh > $@")
genrule(name = "good", outs = ["good.txt"], tools = ["gen.sh"], cmd = "./gen.sh > $@")
`,
				"gen.sh": "#!/bin/sh\necho generated\n",
			})
			if err := os.Chmod(w.path("gen.sh"), 0o755); err != nil {
				t.Fatal(err)
			}
			r := w.bld("build", "--sandbox="+mode, "//:bad")
			if r.code != exitFailed {
				t.Fatalf("an undeclared ./gen.sh: want exit %d:\n%s", exitFailed, r)
			}
			wantContains(t, r.stderr, "FAILED: //:bad (Genrule)",
				"bld: gen.sh exists in the workspace but is not an input of this action; declare it (hdrs or srcs of a cc rule, srcs or tools of a genrule, inputs of ctx.actions.run)")
			if n := strings.Count(r.stderr, "exists in the workspace"); n != 1 {
				t.Errorf("the hint appears %d times:\n%s", n, r.stderr)
			}
			w.mustBuild("build", "--sandbox="+mode, "//:good")
			if got := w.read("bld-out/good.txt"); got != "generated\n" {
				t.Errorf("good.txt = %q", got)
			}
		})
	}
	// With the sandbox off, the undeclared tool runs (as before).
	w := newWorkspace(t, map[string]string{
		"BUILD.star": `genrule(name = "bad", outs = ["bad.txt"], cmd = "./gen.sh > $@")` + "\n",
		"gen.sh":     "#!/bin/sh\necho generated\n",
	})
	os.Chmod(w.path("gen.sh"), 0o755)
	w.mustBuild("build", "--sandbox=off", "//:bad")
	if r := w.bld("build", "--sandbox=chroot", "//:bad"); r.code != exitUsage {
		t.Errorf("--sandbox=chroot: want exit %d:\n%s", exitUsage, r)
	}
}
