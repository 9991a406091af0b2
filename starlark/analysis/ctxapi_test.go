package analysis_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// ctxAPIRule is a custom rule that writes what it sees of ctx: the type,
// fields and printed form of ctx.attr, ctx.files, ctx.file,
// ctx.executable and ctx.outputs, and of ctx's built-in functions. What a
// rule sees must not depend on how bld makes these values.
const ctxAPIRule = `
def _impl(ctx):
    lines = []
    for name in ["attr", "files", "file", "executable", "outputs"]:
        s = getattr(ctx, name)
        lines.append("%s: %s %s" % (name, type(s), dir(s)))
        lines.append("  %s" % s)
        lines.append("  eq %s, has nope %s" % (s == getattr(ctx, name), hasattr(s, "nope")))
    for f in [ctx.actions.run, ctx.actions.run_shell, ctx.actions.write, ctx.actions.declare_file,
              ctx.expand_location, ctx.expand_make_variables, ctx.partition]:
        lines.append("%s %s %s %r" % (type(f), f, str(f), f))
    lines.append("hashable %s" % len({ctx.actions.run: 1, ctx.expand_location: 2}))
    lines.append("same %s %s %s" % (ctx.actions.run == ctx.actions.run, ctx.actions.run == ctx.actions.run_shell,
                                    ctx.expand_location == ctx.expand_make_variables))
    lines.append("lists %s %s %s" % (ctx.files.srcs == ctx.files.srcs, ctx.files.none == [], ctx.attr.deps == []))
    lines.append("outs %s" % (ctx.files.outs == ctx.outputs.outs))
    lines.append("with struct() %s %s %s %s" % (struct(name = "x") == ctx.attr, ctx.executable == struct(tool = ctx.file.tool),
                                              struct(tool = ctx.file.tool) == ctx.executable, ctx.executable + struct(n = 1)))
    lines.append("dir ctx %s" % dir(ctx))
    lines.append("dir actions %s" % dir(ctx.actions))
    ctx.actions.write(output = ctx.outputs.out, content = "\n".join(lines) + "\n")
    for f in ctx.outputs.outs:
        ctx.actions.write(output = f, content = "")
    return [DefaultInfo(files = [ctx.outputs.out])]

show = rule(
    implementation = _impl,
    attrs = {
        "srcs": attr.label_list(allow_files = True),
        "deps": attr.label_list(),
        "none": attr.label_list(allow_files = True),
        "tool": attr.label(allow_files = True, executable = True),
        "one": attr.label(allow_files = True),
        "opt": attr.label(allow_files = True),
        "out": attr.output(),
        "outs": attr.output_list(),
        "n": attr.int(default = 3),
        "s": attr.string(),
        "b": attr.bool(),
        "strs": attr.string_list(),
    },
)

def _bad(ctx):
    return ctx.attr.nope

bad = rule(implementation = _bad, attrs = {"s": attr.string()})
`

