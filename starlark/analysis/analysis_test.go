package analysis_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// analyze writes files into a temporary workspace and analyzes target.
func analyze(t *testing.T, files map[string]string, target string) (*analysis.Analyzer, error) {
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
	l, err := label.Parse(target, "", "")
	if err != nil {
		t.Fatal(err)
	}
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
	_, err = a.Analyze(context.Background(), l)
	return a, err
}

// action returns the action of owner with the given mnemonic.
func action(t *testing.T, a *analysis.Analyzer, owner, mnemonic string) *graph.Action {
	t.Helper()
	for _, act := range a.Actions() {
		if act.Owner == owner && act.Mnemonic == mnemonic {
			return act
		}
	}
	t.Fatalf("no %s action of %s", mnemonic, owner)
	return nil
}

// genruleFiles is a workspace with sources, generated files and filegroups
// for genrule commands to refer to.
func genruleFiles(cmd string) map[string]string {
	return map[string]string{
		"p/a.txt": "a", "p/b.txt": "b", "p/sub/c.txt": "c",
		"q/BUILD.star": `genrule(name = "qgen", outs = ["q.txt"], cmd = "echo q > $@")
`,
		"p/BUILD.star": `genrule(name = "gen", outs = ["gen.txt"], cmd = "echo > $@")
filegroup(name = "fg", srcs = ["a.txt", "sub/c.txt"])
genrule(name = "one", srcs = ["a.txt"], outs = ["one.txt"], cmd = ` + quote(cmd) + `)
genrule(name = "one2", srcs = [":fg", "a.txt"], outs = ["one2.txt"], cmd = ` + quote(cmd) + `)
genrule(
    name = "many",
    srcs = ["a.txt", ":gen", ":fg", "//q:qgen"],
    outs = ["o1.txt", "sub/o2.txt"],
    cmd = ` + quote(cmd) + `,
)
`,
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func TestExpandMakeVariables(t *testing.T) {
	tests := []struct {
		target, cmd, want string
	}{
		{"one", "echo $$HOME $$$$ $$(pwd)", "echo $HOME $$ $(pwd)"},
		{"one", "cat $< > $@", "cat p/a.txt > bld-out/p/one.txt"},
		{"one", "$(SRCS) | $(OUTS)", "p/a.txt | bld-out/p/one.txt"},
		{"one", "cd $(@D) && ls $(RULEDIR)", "cd bld-out/p && ls bld-out/p"},
		{"many", "cat $(SRCS) > x", "cat p/a.txt bld-out/p/gen.txt p/sub/c.txt bld-out/q/q.txt > x"},
		{"many", "touch $(OUTS)", "touch bld-out/p/o1.txt bld-out/p/sub/o2.txt"},
		{"many", "$(@D)", "bld-out/p"},
		{"many", "$(location a.txt) $(location :a.txt) $(location //p:a.txt)", "p/a.txt p/a.txt p/a.txt"},
		{"many", "$(location :gen) $(execpath //q:qgen)", "bld-out/p/gen.txt bld-out/q/q.txt"},
		{"many", "$(locations :fg)", "p/a.txt p/sub/c.txt"},
		// A file named twice (a.txt, and in :fg) is one source.
		{"one2", "$(SRCS)", "p/a.txt p/sub/c.txt"},
		{"many", "$(rootpath :gen) $(rootpaths :fg)", "p/gen.txt p/a.txt p/sub/c.txt"},
		// A genrule's own outputs, as in Bazel.
		{"many", "$(location sub/o2.txt) $(location :o1.txt)", "bld-out/p/sub/o2.txt bld-out/p/o1.txt"},
		// Without $ there is nothing to expand; other text stays as is.
		{"one", "echo 'a (b) c' > /dev/null", "echo 'a (b) c' > /dev/null"},
	}
	for _, tt := range tests {
		a, err := analyze(t, genruleFiles(tt.cmd), "//p:"+tt.target)
		if err != nil {
			t.Errorf("%s: %q: %v", tt.target, tt.cmd, err)
			continue
		}
		act := action(t, a, "//p:"+tt.target, "Genrule")
		want := []string{"/bin/sh", "-e", "-c", tt.want}
		if diff := cmp.Diff(want, act.Argv); diff != "" {
			t.Errorf("%s: %q (-want +got):\n%s", tt.target, tt.cmd, diff)
		}
	}
}

func TestExpandMakeVariablesErrors(t *testing.T) {
	tests := []struct {
		target, cmd string
		// want is a regular expression the error must match.
		want string
	}{
		{"one", "echo $(FOO)", `\$\(FOO\) is not defined; known variables: \$\(@D\), \$\(COMPILATION_MODE\), \$\(OUTS\), \$\(RULEDIR\), \$\(SRCS\), \$<, \$@ \(write \$\$ for a literal \$\)`},
		{"one", "echo $HOME", `\$H is not defined; .*write \$\$ for a literal \$, e\.g\. \$\$HOME`},
		{"one", "echo $", `a lone \$ ends the command; write \$\$ for a literal \$`},
		{"one", "echo $(SRCS", `unterminated \$\(`},
		{"many", "cat $<", `\$< is not defined`},
		{"many", "cat $@", `\$@ is not defined`},
		{"one", "$(location b.txt)", `\$\(location b\.txt\): //p:b\.txt is not a dependency or an output of //p:one; add it to srcs, tools or deps`},
		{"many", "$(location :fg)", `\$\(location :fg\): //p:fg has 2 files; use \$\(locations :fg\) for several`},
		{"one", "$(location //p:a:b)", `\$\(location //p:a:b\): `},
		{"one", "$(frob a.txt)", `unknown function \$\(frob \.\.\.\); bld knows location, locations`},
	}
	for _, tt := range tests {
		_, err := analyze(t, genruleFiles(tt.cmd), "//p:"+tt.target)
		if err == nil {
			t.Errorf("%s: %q: no error", tt.target, tt.cmd)
			continue
		}
		msg := err.Error()
		if !regexp.MustCompile(tt.want).MatchString(msg) {
			t.Errorf("%s: %q:\n%s\nwant it to match %s", tt.target, tt.cmd, msg, tt.want)
		}
		// The error names the target, where it is declared, and the
		// attribute.
		for _, s := range []string{"analyzing //p:" + tt.target, "declared at p/BUILD.star:", "attribute cmd of //p:" + tt.target} {
			if !strings.Contains(msg, s) {
				t.Errorf("%s: %q: the error does not say %q:\n%s", tt.target, tt.cmd, s, msg)
			}
		}
	}
}

// A custom rule calls ctx.expand_make_variables with its own variables and
// ctx.expand_location, as a Bazel rule would.
func TestExpandFromCustomRule(t *testing.T) {
	files := map[string]string{
		"p/x.txt": "x",
		"p/r.star": `
def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    made = ctx.expand_make_variables("text", ctx.attr.text, {"NAME": "world", "N": "1"})
    loc = ctx.expand_location("$(location :x.txt) $(OTHER) $$", [])
    ctx.actions.write(output = out, content = made + "|" + loc)
    return [DefaultInfo(files = [out])]

r = rule(implementation = _impl, attrs = {"text": attr.string(), "data": attr.label_list(allow_files = True)})
`,
		"p/BUILD.star": `load(":r.star", "r")
r(name = "t", text = "hello $(NAME) $N $$ $(location x.txt)", data = ["x.txt"])
`,
	}
	a, err := analyze(t, files, "//p:t")
	if err != nil {
		t.Fatal(err)
	}
	act := action(t, a, "//p:t", "FileWrite")
	// expand_location leaves other $ text as it is.
	if got, want := string(act.Content()), "hello world 1 $ p/x.txt|p/x.txt $(OTHER) $$"; got != want {
		t.Errorf("content %q, want %q", got, want)
	}
}

// TestExpandSrcsOuts checks expand_make_variables' srcs and outs from a
// custom rule: genrule's variables for them, quoted paths (Files or
// strings), additional_substitutions winning over them and over the
// configuration's, each name listed once, and what is not a path refused.
func TestExpandSrcsOuts(t *testing.T) {
	rule := func(call, text string) map[string]string {
		return map[string]string{
			"p/x.txt": "x",
			"p/r.star": `
def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    srcs = ctx.files.data
    outs = [out]
    ctx.actions.write(output = out, content = ` + call + `)
    return [DefaultInfo(files = [out])]

r = rule(implementation = _impl, attrs = {"text": attr.string(), "data": attr.label_list(allow_files = True)})
`,
			"p/BUILD.star": `load(":r.star", "r")
r(name = "t", text = ` + quote(text) + `, data = ["x.txt"])
`,
		}
	}
	tests := []struct {
		call, text, want, err string
	}{
		{call: `ctx.expand_make_variables("text", ctx.attr.text, srcs = srcs, outs = outs)`,
			text: "$(SRCS) $< $(OUTS) $@ $(@D) $(RULEDIR) $(COMPILATION_MODE)",
			want: "p/x.txt p/x.txt bld-out/p/t.txt bld-out/p/t.txt bld-out/p bld-out/p fastbuild"},
		// Strings are paths too; several outputs: $(@D) is $(RULEDIR).
		{call: `ctx.expand_make_variables("text", ctx.attr.text, srcs = ["a b", "c"], outs = ["o/1", "o/2"])`,
			text: "$(SRCS) $(OUTS) $(@D)", want: "'a b' c o/1 o/2 bld-out/p"},
		{call: `ctx.expand_make_variables("text", ctx.attr.text, outs = ["d i r/o"])`,
			text: "$(@D) $@", want: "'d i r' 'd i r/o'"},
		// additional_substitutions win.
		{call: `ctx.expand_make_variables("text", ctx.attr.text, {"SRCS": "mine", "COMPILATION_MODE": "m"}, srcs = srcs)`,
			text: "$(SRCS) $< $(COMPILATION_MODE)", want: "mine p/x.txt m"},
		{call: `ctx.expand_make_variables("text", ctx.attr.text, srcs = srcs)`, text: "$@",
			err: `\$@ is not defined; known variables: \$\(COMPILATION_MODE\), \$\(SRCS\), \$< `},
		{call: `ctx.expand_make_variables("text", ctx.attr.text, {"SRCS": "mine"}, srcs = srcs)`, text: "$(X)",
			err: `known variables: \$\(COMPILATION_MODE\), \$\(SRCS\), \$< `},
		{call: `ctx.expand_make_variables("text", ctx.attr.text, srcs = [1])`, text: "",
			err: `expand_make_variables: srcs: element 0 is a int; a list holds paths`},
		{call: `ctx.expand_make_variables("text", ctx.attr.text, outs = "o")`, text: "",
			err: `for parameter "outs": got string, want list`},
	}
	for _, tt := range tests {
		a, err := analyze(t, rule(tt.call, tt.text), "//p:t")
		if tt.err != "" {
			if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
				t.Errorf("%s: err = %v, want it to match %s", tt.call, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.call, err)
			continue
		}
		if got := string(action(t, a, "//p:t", "FileWrite").Content()); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.call, got, tt.want)
		}
	}
}

