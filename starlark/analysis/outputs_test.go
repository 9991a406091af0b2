package analysis_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// declRule is a rule that declares the files of its names attribute with
// declare_file and writes each.
const declRule = `
def _impl(ctx):
    outs = [ctx.actions.declare_file(n) for n in ctx.attr.names]
    for o in outs:
        ctx.actions.write(output = o, content = "x")
    return [DefaultInfo(files = outs)]

decl = rule(implementation = _impl, attrs = {"names": attr.string_list(), "deps": attr.label_list()})
`

// TestConflictingOutputs checks that analysis rejects outputs that cannot
// all exist, naming both declaring targets and where they are declared.
func TestConflictingOutputs(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		target string
		// want are regular expressions the error must match.
		want []string
	}{
		{
			name: "file, then a file beneath it",
			files: map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["a"], cmd = "touch $@")
genrule(name = "y", srcs = [":x"], outs = ["a/b"], cmd = "touch $@")
`},
			target: "//p:y",
			want:   []string{`output bld-out/p/a of //p:x \(at p/BUILD.star:1:8\) is a directory of output bld-out/p/a/b of //p:y \(at p/BUILD.star:2:8\); rename one`},
		},
		{
			name: "file, then a file above it",
			files: map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["a/b/c"], cmd = "touch $@")
genrule(name = "y", srcs = [":x"], outs = ["a/b"], cmd = "touch $@")
`},
			target: "//p:y",
			want:   []string{`output bld-out/p/a/b of //p:y \(at p/BUILD.star:2:8\) is a directory of output bld-out/p/a/b/c of //p:x \(at p/BUILD.star:1:8\); rename one`},
		},
		{
			name: "one rule's own outs",
			files: map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["a", "a/b"], cmd = "touch $(OUTS)")
`},
			target: "//p:x",
			want:   []string{`p/BUILD.star:1:8`, `output bld-out/p/a of //p:x .* is a directory of output bld-out/p/a/b of //p:x`},
		},
		{
			name: "across packages",
			files: map[string]string{
				"p/BUILD.star":   `genrule(name = "x", outs = ["q"], cmd = "touch $@")` + "\n",
				"p/q/BUILD.star": `genrule(name = "y", srcs = ["//p:x"], outs = ["f"], cmd = "touch $@")` + "\n",
			},
			target: "//p/q:y",
			want:   []string{`output bld-out/p/q of //p:x \(at p/BUILD.star:1:8\) is a directory of output bld-out/p/q/f of //p/q:y \(at p/q/BUILD.star:1:8\)`},
		},
		{
			name: "declare_file under another target's file",
			files: map[string]string{"p/BUILD.star": `load(":r.star", "decl")
genrule(name = "x", outs = ["a"], cmd = "touch $@")
decl(name = "y", names = ["a/b.txt"], deps = [":x"])
`, "p/r.star": declRule},
			target: "//p:y",
			want:   []string{`declare_file`, `output bld-out/p/a of //p:x \(at p/BUILD.star:2:8\) is a directory of output bld-out/p/a/b.txt of //p:y \(at p/BUILD.star:3:5\)`},
		},
		{
			name:   `outs = ["."]`,
			files:  map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["."], cmd = "touch $@")` + "\n"},
			target: "//p:x",
			want:   []string{`p/BUILD.star:1:8`, `outs: "\." is not a file name`},
		},
		{
			name:   `declare_file(".")`,
			files:  map[string]string{"p/BUILD.star": `load(":r.star", "decl")` + "\n" + `decl(name = "x", names = ["."])` + "\n", "p/r.star": declRule},
			target: "//p:x",
			want:   []string{`p/BUILD.star:2:5`, `declare_file: "\." is not a file name`},
		},
		{
			name:   "bld's own state",
			files:  map[string]string{"BUILD.star": `genrule(name = "x", outs = [".bld/actions"], cmd = "touch $@")` + "\n"},
			target: "//:x",
			want:   []string{`BUILD.star:1:8`, `bld-out/\.bld is bld's own state; choose another name`},
		},
		{
			name:   "bld's temporary file name",
			files:  map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["d/.bld-tmp-1"], cmd = "touch $@")` + "\n"},
			target: "//p:x",
			want:   []string{`p/BUILD.star:1:8`, `cannot declare bld-out/p/d/\.bld-tmp-1: names starting with "\.bld-tmp-" are bld's temporary files; choose another name`},
		},
		{
			name:   "bld's state directory itself",
			files:  map[string]string{"BUILD.star": `load(":r.star", "decl")` + "\n" + `decl(name = "x", names = [".bld"])` + "\n", "r.star": declRule},
			target: "//:x",
			want:   []string{`bld-out/\.bld is bld's own state`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analyze(t, tt.files, tt.target)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(err.Error()) {
					t.Errorf("error:\n%s\nwant it to match %s", err, w)
				}
			}
		})
	}
}

// TestOutputsThatCanCoexist checks what the conflict check must accept:
// siblings, shared directories, names that only share a prefix.
func TestOutputsThatCanCoexist(t *testing.T) {
	files := map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["a/b", "ab", "a.b"], cmd = "touch $(OUTS)")
genrule(name = "y", srcs = [":x"], outs = ["a/c", "a/d/e", "abc/d"], cmd = "touch $(OUTS)")
genrule(name = "z", srcs = [":y"], outs = [".bldx", "a/d/f"], cmd = "touch $(OUTS)")
`}
	if _, err := analyze(t, files, "//p:z"); err != nil {
		t.Fatal(err)
	}
	root := map[string]string{"BUILD.star": `genrule(name = "x", outs = [".bldrc", "bld/x"], cmd = "touch $(OUTS)")` + "\n"}
	if _, err := analyze(t, root, "//:x"); err != nil {
		t.Fatal(err)
	}
}

// TestManyOutputs checks that the conflict check stays cheap: 100,000
// outputs in nested directories.
func TestManyOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var b strings.Builder
	b.WriteString(`load(":r.star", "decl")` + "\n")
	fmt.Fprintf(&b, "decl(name = \"x\", names = [\"d%%d/e%%d/f%%d\" %% (i %% 100, i %% 1000, i) for i in range(100000)])\n")
	_, err := analyze(t, map[string]string{"p/BUILD.star": b.String(), "p/r.star": declRule}, "//p:x")
	if err != nil {
		t.Fatal(err)
	}
}
