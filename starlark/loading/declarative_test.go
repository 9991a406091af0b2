package loading

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/rules"
)

// describePackage prints everything a package holds, for comparisons.
func describePackage(p *Package) []string {
	var out []string
	for _, name := range p.TargetNames() {
		t := p.Targets[name]
		var attrs []string
		for i, a := range t.Rule.AttrNames {
			attrs = append(attrs, fmt.Sprintf("%s=%v", a, t.attrs[i]))
		}
		var props []string
		for k, v := range t.ExecProperties {
			props = append(props, k+"="+v)
		}
		sort.Strings(props)
		out = append(out, fmt.Sprintf("%s %s at %s: %s; tags %q; exec %q; visibility %v",
			t.Label, t.Rule.Name(), t.Pos, strings.Join(attrs, ", "), t.Tags, props, t.Visibility))
	}
	var outs []string
	for name, t := range p.Outputs {
		outs = append(outs, name+" <- "+t.Label.String())
	}
	sort.Strings(outs)
	out = append(out, "outputs: "+strings.Join(outs, ", "))
	return append(out, "path "+p.Path+" file "+p.File)
}

// loadBoth loads package p of root with and without the declarative
// reader; declarative says whether the reader took the file.
func loadBoth(t *testing.T, root string) (starlarkPkg, pkg []string, starlarkErr, err error, declarative bool) {
	t.Helper()
	var got [2][]string
	var errs [2]error
	for i, only := range []bool{true, false} {
		l := New(Options{Root: root, Builtins: rules.Files, MaxSteps: 200_000})
		l.starlarkOnly = only
		p, err := l.LoadPackage(context.Background(), "p")
		errs[i] = err
		if err == nil {
			got[i] = describePackage(p)
		}
	}
	// Whether the reader takes the file, and all its calls succeed.
	l := New(Options{Root: root, Builtins: rules.Files})
	src, _ := os.ReadFile(filepath.Join(root, "p", "BUILD.star"))
	prelude, perr := l.LoadModule(context.Background(), PreludeLabel)
	if perr != nil {
		t.Fatal(perr)
	}
	_, declarative = l.evalDeclarative(context.Background(), &loadChain{}, "p/BUILD.star", "p", src, prelude)
	return got[0], got[1], errs[0], errs[1], declarative
}

// rulesStar is p/rules.star, which BUILD files of the tests load: rules,
// through another file, and what is not a rule.
const rulesStar = `load(":consts.star", "EXT")
def _impl(ctx):
    pass
my_rule = rule(implementation = _impl, attrs = {"srcs": attr.label_list(allow_files = True), "out": attr.output(), "n": attr.int()})
genrule = rule(implementation = _impl, attrs = {"outs": attr.output_list(), "cmd": attr.string()})
_hidden = rule(implementation = _impl)
not_rule = EXT
`