// TestExpandSubstitutions checks additional_substitutions from a custom
// rule: every value is checked, used or not; a key must be a string; many
// variables (past the few looked up without a map) all expand.
func TestExpandSubstitutions(t *testing.T) {
	rule := func(subs string) map[string]string {
		return map[string]string{
			"p/r.star": `
def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(output = out, content = ctx.expand_make_variables("text", ctx.attr.text, ` + subs + `))
    return [DefaultInfo(files = [out])]

r = rule(implementation = _impl, attrs = {"text": attr.string()})
`,
			"p/BUILD.star": `load(":r.star", "r")
r(name = "t", text = "$(V0) $(V19) $(V7)")
`,
		}
	}
	tests := []struct {
		subs, want, err string
	}{
		{subs: `{"V%d" % i: "v%d" % i for i in range(20)}`, want: "v0 v19 v7"},
		{subs: `dict({"V%d" % i: "v" for i in range(20)}, V7 = ["a b", "c"])`, want: "v v 'a b' c"},
		{subs: `{"V0": "a", "V19": "b", "V7": "c", 1: "x"}`, err: "additional_substitutions must map strings to strings or lists of paths"},
		{subs: `{"V0": "a", "V19": "b", "V7": "c", "unused": 3}`, err: `additional_substitutions\["unused"\]: got a int`},
		// The configuration's variables are defined too (ctx.var), as in
		// Bazel.
		{subs: `{"V0": "a", "V19": "b"}`, err: `\$\(V7\) is not defined; known variables: \$\(COMPILATION_MODE\), \$\(V0\), \$\(V19\) `},
	}
	for _, tt := range tests {
		a, err := analyze(t, rule(tt.subs), "//p:t")
		if tt.err != "" {
			if err == nil || !regexp.MustCompile(tt.err).MatchString(err.Error()) {
				t.Errorf("%s: err = %v, want it to match %s", tt.subs, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.subs, err)
			continue
		}
		if got := string(action(t, a, "//p:t", "FileWrite").Content()); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.subs, got, tt.want)
		}
	}
}

