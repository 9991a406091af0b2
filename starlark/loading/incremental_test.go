package loading_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/starlark/label"
)

// Expand's answer is the sorted union of PatternTargets over the packages
// it loaded, and PackageFiles lists the .star files each package loaded,
// directly or not.
func TestPatternTargetsAndPackageFiles(t *testing.T) {
	files := map[string]string{
		"tools/base.star": "X = 1\n",
		"tools/defs.star": `load(":base.star", "X")
Y = X
`,
		"a/BUILD.star": `load("//tools:defs.star", "Y")
genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")
genrule(name = "m", outs = ["m.txt"], cmd = "echo > $@", tags = ["manual"])
`,
		"a/src.c":        "",
		"a/b/BUILD.star": `genrule(name = "h", outs = ["h.txt"], cmd = "echo > $@")` + "\n",
		"c/BUILD.star":   `load("//tools:base.star", "X")` + "\n" + `filegroup(name = "f", srcs = ["x.c"])` + "\n",
		"c/x.c":          "",
	}
	for _, patterns := range [][]string{
		{"//..."},
		{"//a/..."},
		{"//a:all", "//c:f"},
		{"//a:m", "//a:src.c", "//a:g.txt", "//c/..."},
		{"//a/b:all", "//a:g"},
	} {
		l := newLoader(t, files)
		var ps []label.Pattern
		for _, s := range patterns {
			p, err := label.ParsePattern(s, "")
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		want, err := l.Expand(context.Background(), ps)
		if err != nil {
			t.Fatal(err)
		}
		var got []label.Label
		for _, pkg := range l.LoadedPackages() {
			p, err := l.LoadPackage(context.Background(), pkg)
			if err != nil {
				t.Fatal(err)
			}
			ls, err := l.PatternTargets(p, ps)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ls...)
		}
		slices.SortFunc(got, func(a, b label.Label) int {
			if label.Less(a, b) {
				return -1
			}
			if label.Less(b, a) {
				return 1
			}
			return 0
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: PatternTargets over packages (-Expand +got):\n%s", patterns, diff)
		}
	}

	l := newLoader(t, files)
	for _, pkg := range []string{"a", "a/b", "c"} {
		if _, err := l.LoadPackage(context.Background(), pkg); err != nil {
			t.Fatal(err)
		}
	}
	for pkg, want := range map[string][]string{
		"a":   {"a/BUILD.star", "tools/base.star", "tools/defs.star"},
		"a/b": {"a/b/BUILD.star"},
		"c":   {"c/BUILD.star", "tools/base.star"},
	} {
		if diff := cmp.Diff(want, l.PackageFiles(pkg)); diff != "" {
			t.Errorf("PackageFiles(%q) (-want +got):\n%s", pkg, diff)
		}
	}
	if diff := cmp.Diff([]string{"a", "a/b", "c"}, l.LoadedPackages()); diff != "" {
		t.Errorf("LoadedPackages (-want +got):\n%s", diff)
	}
}
