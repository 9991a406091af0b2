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
	if _, err := buildForest(dir, "/W", inputs, outputs, false); err != nil {
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
	if _, err := buildForest(t.TempDir(), "/W", []string{"d"}, []string{"d/out"}, false); err == nil {
		t.Error("an output inside a directory input was accepted")
	}
}

// With placeholders (namespace mode), each input is an empty file or
// directory of its kind, and the inputs to bind are listed.
func TestBuildForestPlaceholders(t *testing.T) {
	ws, dir := t.TempDir(), t.TempDir()
	for p, c := range map[string]string{"pkg/a.c": "int a;\n", "pkg/data/x.txt": "x", "top.h": "#pragma once\n"} {
		os.MkdirAll(filepath.Join(ws, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(ws, p), []byte(c), 0o644)
	}
	mounted, err := buildForest(dir, ws, []string{"pkg/a.c", "pkg/data/x.txt", "pkg/data", "top.h"}, []string{"bld-out/pkg/a.o"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []mountedInput{{path: "pkg/a.c"}, {path: "pkg/data", dir: true}, {path: "top.h"}}
	if diff := cmp.Diff(want, mounted, cmp.AllowUnexported(mountedInput{})); diff != "" {
		t.Errorf("inputs to bind (-want +got):\n%s", diff)
	}
	for p, kind := range map[string]string{"pkg/a.c": "file", "pkg/data": "dir", "top.h": "file", "bld-out/pkg": "dir"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		switch {
		case err != nil:
			t.Errorf("%s: %v", p, err)
		case kind == "dir" && !fi.IsDir(), kind == "file" && (!fi.Mode().IsRegular() || fi.Size() != 0):
			t.Errorf("%s is %v (size %d), want an empty %s", p, fi.Mode(), fi.Size(), kind)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "pkg/data/x.txt")); err == nil {
		t.Errorf("an input inside a directory input got a placeholder of its own")
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
