package loading_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.starlark.net/starlark"

	"bld/rules"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// newLoader writes WORKSPACE.star and files into a temporary workspace and
// returns a loader for it, with the built-in rules.
func newLoader(t *testing.T, files map[string]string) *loading.Loader {
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
	return loading.New(loading.Options{Root: root, Builtins: rules.Files})
}

// evalStar evaluates src as //p:defs.star and returns its globals.
func evalStar(t *testing.T, src string) (starlark.StringDict, error) {
	t.Helper()
	l := newLoader(t, map[string]string{"p/BUILD.star": "", "p/defs.star": src})
	return l.LoadModule(context.Background(), label.Label{Pkg: "p", Name: "defs.star"})
}

// strs converts a Starlark list of strings.
func strs(t *testing.T, v starlark.Value) []string {
	t.Helper()
	list, ok := v.(*starlark.List)
	if !ok {
		t.Fatalf("%v is a %s, want a list", v, v.Type())
	}
	out := []string{}
	for i := 0; i < list.Len(); i++ {
		s, ok := list.Index(i).(starlark.String)
		if !ok {
			t.Fatalf("element %d of %v is a %s", i, v, list.Index(i).Type())
		}
		out = append(out, string(s))
	}
	return out
}

func TestDepsetOrders(t *testing.T) {
	// A diamond: d depends on b and c, which both depend on a.
	g, err := evalStar(t, `
def diamond(order):
    a = depset(["a1", "a2"], order = order)
    b = depset(["b1"], transitive = [a], order = order)
    c = depset(["c1", "a1"], transitive = [a], order = order)
    return depset(["d1", "d2"], transitive = [b, c], order = order)

default = diamond("default").to_list()
postorder = diamond("postorder").to_list()
topological = diamond("topological").to_list()

# A chain of libraries, as the cc rules build it for a link line: each
# before what it depends on.
libz = depset(["libz.a"], order = "topological")
libpng = depset(["libpng.a"], transitive = [libz], order = "topological")
app = depset(["libapp.a"], transitive = [libpng, libz], order = "topological")
link = app.to_list()

dups = depset(["x", "y", "x"]).to_list()
empty = depset().to_list()
empty_truth = bool(depset())
nonempty_truth = bool(depset(transitive = [depset(["x"])]))
unset_order = depset(["b"], transitive = [depset(["a"])]).to_list()
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		// Default and postorder: transitive sets first (left to right),
		// then direct elements; each element once, where first seen.
		{"default", []string{"a1", "a2", "b1", "c1", "d1", "d2"}},
		{"postorder", []string{"a1", "a2", "b1", "c1", "d1", "d2"}},
		{"unset_order", []string{"a", "b"}},
		// Topological: a set's own elements before those of the sets it
		// contains; the shared a comes after both b and c.
		{"topological", []string{"d1", "d2", "b1", "c1", "a1", "a2"}},
		{"link", []string{"libapp.a", "libpng.a", "libz.a"}},
		{"dups", []string{"x", "y"}},
		{"empty", []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, strs(t, g[tt.name])); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if g["empty_truth"] != starlark.False || g["nonempty_truth"] != starlark.True {
		t.Errorf("bool(depset()) = %v, bool(depset(transitive = [depset([x])])) = %v; want False, True",
			g["empty_truth"], g["nonempty_truth"])
	}
}

func TestDepsetErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`d = depset(["a"], order = "preorder")`, `unknown order "preorder"`},
		{`d = depset(transitive = [["a"]])`, `transitive element 0 is a list, want depset`},
		{`d = depset([["unhashable"]])`, `element 0: unhashable`},
		{`d = depset(["a"]) + depset(["b"])`, `unknown binary op: depset + depset`},
	}
	for _, tt := range tests {
		_, err := evalStar(t, tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.src, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "p/defs.star:1:") {
			t.Errorf("%s: err = %v, want the position p/defs.star:1:...", tt.src, err)
		}
	}
}

// ruleStar defines a rule with one attribute of each kind.
const ruleStar = `
def _impl(ctx):
    pass

r = rule(implementation = _impl, attrs = {
    "dep": attr.label(),
    "deps": attr.label_list(),
    "out": attr.output(),
    "outs": attr.output_list(),
    "str": attr.string(),
    "mode": attr.string(values = ["fast", "small"]),
    "level": attr.int(values = [1, 2, 3]),
    "strs": attr.string_list(),
    "num": attr.int(),
    "flag": attr.bool(),
    "env": attr.string_dict(),
    "tool": attr.label(default = "//tools:tool"),
    "must": attr.string(mandatory = True),
})
`

func TestLabelAttributeCoercion(t *testing.T) {
	l := newLoader(t, map[string]string{
		"p/r.star": ruleStar,
		"p/BUILD.star": `load(":r.star", "r")
r(
    name = "t",
    must = "x",
    dep = ":x",
    deps = ["y.c", "//q", "//q:z", Label("//w:v"), "sub/f.txt", "@bld//rules:cc.star"],
    out = "o.txt",
    outs = ["a.txt", "b/c.txt"],
    tool = None,  # None means unset: the default stays
    str = None,
)
`,
	})
	pkg, err := l.LoadPackage(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	tg := pkg.Targets["t"]
	if tg == nil {
		t.Fatalf("no target t in %v", pkg.TargetNames())
	}
	labels := func(attr string) []string {
		var out []string
		for _, l := range loading.LabelsOf(tg.Attr(attr)) {
			out = append(out, l.String())
		}
		return out
	}
	for attr, want := range map[string][]string{
		"dep":  {"//p:x"},
		"deps": {"//p:y.c", "//q:q", "//q:z", "//w:v", "//p:sub/f.txt", "@bld//rules:cc.star"},
		"out":  {"//p:o.txt"},
		"outs": {"//p:a.txt", "//p:b/c.txt"},
		"tool": {"//tools:tool"},
	} {
		if diff := cmp.Diff(want, labels(attr)); diff != "" {
			t.Errorf("attribute %s (-want +got):\n%s", attr, diff)
		}
	}
	if got := tg.Attr("str"); got != starlark.String("") {
		t.Errorf("str = None gives %v, want the zero value \"\"", got)
	}
	// Deps are the label and label_list attributes, not outputs.
	var deps []string
	for _, d := range tg.Deps() {
		deps = append(deps, d.String())
	}
	sortedWant := []string{"//p:x", "//p:y.c", "//q:q", "//q:z", "//w:v", "//p:sub/f.txt", "@bld//rules:cc.star", "//tools:tool"}
	if diff := cmp.Diff(sortedWant, deps, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Deps (-want +got):\n%s", diff)
	}
}

func TestAttributeCoercionErrors(t *testing.T) {
	tests := []struct {
		call string
		// want is a regular expression the error must match.
		want string
	}{
		{`dep = 3`, `attribute dep \(label\): want a label string, got int`},
		{`dep = ["//a"]`, `attribute dep \(label\): want a label string, got list`},
		{`dep = "//a:b:c"`, `attribute dep \(label\): .*//a:b:c`},
		{`dep = "../x"`, `attribute dep \(label\): .*\.\./x`},
		{`dep = "//a/../b"`, `attribute dep \(label\): .*//a/\.\./b`},
		{`dep = "@other//a:b"`, `attribute dep \(label\): .*@other`},
		{`deps = "x.c"`, `attribute deps \(label_list\): want a list of labels, got string`},
		{`deps = {"x": "y"}`, `attribute deps \(label_list\): want a list of labels, got dict`},
		{`deps = ["a.c", 3]`, `attribute deps \(label_list\): element 1: want a label string, got int`},
		{`deps = ["a.c", ":a.c"]`, `attribute deps \(label_list\): label //p:a.c appears twice`},
		{`outs = "o.txt"`, `attribute outs \(output_list\): want a list of labels, got string`},
		{`out = ["o.txt"]`, `attribute out \(output\): want a label string, got list`},
		{`str = 1`, `attribute str \(string\): want a string, got int`},
		{`strs = "a"`, `attribute strs \(string_list\): want a list of strings, got string`},
		{`strs = ["a", 1]`, `attribute strs \(string_list\): want a list of strings, got an element of type int`},
		{`num = "1"`, `attribute num \(int\): want an int, got string`},
		{`flag = 1`, `attribute flag \(bool\): want a bool, got int`},
		{`env = {"a": 1}`, `attribute env \(string_dict\): want a dict of strings to strings`},
		{`mode = "slow"`, `attribute mode \(string\): "slow" is not one of the allowed values \["fast", "small"\]`},
		{`level = 4`, `attribute level \(int\): 4 is not one of the allowed values \[1, 2, 3\]`},
		{`srcs = []`, `unknown attribute "srcs"`},
		{`must = None, str = "x"`, `missing the mandatory attribute must`},
	}
	for _, tt := range tests {
		call := tt.call
		if !strings.Contains(call, "must") {
			call += `, must = "x"`
		}
		l := newLoader(t, map[string]string{
			"p/r.star":     ruleStar,
			"p/BUILD.star": "load(\":r.star\", \"r\")\n\nr(name = \"t\", " + call + ")\n",
		})
		_, err := l.LoadPackage(context.Background(), "p")
		if err == nil {
			t.Errorf("r(%s): no error", call)
			continue
		}
		if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
			t.Errorf("r(%s):\n%v\nwant it to match %s", call, err, tt.want)
		}
		if !strings.Contains(err.Error(), "p/BUILD.star:3:2") {
			t.Errorf("r(%s): the error does not name the call's place p/BUILD.star:3:2:\n%v", call, err)
		}
	}
}

