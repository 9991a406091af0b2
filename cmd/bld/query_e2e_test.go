package main

// The query language: each function, set operations and output formats,
// over a small workspace.

import (
	"strings"
	"testing"
)

func TestQueryLanguage(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/BUILD.star": `
cc_unit(name = "base", srcs = ["base.c"], hdrs = ["base.h"], copts = ["-O2"])
cc_unit(name = "mid", srcs = ["mid.c"], deps = [":base"])
cc_test(name = "mid_test", srcs = ["mid_test.c"], deps = [":mid"])
`,
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib:mid"])
genrule(name = "gen", outs = ["gen.txt"], cmd = "echo > $@")
`,
		"lib/base.c": "", "lib/base.h": "", "lib/mid.c": "", "lib/mid_test.c": "", "app/main.c": "",
	})
	q := func(args ...string) string {
		t.Helper()
		return w.mustBuild(append([]string{"query"}, args...)...).stdout
	}
	for _, tc := range []struct{ expr, want string }{
		{"deps(//app, 1)", "//app:app\n//app:main.c\n//lib:mid\n"},
		{"rdeps(//..., //lib:base)", "//app:app\n//lib:base\n//lib:mid\n//lib:mid_test\n"},
		{"rdeps(//app, //lib:base, 1)", "//lib:base\n//lib:mid\n"},
		{"somepath(//app, //lib:base.h)", "//app:app\n//lib:base\n//lib:base.h\n//lib:mid\n"},
		{"allpaths(//app, //lib:base)", "//app:app\n//lib:base\n//lib:mid\n"},
		{`kind("cc_test", //...)`, "//lib:mid_test\n"},
		{`kind("source file", deps(//lib:mid))`, "//lib:base.c\n//lib:base.h\n//lib:mid.c\n"},
		{`attr(copts, "-O2", //...)`, "//lib:base\n"},
		{"deps(//app) - deps(//lib:base)", "//app:app\n//app:main.c\n//lib:mid\n//lib:mid.c\n"},
		{"//lib:all ^ rdeps(//..., //lib:mid)", "//lib:mid\n//lib:mid_test\n"},
		{"//app:gen + //lib:base", "//app:gen\n//lib:base\n"},
		{"//app:gen union (//lib:base except //lib:base)", "//app:gen\n"},
	} {
		if got := q(tc.expr); got != tc.want {
			t.Errorf("query %s:\n%s\nwant\n%s", tc.expr, got, tc.want)
		}
	}
	if got, want := q("--output=label", "deps(//app, 1)"), q("deps(//app, 1)"); got != want {
		t.Errorf("--output=label: %q, want the default's %q", got, want)
	}
	wantContains(t, q("--output=label_kind", "deps(//app, 1)"), "cc_binary rule //app:app\nsource file //app:main.c\ncc_unit rule //lib:mid\n")
	wantContains(t, q("--output=build", "//lib:base"), "cc_unit(\n    name = \"base\",\n", `    copts = ["-O2"],`, `    srcs = ["//lib:base.c"],`)
	wantContains(t, q("--output=graph", "deps(//app, 1)"), "digraph bld {", `"//app:app" -> "//lib:mid"`)
	if out := q("--output=files", "//app:gen"); out != "bld-out/app/gen.txt\n" {
		t.Errorf("--output=files: %q", out)
	}
	for _, bad := range []string{"nope(//app)", "deps(//app", "deps(//app, x)", `kind("(", //app)`} {
		r := w.bld("query", bad)
		if r.code != 2 || strings.Contains(r.stderr, "query: query") {
			t.Errorf("query %q: exit %d, want 2 with one message:\n%s", bad, r.code, r)
		}
	}
}
