package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindRoot(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "WORKSPACE.star", "a/b/BUILD.star")
	gotRoot, rel, err := FindRoot(filepath.Join(root, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(root); gotRoot != root && gotRoot != want {
		t.Errorf("root = %q, want %q", gotRoot, root)
	}
	if rel != "a/b" {
		t.Errorf("rel = %q, want a/b", rel)
	}
	if _, _, err := FindRoot(t.TempDir()); err == nil {
		t.Error("FindRoot outside a workspace: no error")
	}
}

func TestPackagesAndGlob(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root,
		"WORKSPACE.star", "BUILD.star",
		"p/BUILD.star", "p/a.c", "p/b.c", "p/a.h", "p/x/c.c", "p/x/y/d.c",
		"p/sub/BUILD.star", "p/sub/e.c",
		"p/.hidden/f.c", "bld-out/p/g.c", "bld-out/BUILD.star")
	pkgs, err := Packages(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"", "p", "p/sub"}, pkgs); diff != "" {
		t.Errorf("Packages (-want +got):\n%s", diff)
	}
	tests := []struct {
		include, exclude []string
		want             []string
	}{
		{include: []string{"*.c"}, want: []string{"a.c", "b.c"}},
		{include: []string{"**/*.c"}, want: []string{"a.c", "b.c", "x/c.c", "x/y/d.c"}},
		{include: []string{"**/*.c"}, exclude: []string{"x/**"}, want: []string{"a.c", "b.c"}},
		{include: []string{"*.c", "*.h"}, exclude: []string{"b.c"}, want: []string{"a.c", "a.h"}},
		{include: []string{"*.go"}, want: nil},
	}
	for _, tt := range tests {
		got, err := Glob(root, "p", tt.include, tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Glob(%q, %q) (-want +got):\n%s", tt.include, tt.exclude, diff)
		}
	}
	if _, err := Glob(root, "p", []string{"../*.c"}, nil); err == nil {
		t.Error("Glob with ..: no error")
	}
}