// TestLabelErrorsAtAnalysis checks the label errors analysis reports: a
// dependency without the provider the attribute requires, and a label
// attribute that must be a single file.
func TestLabelErrorsAtAnalysis(t *testing.T) {
	tests := []struct {
		build, target, want string
	}{
		{
			`genrule(name = "g", outs = ["g.c"], cmd = "touch $@")
cc_binary(name = "b", srcs = ["m.c"], deps = [":g"])
`, "//p:b",
			`p/BUILD.star:2:10: cc_binary //p:b: attribute deps: //p:g does not provide CcInfo, which cc_binary requires`,
		},
		{
			`filegroup(name = "two", srcs = ["m.c", "n.c"])
genrule(name = "g", srcs = ["//nowhere:x"], outs = ["g.c"], cmd = "touch $@")
`, "//p:g",
			`p/BUILD.star:2:8: genrule //p:g depends on //nowhere:x: no package //nowhere`,
		},
		{
			`genrule(name = "g", srcs = [":gg"], outs = ["g.c"], cmd = "touch $@")
genrule(name = "gg", srcs = [":g"], outs = ["gg.c"], cmd = "touch $@")
`, "//p:g",
			`dependency cycle: //p:g -> //p:gg -> //p:g`,
		},
	}
	for _, tt := range tests {
		_, err := analyze(t, map[string]string{"p/m.c": "", "p/n.c": "", "p/BUILD.star": tt.build}, tt.target)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", tt.target, err, tt.want)
		}
	}
}

