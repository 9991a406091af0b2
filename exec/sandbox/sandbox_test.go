package sandbox

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/depfile"
	"bld/exec/graph"
)

// TestMain lets this test binary serve as the namespace helper.
func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeAuto, ModeNamespace, ModeSymlinks, ModeOff} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("chroot"); err == nil {
		t.Error("ParseMode(chroot) succeeded")
	}
}

// tree describes dir: each entry's slash path, "dir" or "-> target".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			got[filepath.ToSlash(rel)] = "-> " + target
		case d.IsDir():
			got[filepath.ToSlash(rel)] = "dir"
		default:
			got[filepath.ToSlash(rel)] = "file"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuildForest(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{"pkg/a.c", "pkg/data/x.txt", "pkg/data", "bld-out/pkg/gen.h", "top.h"}
	outputs := []string{"bld-out/pkg/a.o", "bld-out/other/deep/b.o"}
	if err := buildForest(dir, "/W", inputs, outputs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pkg":                "dir",
		"pkg/a.c":            "-> /W/pkg/a.c",
		"pkg/data":           "-> /W/pkg/data", // a directory input: one link; x.txt is seen through it
		"bld-out":            "dir",
		"bld-out/pkg":        "dir",
		"bld-out/pkg/gen.h":  "-> /W/bld-out/pkg/gen.h",
		"bld-out/other":      "dir",
		"bld-out/other/deep": "dir",
		"top.h":              "-> /W/top.h",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("exec root (-want +got):\n%s", diff)
	}
	if err := buildForest(t.TempDir(), "/W", []string{"d"}, []string{"d/out"}); err == nil {
		t.Error("an output inside a directory input was accepted")
	}
}

