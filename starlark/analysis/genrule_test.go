package analysis

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bld/exec/graph"
	"bld/rules"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// genruleRun is what an analysis of some targets gives: each target's
// result (or error) and the actions.
type genruleRun struct {
	Results []string
	Actions []*graph.Action
	native  int64 // genrules the Go implementation analyzed
}

// analyzeGenrules analyzes targets in a workspace of files, with the Go
// genrule or (starlarkGenrule) rules/genrule.star's implementation.
func analyzeGenrules(t *testing.T, files map[string]string, cfg Config, targets []string, starlarkGenrule bool) genruleRun {
	t.Helper()
	root := t.TempDir()
	files["WORKSPACE.star"] = ""
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	a := New(loader, cfg, []string{"PATH=/usr/bin:/bin"}, nil)
	a.starlarkGenrule = starlarkGenrule
	var run genruleRun
	for _, s := range targets {
		l, err := label.Parse(s, "", "")
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.Analyze(context.Background(), l)
		if err != nil {
			run.Results = append(run.Results, s+": error: "+strings.ReplaceAll(err.Error(), root, "ROOT"))
			continue
		}
		var paths []string
		for _, f := range c.Files {
			paths = append(paths, f.Path)
		}
		di, _ := c.Provider(loading.DefaultInfo)
		run.Results = append(run.Results, s+": files "+strings.Join(paths, " ")+"; "+di.String()+"; providers "+strings.Join(c.providerNames(), ","))
	}
	run.Actions = a.Actions()
	run.native = a.nativeGenrules.Load()
	return run
}

// TestNativeGenruleIsTheStarlarkOne checks that the Go genrule gives what
// rules/genrule.star's implementation gives: the same actions, results and
// errors, over every feature of genrule.
func TestNativeGenruleIsTheStarlarkOne(t *testing.T) {
	files := map[string]string{
		"BUILD.star": `genrule(name = "top", srcs = ["r.txt"], outs = ["top.txt"], cmd = "cp $< $@ # $(RULEDIR) $(@D)")
`,
		"r.txt": "", "p/a.txt": "", "p/b.txt": "", "p/a b.txt": "", "p/tool.sh": "", "p/sub/c.txt": "",
		"p/BUILD.star": `
genrule(name = "one", srcs = ["a.txt"], outs = ["one.txt"], cmd = "cat $< > $@")
genrule(name = "none", outs = ["none.txt"], cmd = "echo hi > $@; echo $$HOME $(COMPILATION_MODE) $(FOO)")
filegroup(name = "fg", srcs = ["a.txt", "sub/c.txt"])
genrule(
    name = "many",
    srcs = ["a.txt", ":one", ":fg", "a b.txt", "//:top"],
    outs = ["m1.txt", "sub/m2.txt"],
    tools = ["tool.sh", ":one"],
    cmd = "$(location tool.sh) $(SRCS) -o $(OUTS) -d $(@D) -r $(RULEDIR) $(locations :fg) $(execpath :one) $(rootpath a.txt) $(location sub/m2.txt)",
    message = "Making %{label} into %{output}",
    jobserver = True,
    tags = ["no-cache", "local", "other"],
)
genrule(name = "fifo", srcs = [":many"], outs = ["fifo.txt"], cmd = "ninja > $@", jobserver = "fifo")
genrule(name = "pipe", srcs = ["a.txt", ":fg"], outs = ["pipe.txt"], cmd = "x > $@", jobserver = "pipe",
        exec_properties = {"OSFamily": "Linux"})
genrule(name = "sel", srcs = ["a.txt"], outs = ["sel.txt"], cmd = select({"//conditions:default": "cat $< > $@"}))
genrule(name = "undef", outs = ["undef.txt"], cmd = "echo $(NOPE) > $@")
genrule(name = "lone", outs = ["lone.txt"], cmd = "echo $")
genrule(name = "badloc", outs = ["badloc.txt"], cmd = "cat $(location b.txt) > $@")
genrule(name = "twoloc", srcs = [":fg"], outs = ["twoloc.txt"], cmd = "cat $(location :fg) > $@")
genrule(name = "lt", srcs = ["a.txt", "b.txt"], outs = ["lt.txt"], cmd = "cat $< > $@")
genrule(name = "at", outs = ["at1.txt", "at2.txt"], cmd = "touch $@")
genrule(name = "dir", outs = ["one.txt/x"], cmd = "true")
`,
		"e/BUILD.star": `genrule(name = "empty", outs = [], cmd = "true")
`,
		"q/BUILD.star": `
load(":r.star", "show")
genrule(name = "g", srcs = ["//p:many"], outs = ["g.txt"], cmd = "cat $(SRCS) > $@")
show(name = "s", dep = ":g")
`,
		"q/r.star": `
def _show(ctx):
    d = ctx.attr.dep[DefaultInfo]
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(out, " ".join([f.path for f in d.files.to_list()]) + " " + str(d))
    return [DefaultInfo(files = depset([out]))]
show = rule(implementation = _show, attrs = {"dep": attr.label()})
`,
	}
	targets := []string{"//:top", "//p:one", "//p:none", "//p:many", "//p:fifo", "//p:pipe", "//p:sel", "//p:undef", "//p:lone",
		"//p:badloc", "//p:twoloc", "//p:lt", "//p:at", "//e:empty", "//p:dir", "//q:s"}
	cfg := Config{Defines: []string{"FOO=bar baz", "X=1"}, CompilationMode: "opt"}
	copyFiles := func() map[string]string {
		m := map[string]string{}
		for k, v := range files {
			m[k] = v
		}
		return m
	}
	want := analyzeGenrules(t, copyFiles(), cfg, targets, true)
	got := analyzeGenrules(t, copyFiles(), cfg, targets, false)
	if want.native != 0 || got.native != 8 {
		t.Errorf("the Go genrule analyzed %d and %d genrules, want 0 (Starlark) and 8 (the others fall back or are not genrules)", want.native, got.native)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(genruleRun{}), cmpopts.IgnoreFields(genruleRun{}, "native")); diff != "" {
		t.Errorf("the Go genrule differs from rules/genrule.star's (-starlark +go):\n%s", diff)
	}
	// The comparison must have compared something: actions, and the
	// errors of the failing cases.
	if len(got.Actions) < 9 {
		t.Errorf("%d actions, want at least 9", len(got.Actions))
	}
	errs := 0
	for _, r := range got.Results {
		if strings.Contains(r, ": error: ") {
			errs++
		}
	}
	if errs < 6 {
		t.Errorf("%d errors, want at least 6 (undef, lone, badloc, twoloc, empty, dir):\n%s", errs, strings.Join(got.Results, "\n"))
	}
	t.Logf("%s", strings.Join(got.Results, "\n"))
}