// TestCcLinkOrder checks that a binary's objects come before its libraries,
// and each library before the libraries it depends on.
func TestCcLinkOrder(t *testing.T) {
	files := map[string]string{
		"p/BUILD.star": `cc_unit(name = "z", srcs = ["z.c"])
cc_unit(name = "png", srcs = ["png.c"], deps = [":z"])
cc_unit(name = "util", srcs = ["util.c"], deps = [":z"])
cc_binary(name = "app", srcs = ["main.c", "more.c"], deps = [":png", ":util", ":z"])
`,
		"p/z.c": "", "p/png.c": "", "p/util.c": "", "p/main.c": "", "p/more.c": "",
	}
	a, err := analyze(t, files, "//p:app")
	if err != nil {
		t.Fatal(err)
	}
	link := action(t, a, "//p:app", "CcLink")
	want := []string{"gcc", "-o", "bld-out/p/app",
		"bld-out/p/_objs/app/p/main.o", "bld-out/p/_objs/app/p/more.o",
		"bld-out/p/libpng.a", "bld-out/p/libutil.a", "bld-out/p/libz.a"}
	if diff := cmp.Diff(want, link.Argv); diff != "" {
		t.Errorf("link line (-want +got):\n%s", diff)
	}
}

// TestProviderAccess checks dep[P] and P in dep: a missing provider is an
// error that names what the target does provide; `in` answers without one.
func TestProviderAccess(t *testing.T) {
	files := map[string]string{
		"p/defs.star": `P = provider(fields = ["x"])
Q = provider(fields = ["y"])
def _a(ctx):
    return [P(x = 1)]
a = rule(implementation = _a)
def _b(ctx):
    d = ctx.attr.dep
    if not (P in d) or (Q in d):
        fail("in: P in dep = %s, Q in dep = %s" % (P in d, Q in d))
    if ctx.attr.take_q:
        return [Q(y = d[Q])]
    return [Q(y = d[P].x)]
b = rule(implementation = _b, attrs = {"dep": attr.label(), "take_q": attr.bool()})
`,
		"p/BUILD.star": `load(":defs.star", "a", "b")
a(name = "x")
b(name = "ok", dep = ":x")
b(name = "bad", dep = ":x", take_q = True)
`,
	}
	if _, err := analyze(t, files, "//p:ok"); err != nil {
		t.Fatalf("//p:ok: %v", err)
	}
	_, err := analyze(t, files, "//p:bad")
	want := "//p:x (rule a) does not provide Q; it provides DefaultInfo, P"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("//p:bad: err = %v\nwant it to contain %q", err, want)
	}
}