func writeBuild(t testing.TB, root, src string) {
	for p, c := range map[string]string{
		"WORKSPACE.star": "", "p/BUILD.star": src, "p/a.c": "",
		"p/defs.star":   "def m(name):\n    native.genrule(name = name, outs = [name + \".o\"], cmd = \"true\")\n",
		"p/rules.star":  rulesStar,
		"p/consts.star": "EXT = \".txt\"\nFIFO = \"fifo\"\n",
		"p/bad.star":    "x = (1\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var declarativeCases = []struct {
	src         string
	declarative bool // the reader takes it
}{
	{"", true},
	{"# only a comment\n\n", true},
	{`genrule(name = "g", srcs = ["a.c"], outs = ["g.txt"], cmd = "cp $< $@")`, true},
	// UTF-8 is read as it is; an invalid byte is left to Starlark, which
	// reads U+FFFD (found by FuzzDeclarative).
	{"genrule(name = \"g\", outs = [\"gr\u00fc\u00df.txt\"], cmd = \"echo \u00e9 > $@\")", true},
	{"genrule(name = \"g\", outs = [\"t\", \"\x86\"], cmd = \"\")", false},
	{"genrule(\n    name = 'g',  # a comment\n    srcs = [\n        \"a.c\",\n        ':x',\n    ],\n\touts = [\"g.txt\", \"sub/h.txt\"],\n    cmd = \"x\",\n    jobserver = True,\n    tags = [\"no-cache\", \"local\"],\n    exec_properties = {\"OSFamily\": \"Linux\", 'a': \"b\",},\n    visibility = [\"//visibility:public\"],\n    message = None,\n)\n\n# end\ngenrule  (name = \"x\", outs = [\"x.txt\"], cmd = \"\", srcs = [],)\n", true},
	{"filegroup(name = \"f\", srcs = [\"a.c\"])\ncc_unit(name = \"u\", srcs = [\"a.c\"], copts = [\"-O2\"])\ncc_binary(name = \"b\", srcs = [\"a.c\"], deps = [\":u\"], args = [\"1\"])\n", true},
	{"cc_unit(name = \"u\", srcs = [\"a.c\"], partitions = 3)\n", true},
	// Valid Starlark, but not the reader's: Starlark evaluates it.
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"a\\tb\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\"\"x\"\"\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"] + [\"h.txt\"], cmd = \"\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\"); genrule(name = \"h\", outs = [\"h.txt\"], cmd = \"\")\n", false},
	{"X = 1\ngenrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\")\n", false},
	{"package(default_visibility = [\"//visibility:public\"])\ngenrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\")\n", false},
	{"load(\":defs.star\", \"m\")\nm(name = \"x\")\n", false},
	{"filegroup(name = \"f\", srcs = glob([\"*.c\"]))\n", false},
	// Loads: rules are declarative, anything else is Starlark's.
	{"load(\":rules.star\", \"my_rule\")\nmy_rule(name = \"x\", srcs = [\"a.c\"], out = \"x.o\", n = 2)\n", true},
	{"load(\":rules.star\", \"my_rule\")\n", true},
	{"load('//p/rules.star', r = 'my_rule', 'genrule')  # two\nload(\n    \"//p:defs.star\",\n    \"m\",  # unused\n)\n\nr(name = \"x\")\ngenrule(name = \"g\", outs = [\"g.txt\"], cmd = \"c\")\n", true},
	{"load(\":rules.star\", genrule = \"my_rule\")\ngenrule(name = \"g\", srcs = [\"a.c\"])\n", true},
	{"load(\":rules.star\", _r = \"my_rule\", glob = \"my_rule\")\n_r(name = \"x\")\nglob(name = \"y\")\n", true},
	{"load(\"@bld//rules:prelude.star\", \"filegroup\", gr = \"genrule\")\ngr(name = \"g\", outs = [\"g.txt\"], cmd = \"c\")\n", true},
	{"load(\":rules.star\", \"my_rule\")\ngenrule(name = \"g\", outs = [\"g.txt\"], cmd = \"c\")\nmy_rule(name = \"x\")\n", true},
	{"load(\":rules.star\", r = \"my_rule\", \"genrule\")\nr(name = \"x\")\n", true},
	{"load(\":rules.star\", \"not_rule\")\nnot_rule(name = \"x\")\n", false},
	// A load may bind True, False or None: the file's literals are no longer.
	{"load(\":consts.star\", True = \"FIFO\")\ngenrule(name = \"g\", outs = [\"g.txt\"], cmd = \"c\", jobserver = True)\n", false},
	{"load(\":consts.star\", None = \"FIFO\")\n", false},
	{"load(\":rules.star\", \"nope\")\n", false},
	{"load(\":rules.star\", \"_hidden\")\n", false},
	{"load(\":rules.star\", \"\")\n", false},
	{"load(\":rules.star\")\n", false},
	{"load(\":bad.star\", \"x\")\n", false},
	{"load(\":none.star\", \"x\")\n", false},
	{"load(\":rules.txt\", \"x\")\n", false},
	{"load(\"::\", \"x\")\n", false},
	{"load(\":rules.st\\x61r\", \"my_rule\")\n", false},
	{"my_rule(name = \"x\")\nload(\":rules.star\", \"my_rule\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"c\")\nload(\":rules.star\", \"my_rule\")\n", false},
	{"load(\":rules.star\", \"my_rule\")\nload(\":rules.star\", \"my_rule\")\n", false},
	{"load(\":rules.star\", \"my_rule\", my_rule = \"genrule\")\n", false},
	{"load(\":rules.star\", \"my_rule\"); my_rule(name = \"x\")\n", false},
	{"load(\":rules.star\", for = \"my_rule\")\n", false},
	{"load(\":rules.star\", r == \"my_rule\")\n", false},
	{"load(\":rules.star\" \"my_rule\")\n", false},
	{"if True:\n    load(\":rules.star\", \"my_rule\")\n", false},
	{"  load(\":rules.star\", \"my_rule\")\n", false},
	{"load(\":rules.star\", \"my_rule\")\nmy_rule(\"x\")\n", false},
	{"load(\":rules.star\", \"my_rule\")\nmy_rule(name = \"x\", n = \"2\")\n", false},
	{"load(\":rules.star\", \"my_rule\")\nmy_rule = 1\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\")\r\n", false},
	{"cc_unit(name = \"u\", srcs = [\"a.c\"], partitions = -1)\n", false},
	{"cc_unit(name = \"u\", srcs = [\"a.c\"], partitions = 0x3)\n", false},
	// Errors: Starlark reports them, and the reader leaves them to it.
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\", cmd = \"x\")\n", false},
	{"genrule(name = \"a\", outs = [\"a\"], cmd = \"\")\ngenrule(name = \"a\", outs = [\"b\"], cmd = \"\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\", nope = 1)\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"])\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\", exec_properties = {\"a\": \"b\", \"a\": \"c\"})\n", false},
	{"  genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\") genrule(name = \"h\", outs = [\"h.txt\"], cmd = \"\")\n", false},
	{"genrule(\"g\", outs = [\"g.txt\"], cmd = \"\")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = 017)\n", false},
	{"nothing(name = \"g\")\n", false},
	{"filegroup(name = \"f\", srcs = " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + ")\n", false},
	{"genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"\"\n", false},
}

