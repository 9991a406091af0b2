package analysis_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// recordWorkspace has what a Record notes: select() conditions (their
// package read), visibility through package_groups that include others
// (their packages read by the dependent), env_inherit, declared outputs
// named by label (the declaring target a child), an alias and a source
// file.
var recordWorkspace = map[string]string{
	"tools/BUILD.star": "",
	"tools/defs.star": `MsgInfo = provider(fields = ["msg"])
def _say_impl(ctx):
    msg = ctx.attr.msg
    for d in ctx.attr.deps:
        msg += "+" + d[MsgInfo].msg
    out = ctx.actions.declare_file(ctx.label.name + ".msg")
    ctx.actions.run_shell(outputs = [out], command = "echo " + msg + " > " + out.path, env_inherit = ctx.attr.inherit)
    return [DefaultInfo(files = depset([out])), MsgInfo(msg = msg)]
say = rule(implementation = _say_impl, attrs = {"msg": attr.string(), "deps": attr.label_list(), "inherit": attr.string_list()})
`,
	"cfg/BUILD.star": `config_setting(name = "opt", values = {"compilation_mode": "opt"})
config_setting(name = "dbg", values = {"compilation_mode": "dbg"})
package_group(name = "friends", packages = ["//b", "//d"], includes = [":more"])
package_group(name = "more", packages = ["//e"])
`,
	"a/BUILD.star": `load("//tools:defs.star", "say")
say(name = "a1", msg = "a", inherit = ["HOME", "CC"], visibility = ["//cfg:friends"])
say(name = "a2", msg = select({"//cfg:opt": "o", "//cfg:dbg": "d", "//conditions:default": "x"}), deps = [":a1"], inherit = ["GOPATH", "HOME"], visibility = ["//v:grp"])
genrule(name = "a3", srcs = [":a1", "a.in", "//e:e1.txt"], outs = ["a3.txt"], cmd = "cat $(SRCS) > $@", visibility = ["//visibility:public"])
genrule(name = "a4", srcs = select({"//cfg:opt": [":a.in"], "//conditions:default": [":a3.txt"]}), outs = ["a4.txt"], cmd = "cat $(SRCS) > $@", visibility = ["//cfg:friends"])
`,
	"a/a.in": "a\n",
	"v/BUILD.star": `package_group(name = "grp", packages = ["//b", "//g/..."], includes = ["//cfg:friends"])
`,
	"b/BUILD.star": `load("//tools:defs.star", "say")
say(name = "b1", msg = "b", deps = ["//a:a2", "//a:a1"], inherit = ["HOME"])
genrule(name = "b2", srcs = ["//a:a3", "//a:a4.txt", "//a:a4"], outs = ["b2.txt"], cmd = "cat $(SRCS) > $@")
`,
	"d/BUILD.star": `load("//tools:defs.star", "say")
say(name = "d1", msg = "d", deps = ["//b:b1", "//a:a2"])
genrule(name = "d2", srcs = ["//b:b2", "//e:e1", ":d1"], outs = ["d2.txt"], cmd = "cat $(SRCS) > $@")
alias(name = "d3", actual = ":d1")
`,
	"e/BUILD.star": `genrule(name = "e1", outs = ["e1.txt"], cmd = "echo e > $@")
genrule(name = "e2", srcs = ["//a:a4"], outs = ["e2.txt"], cmd = "echo e > $@")
`,
	"g/h/BUILD.star": `load("//tools:defs.star", "say")
say(name = "h", msg = "h", deps = ["//a:a2", "//d:d3"])
`,
}

// rec is a Record written briefly: children and packages, env.
type rec struct {
	Children []string
	Packages []string
	Env      []string
}