func TestAttributeDefaultErrors(t *testing.T) {
	tests := []struct{ attr, want string }{
		{`attr.label(default = 3)`, `attr.label: default: want a label string, got int`},
		{`attr.string(values = ["a"], default = "b")`, `"b" is not one of the allowed values`},
		{`attr.output(default = "x")`, `output attributes have no default`},
		{`attr.label_list(providers = ["CcInfo"])`, `providers: want a list of providers, got a string`},
	}
	for _, tt := range tests {
		_, err := evalStar(t, "x = "+tt.attr+"\n")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.attr, err, tt.want)
		}
	}
}

// TestMaxSteps checks that an endless loop ends with an error naming where
// it loops.
func TestMaxSteps(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   "def spin():\n    x = 0\n    while True:\n        x += 1\n\nspin()\n",
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := loading.New(loading.Options{Root: root, Builtins: rules.Files, MaxSteps: 10_000})
	_, err := l.LoadPackage(context.Background(), "p")
	if err == nil {
		t.Fatal("an endless loop ended without error")
	}
	for _, want := range []string{"p/BUILD.star:6:5: in <toplevel>", "p/BUILD.star:4:", "too many steps", "endless loop"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// TestConcurrentLoadCycle loads two packages at once whose .star files load
// each other: each load must end with the cycle reported, never deadlock,
// whichever goroutine gets where first.
func TestConcurrentLoadCycle(t *testing.T) {
	for i := 0; i < 20; i++ {
		l := newLoader(t, map[string]string{
			"p/BUILD.star":   `load("//lib:a.star", "a")` + "\n",
			"q/BUILD.star":   `load("//lib:b.star", "b")` + "\n",
			"lib/BUILD.star": "",
			"lib/a.star":     `load(":b.star", "b")` + "\na = 1\n",
			"lib/b.star":     `load(":a.star", "a")` + "\nb = 1\n",
		})
		errs := make(chan error, 2)
		for _, pkg := range []string{"p", "q"} {
			go func() {
				_, err := l.LoadPackage(context.Background(), pkg)
				errs <- err
			}()
		}
		for range 2 {
			select {
			case err := <-errs:
				if err == nil || !strings.Contains(err.Error(), "load cycle") {
					t.Fatalf("err = %v, want a load cycle", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("loading deadlocked on a load cycle")
			}
		}
	}
}

// A rule bound to several globals of its module is named after the first
// in sorted order, every time: its name is a target's kind, in errors,
// queries and the snapshot.
func TestRuleNamedOnceForSeveralGlobals(t *testing.T) {
	for i := range 20 {
		g, err := evalStar(t, `
def _impl(ctx):
    pass

zz_rule = rule(implementation = _impl)
mm_alias = zz_rule
aa_alias = zz_rule
`)
		if err != nil {
			t.Fatal(err)
		}
		if got := g["zz_rule"].(*loading.Rule).Name(); got != "aa_alias" {
			t.Fatalf("run %d: the rule is named %q, want aa_alias (the first of its names in sorted order)", i, got)
		}
	}
}
