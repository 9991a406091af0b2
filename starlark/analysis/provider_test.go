package analysis_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDefaultInfoOfEveryKind checks what a dependent sees of the
// DefaultInfo of each kind of target: a source file, a declared output, a
// genrule, a rule that returns no DefaultInfo, one that returns it with a
// depset of transitive files, an executable one, and one whose executable
// is None. Most of them are not kept but made again when asked for
// (Configured.Provider); what the dependent sees must not say which.
func TestDefaultInfoOfEveryKind(t *testing.T) {
	files := map[string]string{
		"p/src.txt": "s",
		"p/defs.star": `def _none(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(output = out, content = "x")
none = rule(implementation = _none)
def _trans(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(output = out, content = "x")
    return [DefaultInfo(files = depset([out], transitive = [ctx.attr.dep[DefaultInfo].files]))]
trans = rule(implementation = _trans, attrs = {"dep": attr.label()})
def _exe(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(output = out, content = "x", is_executable = True)
    return [DefaultInfo(files = [out], executable = out)]
exe = rule(implementation = _exe, executable = True)
def _nonexe(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(output = out, content = "x")
    return [DefaultInfo(files = [out], executable = None)]
nonexe = rule(implementation = _nonexe)
def _show(ctx):
    lines = []
    for d in ctx.attr.deps:
        di = d[DefaultInfo]
        lines.append("%s: in=%s files=%s exe=%s str=%s" % (d.label, DefaultInfo in d, [f.path for f in di.files.to_list()], di.executable, di))
    ctx.actions.write(output = ctx.outputs.out, content = "\n".join(lines))
show = rule(implementation = _show, attrs = {"deps": attr.label_list(), "out": attr.output()})
`,
		"p/BUILD.star": `load(":defs.star", "exe", "none", "nonexe", "show", "trans")
genrule(name = "gen", outs = ["gen.txt"], cmd = "echo > $@")
none(name = "none")
trans(name = "trans", dep = ":gen")
exe(name = "exe")
nonexe(name = "nonexe")
show(name = "show", out = "show.txt", deps = ["src.txt", "gen.txt", ":gen", ":none", ":trans", ":exe", ":nonexe"])
`,
	}
	a, err := analyze(t, files, "//p:show")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(action(t, a, "//p:show", "FileWrite").Content()), "\n")
	want := []string{
		`//p:src.txt: in=True files=["p/src.txt"] exe=None str=DefaultInfo(files = depset([<source file p/src.txt>]))`,
		`//p:gen.txt: in=True files=["bld-out/p/gen.txt"] exe=None str=DefaultInfo(files = depset([<generated file bld-out/p/gen.txt>]))`,
		`//p:gen: in=True files=["bld-out/p/gen.txt"] exe=None str=DefaultInfo(files = depset([<generated file bld-out/p/gen.txt>]))`,
		`//p:none: in=True files=["bld-out/p/none.out"] exe=None str=DefaultInfo(files = depset([<generated file bld-out/p/none.out>]))`,
		`//p:trans: in=True files=["bld-out/p/gen.txt", "bld-out/p/trans.out"] exe=None str=DefaultInfo(files = depset([<generated file bld-out/p/gen.txt>, <generated file bld-out/p/trans.out>]))`,
		`//p:exe: in=True files=["bld-out/p/exe.sh"] exe=<generated file bld-out/p/exe.sh> str=DefaultInfo(executable = <generated file bld-out/p/exe.sh>, files = depset([<generated file bld-out/p/exe.sh>]))`,
		`//p:nonexe: in=True files=["bld-out/p/nonexe.out"] exe=None str=DefaultInfo(executable = None, files = depset([<generated file bld-out/p/nonexe.out>]))`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what //p:show sees of its dependencies' DefaultInfo (-want +got):\n%s", diff)
	}
}