// recordsOf analyzes //... of root with the given number of workers (1:
// one target at a time, no Prepare) and returns the Record of every label
// reached from the targets, through their Children.
func recordsOf(t *testing.T, root string, workers int) map[string]rec {
	t.Helper()
	ctx := context.Background()
	loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
	pattern, _ := label.ParsePattern("//...", "")
	labels, err := loader.Expand(ctx, []label.Pattern{pattern})
	if err != nil {
		t.Fatal(err)
	}
	a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, []string{"HOME=/h", "GOPATH=/g", "CC=gcc"})
	a.SetWorkers(workers)
	a.Prepare(ctx, labels)
	for _, l := range labels {
		if _, err := a.Analyze(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]rec{}
	var walk func(l label.Label)
	walk = func(l label.Label) {
		if _, ok := got[l.String()]; ok {
			return
		}
		r, ok := a.Record(l)
		if !ok {
			t.Fatalf("%s: no record", l)
		}
		var children []string
		for _, c := range r.Children {
			children = append(children, c.String())
		}
		got[l.String()] = rec{children, r.Packages, r.Env}
		for _, c := range r.Children {
			walk(c)
		}
	}
	for _, l := range labels {
		walk(l)
	}
	return got
}

// TestRecords checks each label's Record (what incremental re-analysis
// relies on): children in the order asked, packages read on its behalf
// (select() conditions', package_groups' of its dependencies' visibility),
// variables inherited; the same whether the targets were analyzed one at
// a time or in parallel.
func TestRecords(t *testing.T) {
	root := parallelWorkspace(t, 0, recordWorkspace)
	want := map[string]rec{
		"//a:a.in":      {nil, []string{"a"}, nil},
		"//a:a1":        {nil, []string{"a"}, []string{"CC", "HOME"}},
		"//a:a2":        {[]string{"//a:a1"}, []string{"a", "cfg"}, []string{"GOPATH", "HOME"}},
		"//a:a3":        {[]string{"//a:a1", "//a:a.in", "//e:e1.txt"}, []string{"a"}, nil},
		"//a:a3.txt":    {[]string{"//a:a3"}, []string{"a"}, nil},
		"//a:a4":        {[]string{"//a:a3.txt"}, []string{"a", "cfg"}, nil},
		"//a:a4.txt":    {[]string{"//a:a4"}, []string{"a"}, nil},
		"//b:b1":        {[]string{"//a:a2", "//a:a1"}, []string{"b", "cfg", "v"}, []string{"HOME"}},
		"//b:b2":        {[]string{"//a:a3", "//a:a4.txt", "//a:a4"}, []string{"b", "cfg"}, nil},
		"//cfg:dbg":     {nil, []string{"cfg"}, nil},
		"//cfg:friends": {nil, []string{"cfg"}, nil},
		"//cfg:more":    {nil, []string{"cfg"}, nil},
		"//cfg:opt":     {nil, []string{"cfg"}, nil},
		"//d:d1":        {[]string{"//b:b1", "//a:a2"}, []string{"cfg", "d", "v"}, nil},
		"//d:d2":        {[]string{"//b:b2", "//e:e1", "//d:d1"}, []string{"d"}, nil},
		"//d:d3":        {[]string{"//d:d1"}, []string{"d"}, nil},
		"//e:e1":        {nil, []string{"e"}, nil},
		"//e:e1.txt":    {[]string{"//e:e1"}, []string{"e"}, nil},
		"//e:e2":        {[]string{"//a:a4"}, []string{"cfg", "e"}, nil},
		"//g/h:h":       {[]string{"//a:a2", "//d:d3"}, []string{"g/h", "v"}, nil},
		"//v:grp":       {nil, []string{"v"}, nil},
	}
	for i, workers := range []int{1, 2, 4, 8, 2, 4, 8} {
		got := recordsOf(t, root, workers)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("run %d, %d workers: records (-want +got):\n%s", i, workers, diff)
		}
	}
}