// TestCtxAPI pins what a custom rule sees of ctx's structs and functions:
// types, dir(), printing, equality, hashing and the error of a missing
// field are those of struct()'s structs (which behave as starlarkstruct's:
// TestSameAsStarlarkstruct), also compared and added with them, and starlark.NewBuiltin's
// functions, whatever ctx makes them from.
func TestCtxAPI(t *testing.T) {
	files := map[string]string{
		"p/show.star": ctxAPIRule,
		"p/a.txt":     "a", "p/b.txt": "b", "p/tool.sh": "#!/bin/sh\n",
		"p/BUILD.star": `load(":show.star", "show", "bad")
show(
    name = "x",
    srcs = ["a.txt", "b.txt"],
    tool = "tool.sh",
    one = "a.txt",
    out = "x.out",
    outs = ["y1.out", "y2.out"],
    s = "str",
    strs = ["u", "v"],
)
bad(name = "bad")
`,
	}
	a, err := analyze(t, files, "//p:x")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, act := range a.Actions() {
		if strings.HasSuffix(act.Outputs[0], "x.out") {
			got = string(act.Content())
		}
	}
	want := `attr: struct ["b", "deps", "n", "name", "none", "one", "opt", "out", "outs", "s", "srcs", "strs", "tool"]
  struct(b = False, deps = [], n = 3, name = "x", none = [], one = <target //p:a.txt>, opt = None, out = //p:x.out, outs = [//p:y1.out, //p:y2.out], s = "str", srcs = [<target //p:a.txt>, <target //p:b.txt>], strs = ["u", "v"], tool = <target //p:tool.sh>)
  eq True, has nope False
files: struct ["deps", "none", "one", "opt", "out", "outs", "srcs", "tool"]
  struct(deps = [], none = [], one = [<source file p/a.txt>], opt = [], out = [<generated file bld-out/p/x.out>], outs = [<generated file bld-out/p/y1.out>, <generated file bld-out/p/y2.out>], srcs = [<source file p/a.txt>, <source file p/b.txt>], tool = [<source file p/tool.sh>])
  eq True, has nope False
file: struct ["one", "opt", "tool"]
  struct(one = <source file p/a.txt>, opt = None, tool = <source file p/tool.sh>)
  eq True, has nope False
executable: struct ["tool"]
  struct(tool = <source file p/tool.sh>)
  eq True, has nope False
outputs: struct ["out", "outs"]
  struct(out = <generated file bld-out/p/x.out>, outs = [<generated file bld-out/p/y1.out>, <generated file bld-out/p/y2.out>])
  eq True, has nope False
builtin_function_or_method <built-in function run> <built-in function run> <built-in function run>
builtin_function_or_method <built-in function run_shell> <built-in function run_shell> <built-in function run_shell>
builtin_function_or_method <built-in function write> <built-in function write> <built-in function write>
builtin_function_or_method <built-in function declare_file> <built-in function declare_file> <built-in function declare_file>
builtin_function_or_method <built-in function expand_location> <built-in function expand_location> <built-in function expand_location>
builtin_function_or_method <built-in function expand_make_variables> <built-in function expand_make_variables> <built-in function expand_make_variables>
builtin_function_or_method <built-in function partition> <built-in function partition> <built-in function partition>
hashable 2
same True False False
lists True True True
outs True
with struct() False True True struct(n = 1, tool = <source file p/tool.sh>)
dir ctx ["actions", "attr", "bin_dir", "build_file_path", "exec_root", "executable", "expand_location", "expand_make_variables", "file", "files", "fragments", "label", "outputs", "partition", "var", "workspace_name"]
dir actions ["declare_file", "run", "run_shell", "write"]
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the rule saw (-want +got):\n%s", diff)
	}

	_, err = analyze(t, files, "//p:bad")
	if err == nil || !strings.Contains(err.Error(), "struct has no .nope attribute") {
		t.Errorf("ctx.attr.nope: got error %v, want one saying: struct has no .nope attribute", err)
	}
}

// TestStepsPerImplementation checks that the bound on Starlark steps holds
// for each implementation on its own, though implementations run on
// threads reused from one to the next: ten targets each taking well over
// a tenth of the bound are analyzed, and one taking more than all of it
// fails.
func TestStepsPerImplementation(t *testing.T) {
	root := t.TempDir()
	write := func(p, c string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("WORKSPACE.star", "")
	write("p/spin.star", `
def _impl(ctx):
    n = 0
    for i in range(ctx.attr.n):
        n += i
    return []

spin = rule(implementation = _impl, attrs = {"n": attr.int(), "deps": attr.label_list()})
`)
	var b strings.Builder
	b.WriteString("load(\":spin.star\", \"spin\")\n")
	var deps []string
	for i := range 10 {
		fmt.Fprintf(&b, "spin(name = \"s%d\", n = 300)\n", i)
		deps = append(deps, fmt.Sprintf("\":s%d\"", i))
	}
	fmt.Fprintf(&b, "spin(name = \"all\", n = 300, deps = [%s])\n", strings.Join(deps, ", "))
	b.WriteString("spin(name = \"toolong\", n = 20000)\n")
	write("p/BUILD.star", b.String())
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files, MaxSteps: 10000})
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	if _, err := a.Analyze(context.Background(), label.Label{Pkg: "p", Name: "all"}); err != nil {
		t.Fatalf("ten targets of 300 iterations each, with a bound of 10000 each: %v", err)
	}
	if _, err := a.Analyze(context.Background(), label.Label{Pkg: "p", Name: "toolong"}); err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Fatalf("a target of 20000 iterations, with a bound of 10000: got %v, want too many steps", err)
	}
}
