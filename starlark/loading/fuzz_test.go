package loading_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// positioned matches the file:line:col that every loading error names.
var positioned = regexp.MustCompile(`(BUILD\.star|\.star):\d+:\d+`)

// FuzzBuildFile evaluates arbitrary bytes as a BUILD.star, then analyzes
// the targets it declares: nothing panics, nothing runs past its bounds
// (steps, memory, a deadline), and a file that fails to load says where.
//
// Inputs holding '*' are skipped: a repetition ([0] * (1 << 29)) is one
// allocation, which no bound inside bld can stop before the machine runs
// out of memory (the limit WatchMemory documents).
func FuzzBuildFile(f *testing.F) {
	for _, seed := range []string{
		`genrule(name = "g", srcs = ["a.c"], outs = ["g.txt"], cmd = "cp $< $@")`,
		`filegroup(name = "f", srcs = glob(["*.c"]))`,
		`cc_unit(name = "u", srcs = ["a.c"], hdrs = ["a.h"], includes = ["."])` + "\n" + `cc_binary(name = "b", srcs = ["a.c"], deps = [":u"])`,
		"def f(n):\n    return f(n + 1)\n\nf(0)\n",
		"x = 3 3\n",
		"def _impl(ctx):\n    out = ctx.actions.declare_file(ctx.label.name)\n    ctx.actions.write(out, \"x\")\n    return [DefaultInfo(files = [out])]\n\nr = rule(implementation = _impl, attrs = {\"deps\": attr.label_list()})\nr(name = \"a\", deps = [\":b\"])\nr(name = \"b\")\n",
		"P = provider(fields = [\"x\"])\nd = depset([1, 2], transitive = [depset([3])])\nprint(d.to_list(), P(x = 1), Label(\"//a:b\"), package_name())\n",
		`load("//p:defs.star", "x")`,
		"genrule(name = \"a\", outs = [\"a\"], cmd = \"\")\ngenrule(name = \"a\", outs = [\"b\"], cmd = \"\")\n",
		"s = 'x'\nfor i in range(40):\n    s = s + s\n",
	} {
		f.Add([]byte(seed))
	}
	root := f.TempDir()
	for p, c := range map[string]string{"WORKSPACE.star": "", "p/a.c": "int x;\n", "p/a.h": "", "p/defs.star": "x = 1\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.IndexByte(src, '*') >= 0 {
			t.Skip("repetition can make one allocation larger than memory")
		}
		if err := os.WriteFile(filepath.Join(root, "p", "BUILD.star"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		l := loading.New(loading.Options{Root: root, Builtins: rules.Files, MaxSteps: 200_000, MaxMemory: 256 << 20})
		stop := l.WatchMemory(nil)
		defer stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pkg, err := l.LoadPackage(ctx, "p")
			if err != nil {
				if !positioned.MatchString(err.Error()) {
					t.Errorf("loading error without file:line:col: %v", err)
				}
				return
			}
			an := analysis.New(l, analysis.Config{}, []string{"PATH=/bin"}, nil)
			for _, name := range pkg.TargetNames() {
				an.Analyze(ctx, label.Label{Pkg: "p", Name: name})
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("evaluating %q did not end 25 s after its deadline", src)
		}
	})
}
