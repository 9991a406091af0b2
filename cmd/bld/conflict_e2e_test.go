package main

import "testing"

// TestConflictingOutputsAtAnalysis checks that outputs that cannot all
// exist, and outputs in bld's own state, fail the build at analysis with
// both declaring targets named, before any action runs.
func TestConflictingOutputsAtAnalysis(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		pattern string
		want    []string
	}{
		{
			name: "a file and a file beneath it",
			files: map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["a"], cmd = "echo x > $@")
genrule(name = "y", outs = ["a/b"], cmd = "echo y > $@")
`},
			pattern: "//p:all",
			want:    []string{`p/BUILD.star:2:8`, `output bld-out/p/a of //p:x \(at p/BUILD.star:1:8\) is a directory of output bld-out/p/a/b of //p:y \(at p/BUILD.star:2:8\); rename one`},
		},
		{
			name:    `outs = ["."]`,
			files:   map[string]string{"p/BUILD.star": `genrule(name = "x", outs = ["."], cmd = "echo x > $@")` + "\n"},
			pattern: "//p:x",
			want:    []string{`p/BUILD.star:1:8`, `outs: "\." is not a file name`},
		},
		{
			name:    "bld's own state",
			files:   map[string]string{"BUILD.star": `genrule(name = "x", outs = [".bld/actions"], cmd = "echo x > $@")` + "\n"},
			pattern: "//:x",
			want:    []string{`BUILD.star:1:8`, `bld-out/\.bld is bld's own state; choose another name`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t, tt.files)
			r := w.bld("build", tt.pattern)
			if r.code != 1 {
				t.Fatalf("want exit 1, got:\n%s", r)
			}
			wantMatch(t, r.stderr, tt.want...)
			for _, p := range []string{"bld-out/p/a", "bld-out/p/a/b", "bld-out/p/x"} {
				if w.exists(p) {
					t.Errorf("%s exists: an action ran", p)
				}
			}
		})
	}
}