// layout plans a namespace exec root: the inputs to bind, the output
// directories bound from disk (the top ones) and every output's parent.
func TestLayout(t *testing.T) {
	type result struct{ Binds, Tops, Dirs []string }
	for _, tt := range []struct {
		name            string
		inputs, outputs []string
		want            result
		err             string
	}{
		{
			name:    "a genrule",
			inputs:  []string{"p/in.txt"},
			outputs: []string{"bld-out/p/out.txt"},
			want:    result{[]string{"p/in.txt"}, []string{"bld-out/p"}, []string{"bld-out/p"}},
		},
		{
			name:    "a directory input hides what it holds",
			inputs:  []string{"pkg/data/x.txt", "pkg/data", "pkg/a.c", "top.h", "pkg/data-2"},
			outputs: []string{"bld-out/pkg/a.o", "bld-out/pkg/a.d"},
			want:    result{[]string{"pkg/a.c", "pkg/data", "pkg/data-2", "top.h"}, []string{"bld-out/pkg"}, []string{"bld-out/pkg"}},
		},
		{
			name:    "nested output directories: only the top one is bound",
			inputs:  []string{"bld-out/p/_objs/a.o", "bld-out/p/gen.h"},
			outputs: []string{"bld-out/p/bin", "bld-out/p/sub/deep/x", "bld-out/q/y"},
			want: result{[]string{"bld-out/p/_objs/a.o", "bld-out/p/gen.h"}, []string{"bld-out/p", "bld-out/q"},
				[]string{"bld-out/p", "bld-out/p/sub/deep", "bld-out/q"}},
		},
		{
			name:    "an output at the top: the exec root is the output directory",
			inputs:  []string{"a"},
			outputs: []string{"o", "bld-out/p/x"},
			want:    result{[]string{"a"}, []string{"."}, []string{".", "bld-out/p"}},
		},
		{
			name:   "no outputs",
			inputs: []string{"a"},
			want:   result{Binds: []string{"a"}},
		},
		{
			name:    "an output in a directory input",
			inputs:  []string{"d"},
			outputs: []string{"d/out"},
			err:     "output d/out lies inside an input directory",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			var err error
			got.Binds, got.Tops, got.Dirs, err = layout(tt.inputs, tt.outputs)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("layout (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorkspacePath(t *testing.T) {
	prefixes := []string{"/w/bld-out/.bld/sandbox/7", "/w", FixedExecRoot}
	tests := []struct{ in, want string }{
		{"a.c", "a.c"},
		{"./pkg/../pkg/a.h", "pkg/a.h"},
		{"/w/bld-out/.bld/sandbox/7/pkg/a.h", "pkg/a.h"},
		{"/w/pkg/b.h", "pkg/b.h"},
		{FixedExecRoot + "/bld-out/x.o", "bld-out/x.o"},
		{"/usr/include/stdio.h", "/usr/include/stdio.h"},
		{"/wx/y.h", "/wx/y.h"},
	}
	for _, tt := range tests {
		if got := depfile.Relative(tt.in, prefixes); got != tt.want {
			t.Errorf("depfile.Relative(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRewriteDepfile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.d")
	os.WriteFile(file, []byte("bld-out/a.o: ./a.c "+FixedExecRoot+"/inc/my\\ h.h \\\n /usr/include/stdio.h\n"), 0o644)
	if err := rewriteDepfile(file, []string{FixedExecRoot}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	want := "bld-out/a.o: \\\n  a.c \\\n  inc/my\\ h.h \\\n  /usr/include/stdio.h\n"
	if string(got) != want {
		t.Errorf("rewritten depfile %q, want %q", got, want)
	}
}

func TestHints(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"pkg/local.h", "gen.sh", "pkg/declared.h", "secret.txt"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), nil, 0o755)
	}
	a := &graph.Action{Inputs: []string{"pkg/a.c", "pkg/declared.h"}, Outputs: []string{"bld-out/pkg/a.o"}}
	hint := func(p string) string {
		return "bld: " + p + " exists in the workspace but is not an input of this action; declare it (hdrs or srcs of a cc rule, srcs or tools of a genrule, inputs of ctx.actions.run)"
	}
	tests := []struct {
		name, output string
		want         []string
	}{
		{"gcc quoted include", "pkg/a.c:1:10: fatal error: local.h: No such file or directory\ncompilation terminated.\n", []string{hint("pkg/local.h")}},
		{"dash", "sh: 1: ./gen.sh: not found\n", []string{hint("gen.sh")}},
		{"helper", "bld sandbox: command ./gen.sh: stat " + FixedExecRoot + "/gen.sh: no such file or directory\n", []string{hint("gen.sh")}},
		{"symlink mode path", "cat: " + root + "/bld-out/.bld/sandbox/12/secret.txt: No such file or directory", []string{hint("secret.txt")}},
		{"cat", "cat: secret.txt: No such file or directory\n", []string{hint("secret.txt")}},
		{"declared input", "fatal error: declared.h: No such file or directory", nil},
		{"not in the workspace", "fatal error: nowhere.h: No such file or directory", nil},
		{"no not-found message", "secret.txt: permission denied", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Hints(root, a, tt.output)); diff != "" {
				t.Errorf("Hints (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNamespace runs a command through the helper and checks what it sees.
func TestNamespace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("namespaces are Linux only")
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("declared\n"), 0o644)
	os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret\n"), 0o644)
	m := NewManager(root, ModeNamespace)
	ctx := context.Background()
	if _, _, err := m.Mode(ctx); err != nil {
		t.Skipf("no namespaces here: %v", err)
	}
	a := &graph.Action{
		Argv: []string{"sh", "-c", `pwd; cat in.txt; cat secret.txt 2>/dev/null || echo hidden; cat ` + root + `/secret.txt 2>/dev/null || echo hidden; echo out > bld-out/o; echo x > extra; id -u`},
		Env:  []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"in.txt"}, Outputs: []string{"bld-out/o"},
	}
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer xr.Remove()
	cmd, err := xr.Command(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := strings.Join([]string{FixedExecRoot, "declared", "hidden", "hidden", strconv.Itoa(os.Getuid())}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if err := xr.Collect(a); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "bld-out/o")); err != nil || string(b) != "out\n" {
		t.Errorf("collected output: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "extra")); err == nil {
		t.Error("a file the command left in its exec root reached the workspace")
	}
}