// TestRustCommandLine checks the one rustc action of rust_unit and
// rust_binary: --extern for direct dependencies, -L dependency= for the
// directories of all of them, codegen units from partitions (an argument
// file written by a RustPartitions action for "auto"), the crate root as
// an input and the other sources as discoverable ones behind rustc's
// dep-info, and the jobserver.
func TestRustCommandLine(t *testing.T) {
	const load = `load("@bld//rules:rust.star", "rust_unit", "rust_binary")` + "\n"
	files := map[string]string{
		"base/BUILD.star": load + `rust_unit(name = "base", srcs = ["lib.rs"])`,
		"base/lib.rs":     "",
		"mid/BUILD.star":  load + `rust_unit(name = "mid-util", srcs = ["src/lib.rs", "src/m.rs"], deps = ["//base"], partitions = 4, edition = "2018")`,
		"mid/src/lib.rs":  "",
		"mid/src/m.rs":    "",
		"app/BUILD.star":  load + `rust_binary(name = "app", srcs = ["main.rs", "cli.rs"], deps = ["//mid:mid-util"], partitions = "auto", rustc_flags = ["-Copt-level=3"])`,
		"app/main.rs":     "",
		"app/cli.rs":      "",
	}
	a, err := analyze(t, files, "//app")
	if err != nil {
		t.Fatal(err)
	}
	mid := action(t, a, "//mid:mid-util", "RustCompile")
	wantMid := []string{"rustc", "--crate-name=mid_util", "--crate-type=rlib", "--edition=2018",
		"-Cmetadata=//mid:mid-util", "--remap-path-prefix=" + graph.SandboxExecRoot + "=.", "-Ccodegen-units=4",
		"--extern=base=bld-out/base/libbase.rlib", "-Ldependency=bld-out/base",
		"--emit=dep-info=bld-out/mid/_rust/mid-util.d,link=bld-out/mid/libmid_util.rlib", "mid/src/lib.rs"}
	if diff := cmp.Diff(wantMid, mid.Argv); diff != "" {
		t.Errorf("rustc of //mid:mid-util (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bld-out/base/libbase.rlib", "mid/src/lib.rs"}, mid.Inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mid/src/m.rs"}, mid.Discoverable()); diff != "" {
		t.Errorf("discoverable inputs (-want +got):\n%s", diff)
	}
	if mid.Depfile() != "bld-out/mid/_rust/mid-util.d" || !mid.Jobserver {
		t.Errorf("depfile %q, jobserver %v; want the dep-info and the jobserver", mid.Depfile(), mid.Jobserver)
	}

	app := action(t, a, "//app:app", "RustBinary")
	wantApp := []string{"rustc", "--crate-name=app", "--crate-type=bin", "--edition=2021",
		"-Cmetadata=//app:app", "--remap-path-prefix=" + graph.SandboxExecRoot + "=.", "@bld-out/app/_rust/app.partitions",
		"--extern=mid_util=bld-out/mid/libmid_util.rlib", "-Ldependency=bld-out/mid", "-Ldependency=bld-out/base",
		"-Copt-level=3", "--emit=dep-info=bld-out/app/_rust/app.d,link=bld-out/app/app", "app/main.rs"}
	if diff := cmp.Diff(wantApp, app.Argv); diff != "" {
		t.Errorf("rustc of //app (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app/main.rs", "bld-out/app/_rust/app.partitions", "bld-out/base/libbase.rlib", "bld-out/mid/libmid_util.rlib"}, app.Inputs); diff != "" {
		t.Errorf("inputs of //app (-want +got):\n%s", diff)
	}
	sizing := action(t, a, "//app:app", "RustPartitions")
	if diff := cmp.Diff([]string{"app/cli.rs", "app/main.rs"}, sizing.Inputs); diff != "" {
		t.Errorf("the auto partitions count reads (-want +got):\n%s", diff)
	}
}