// TestDeclarativeIsStarlark checks that a BUILD.star the declarative
// reader takes gives the package Starlark gives (positions included), and
// that it leaves to Starlark what it should.
func TestDeclarativeIsStarlark(t *testing.T) {
	for _, tc := range declarativeCases {
		root := t.TempDir()
		writeBuild(t, root, tc.src)
		want, got, wantErr, gotErr, declarative := loadBoth(t, root)
		if declarative != tc.declarative {
			t.Errorf("%q: declarative = %v, want %v", tc.src, declarative, tc.declarative)
		}
		if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
			t.Errorf("%q: error %v, want Starlark's %v", tc.src, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: package differs from Starlark's (-starlark +declarative):\n%s", tc.src, diff)
		}
		if tc.declarative && (len(got) < 2 || gotErr != nil) {
			t.Errorf("%q: nothing compared (%v)", tc.src, gotErr)
		}
	}
}

// FuzzDeclarative checks TestDeclarativeIsStarlark's property on any
// input: whatever the reader takes, Starlark reads the same.
func FuzzDeclarative(f *testing.F) {
	for _, tc := range declarativeCases {
		f.Add(tc.src)
	}
	root := f.TempDir()
	writeBuild(f, root, "")
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(src, "*") {
			t.Skip("repetition can make one allocation larger than memory")
		}
		if err := os.WriteFile(filepath.Join(root, "p", "BUILD.star"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		want, got, wantErr, gotErr, _ := loadBoth(t, root)
		if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
			t.Errorf("%q: error %v, want Starlark's %v", src, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: package differs from Starlark's (-starlark +declarative):\n%s", src, diff)
		}
	})
}

// TestDeclarativeRecordsLoads checks that the loads a package records
// (recordLoad: what PackageFiles, the snapshot's staleness check and the
// incremental index use) are the same whichever reader read it.
func TestDeclarativeRecordsLoads(t *testing.T) {
	loads := func(root string, starlarkOnly bool) (files []string, all map[string][]string, err error) {
		l := New(Options{Root: root, Builtins: rules.Files, MaxSteps: 200_000})
		l.starlarkOnly = starlarkOnly
		_, err = l.LoadPackage(context.Background(), "p")
		all = map[string][]string{}
		l.mu.Lock()
		for k, v := range l.loads {
			all[k] = append([]string(nil), v...)
		}
		l.mu.Unlock()
		return l.PackageFiles("p"), all, err
	}
	compared := 0
	for _, tc := range declarativeCases {
		root := t.TempDir()
		writeBuild(t, root, tc.src)
		wantFiles, wantAll, wantErr := loads(root, true)
		files, all, err := loads(root, false)
		if diff := cmp.Diff(wantFiles, files); diff != "" {
			t.Errorf("%q: PackageFiles differ (-starlark +declarative):\n%s", tc.src, diff)
		}
		// A file Starlark rejects before it runs loads nothing; the
		// declarative reader may have loaded modules (whose own loads
		// are then recorded) before it gave the file to Starlark.
		if wantErr == nil && err == nil {
			if diff := cmp.Diff(wantAll, all); diff != "" {
				t.Errorf("%q: recorded loads differ (-starlark +declarative):\n%s", tc.src, diff)
			}
		}
		if tc.declarative && strings.HasPrefix(tc.src, "load(\":rules.star\"") {
			compared++
			if want := []string{"p/BUILD.star", "p/consts.star", "p/rules.star"}; !cmp.Equal(want, files) {
				t.Errorf("%q: PackageFiles = %q, want %q", tc.src, files, want)
			}
		}
	}
	if compared == 0 {
		t.Error("no declarative case loads :rules.star")
	}
}
