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

// TestSandboxProcIsPrivate: under --sandbox=namespace, a command's /proc
// shows its own pid namespace only, so no /proc/<pid>/cwd, root or environ
// of bld, of the sandbox's zygote or of another action running meanwhile
// leads to the workspace's undeclared files or to another action's inputs;
// /proc/self still works.
func TestSandboxProcIsPrivate(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"secret.txt": "SECRET-WORKSPACE\n",
		"other.txt":  "SECRET-OTHER-INPUT\n",
	})
	probe := `for p in /proc/[0-9]* /proc/[0-9]*/task/[0-9]*; do for f in cwd/secret.txt root` + w.path("") + `/secret.txt root` + w.path("") + `/other.txt cwd/other.txt environ; do cat $$p/$$f 2>/dev/null || true; done; done; readlink /proc/self/exe; ls /proc/self/fd | head -1`
	w.write("BUILD.star", `genrule(name = "other", srcs = ["other.txt"], outs = ["other.out"], cmd = "sleep 1.5; cat other.txt > $@")
genrule(name = "probe", outs = ["probe.txt"], cmd = "sleep 0.5; (`+strings.ReplaceAll(probe, `"`, `\"`)+`) > $@")
`)
	w.env = append(w.env, "BLD_TEST_ENV_MARK=SECRET-ENVIRON")
	r := w.bld("build", "-j", "2", "--sandbox=namespace", "//:other", "//:probe")
	if r.code == exitUsage {
		t.Skipf("no namespace sandbox here:\n%s", r)
	}
	if r.code != 0 {
		t.Fatalf("build failed:\n%s", r)
	}
	got := w.read("bld-out/probe.txt")
	if strings.Contains(got, "SECRET") {
		t.Errorf("the command read through /proc what it does not declare:\n%s", got)
	}
	if !strings.Contains(got, "/readlink\n0\n") {
		t.Errorf("/proc/self/exe or /proc/self/fd does not work:\n%s", got)
	}
}