// TestMethodParametersNotCarriedOver checks that a call of ctx.actions.run
// or ctx.expand_make_variables sees none of the parameters of an earlier
// call on the same thread (their values are unpacked into a struct the
// thread keeps): an omitted parameter takes its default.
func TestMethodParametersNotCarriedOver(t *testing.T) {
	files := map[string]string{
		"p/r.star": `
def _impl(ctx):
    a = ctx.actions.declare_file("a.d")
    b = ctx.actions.declare_file("b")
    first = ctx.expand_make_variables("text", "$(X)", {"X": "x"})
    ctx.actions.run(outputs = [a], executable = "/bin/true", arguments = [first], env = {"A": "1"},
                    mnemonic = "First", depfile = a, group = "g", serial = True, jobserver = True,
                    progress_message = "first", failure_hint = "hint")
    ctx.actions.run(outputs = [b], executable = "/bin/true")
    if ctx.attr.again:
        ctx.expand_make_variables("text", "$(X)")
    return [DefaultInfo(files = [a, b])]

r = rule(implementation = _impl, attrs = {"again": attr.bool()})
`,
		"p/BUILD.star": `load(":r.star", "r")
r(name = "t")
r(name = "u", again = True)
`,
	}
	a, err := analyze(t, files, "//p:t")
	if err != nil {
		t.Fatal(err)
	}
	first := action(t, a, "//p:t", "First")
	if first.Depfile() == "" || first.Group() == "" || !first.Jobserver || first.Hint() != "hint" || !slices.Contains(first.Env, "A=1") {
		t.Fatalf("the first action lacks what it was given: %+v", first)
	}
	second := action(t, a, "//p:t", "Action")
	if second.Depfile() != "" || second.Group() != "" || second.Serial || second.Jobserver || second.Hint() != "" ||
		slices.Contains(second.Env, "A=1") || second.Description == "first" || len(second.Argv) != 1 {
		t.Errorf("the second action took parameters of the first: %+v", second)
	}
	_, err = analyze(t, files, "//p:u")
	if err == nil || !strings.Contains(err.Error(), "$(X) is not defined") {
		t.Errorf("expand_make_variables without additional_substitutions after one with X: err = %v, want $(X) is not defined", err)
	}
}