// TestResultAndProducer checks what an analysis answers once over: the
// result of each label analyzed (the Configured Analyze returned), none for
// a label never analyzed, how many labels it analyzed, and which action
// produces each output (made only when asked).
func TestResultAndProducer(t *testing.T) {
	root := parallelWorkspace(t, 0, recordWorkspace)
	ctx := context.Background()
	for _, workers := range []int{1, 4} {
		loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		pattern, _ := label.ParsePattern("//...", "")
		labels, err := loader.Expand(ctx, []label.Pattern{pattern})
		if err != nil {
			t.Fatal(err)
		}
		a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
		a.SetWorkers(workers)
		a.Prepare(ctx, labels)
		for _, l := range labels {
			c, err := a.Analyze(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := a.Result(l); !ok || got != c {
				t.Errorf("%d workers: Result(%s) = %v, %v; want what Analyze returned", workers, l, got, ok)
			}
		}
		if c, ok := a.Result(label.Label{Pkg: "a", Name: "nothing"}); ok {
			t.Errorf("%d workers: Result of a label never analyzed = %v", workers, c)
		}
		// 21 labels have a Record (TestRecords).
		if n := a.NumAnalyzed(); n != 21 {
			t.Errorf("%d workers: NumAnalyzed = %d, want 21", workers, n)
		}
		actions := a.Actions()
		if len(actions) == 0 {
			t.Fatalf("%d workers: no actions", workers)
		}
		for _, act := range actions {
			for _, out := range act.Outputs {
				if got, ok := a.Producer(out); !ok || got != act {
					t.Errorf("%d workers: Producer(%s) = %v, %v; want the action of %s", workers, out, got, ok, act.Owner)
				}
			}
		}
		if got, ok := a.Producer("bld-out/a/nothing"); ok {
			t.Errorf("%d workers: Producer of no output = %v", workers, got)
		}
	}
}

// TestEachCommitted checks the commit order EachCommitted gives: the
// labels as a replay of the analysis meets them (depth first from the
// targets, children before their parent, each once), each with the places
// of its Record's children, its packages but its own, and its Env; the
// actions of the labels in that order being Actions, whether the targets
// were analyzed in parallel or not.
func TestEachCommitted(t *testing.T) {
	root := parallelWorkspace(t, 0, recordWorkspace)
	for _, workers := range []int{1, 4} {
		ctx := context.Background()
		loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		pattern, _ := label.ParsePattern("//...", "")
		labels, err := loader.Expand(ctx, []label.Pattern{pattern})
		if err != nil {
			t.Fatal(err)
		}
		a := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, []string{"HOME=/h", "GOPATH=/g", "CC=gcc"})
		a.SetWorkers(workers)
		a.Prepare(ctx, labels)
		for _, l := range labels {
			if _, err := a.Analyze(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		// The replay.
		var want []label.Label
		seen := map[label.Label]bool{}
		var visit func(l label.Label)
		visit = func(l label.Label) {
			if seen[l] {
				return
			}
			seen[l] = true
			r, _ := a.Record(l)
			for _, c := range r.Children {
				visit(c)
			}
			want = append(want, l)
		}
		for _, l := range labels {
			visit(l)
		}
		var got []label.Label
		var owners []string
		ok := a.EachCommitted(func(seq int, l label.Label, children []int32, pkgs, env []string) {
			if seq != len(got) {
				t.Errorf("%s: seq %d, want %d", l, seq, len(got))
			}
			got = append(got, l)
			r, _ := a.Record(l)
			var kids []label.Label
			for _, c := range children {
				kids = append(kids, got[c])
			}
			if diff := cmp.Diff(r.Children, kids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: children (-record +committed):\n%s", l, diff)
			}
			var others []string
			for _, p := range r.Packages {
				if p != l.Pkg {
					others = append(others, p)
				}
			}
			if diff := cmp.Diff(others, pkgs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: packages (-record +committed):\n%s", l, diff)
			}
			if diff := cmp.Diff(r.Env, env, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: env (-record +committed):\n%s", l, diff)
			}
		})
		if !ok {
			t.Fatalf("%d workers: EachCommitted says the analysis is not complete", workers)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d workers: commit order (-replay +committed):\n%s", workers, diff)
		}
		for _, act := range a.Actions() {
			if n := len(owners); n == 0 || owners[n-1] != act.Owner {
				owners = append(owners, act.Owner)
			}
		}
		var wantOwners []string
		for _, l := range got {
			for _, o := range owners {
				if o == l.String() {
					wantOwners = append(wantOwners, o)
				}
			}
		}
		if diff := cmp.Diff(wantOwners, owners); diff != "" {
			t.Errorf("%d workers: owners of the actions in order (-commit order +actions):\n%s", workers, diff)
		}
	}
}
