package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bld query and bld build resolve patterns the same way (loading.Expand):
// each pattern is accepted by both or rejected by both, with the same
// error and exit code.
func TestQueryBuildParity(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `genrule(name = "gen", outs = ["gen.txt"], cmd = "echo > $@")
genrule(name = "other", srcs = ["file.txt"], outs = ["other.txt"], cmd = "cp $< $@")
`,
		"app/file.txt": "x\n",
		"app/sub/":     "",
		"empty/":       "",
	})
	type outcome struct {
		Code   int
		Error  string // the "bld: error:" line, if any
		Labels string // what query prints
	}
	for _, tc := range []struct {
		pattern string
		want    outcome
	}{
		{"//app:nope", outcome{Code: exitFailed, Error: `bld: error: no target or file //app:nope: package //app (app/BUILD.star) declares no target "nope" and there is no file app/nope`}},
		{"//app:gne", outcome{Code: exitFailed, Error: `bld: error: no target or file //app:gne: package //app (app/BUILD.star) declares no target "gne" and there is no file app/gne; did you mean //app:gen?`}},
		{"//nopkg:x", outcome{Code: exitFailed, Error: "bld: error: no package //nopkg: there is no directory nopkg"}},
		{"//nopkg/...", outcome{Code: exitFailed, Error: "bld: error: pattern //nopkg/...: no directory \"//nopkg\" in the workspace"}},
		{"//empty", outcome{Code: exitFailed, Error: "bld: error: no package //empty: empty has no BUILD.star file (a directory is a package when it has one)"}},
		{"//app/sub", outcome{Code: exitFailed, Error: "bld: error: no package //app/sub: app/sub has no BUILD.star file (a directory is a package when it has one)"}},
		{"//app:sub", outcome{Code: exitFailed, Error: `bld: error: app/sub is a directory, not a file: name the files in it (glob(["sub/**"])) or a target of its own package`}},
		{"//app:file.txt", outcome{Code: exitOK, Labels: "//app:file.txt\n"}},
		{"//app:gen.txt", outcome{Code: exitOK, Labels: "//app:gen.txt\n"}},
		{"//...", outcome{Code: exitOK, Labels: "//app:gen\n//app:other\n"}},
		{"//app:all", outcome{Code: exitOK, Labels: "//app:gen\n//app:other\n"}},
	} {
		for _, cmd := range []string{"query", "build"} {
			args := []string{cmd, tc.pattern}
			if cmd == "build" {
				args = []string{cmd, "--nobuild", tc.pattern}
			}
			r := w.bld(args...)
			got := outcome{Code: r.code}
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.HasPrefix(line, "bld: error:") {
					got.Error = line
				}
			}
			want := tc.want
			if cmd == "query" {
				got.Labels = r.stdout
			} else {
				want.Labels = ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("bld %s (-want +got):\n%s\n%s", strings.Join(args, " "), diff, r)
			}
		}
	}
}
