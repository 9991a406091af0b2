package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
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

// walkPackages is Packages as filepath.WalkDir and IsPackage find them:
// the oracle of TestPackagesAsWalkDir.
func walkPackages(root, dir string) ([]string, error) {
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if skipDir(rel, d.Name()) {
			return filepath.SkipDir
		}
		if IsPackage(root, rel) {
			pkgs = append(pkgs, rel)
		}
		return nil
	})
	sort.Strings(pkgs)
	return pkgs, err
}

// TestPackagesAsWalkDir: Packages finds what a walk that stats each
// directory's BUILD.star finds, symbolic links (to a BUILD.star, to a
// directory, dangling) and a BUILD.star that is a directory included.
func TestPackagesAsWalkDir(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root,
		"WORKSPACE.star", "BUILD.star",
		"p/BUILD.star", "p/a.c", "p/x/c.c", "p/x/y/BUILD.star",
		"p/sub/BUILD.star", "p/.hidden/BUILD.star", "bld-out/p/BUILD.star",
		"q/real.star", "r/BUILD.star/inner.c", "s/t/u/BUILD.star", "v/.bld/BUILD.star")
	os.Symlink("real.star", filepath.Join(root, "q", "BUILD.star"))
	os.MkdirAll(filepath.Join(root, "w"), 0o755)
	os.Symlink("missing", filepath.Join(root, "w", "BUILD.star"))
	os.Symlink(filepath.Join(root, "p"), filepath.Join(root, "linked"))
	for _, dir := range []string{"", "p", "s", "bld-out", "p/.hidden"} {
		want, wantErr := walkPackages(root, dir)
		got, err := Packages(root, dir)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Packages(%q): error %v, WalkDir's %v", dir, err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Packages(%q) (-WalkDir +got):\n%s", dir, diff)
		}
	}
	if got, _ := Packages(root, ""); !slices.Contains(got, "q") || slices.Contains(got, "r") || slices.Contains(got, "w") || slices.Contains(got, "linked") {
		t.Errorf("Packages = %q: want q (a link to a file), not r (a directory), w (dangling) or linked (a link to a directory)", got)
	}
	if _, err := Packages(root, "nothere"); err == nil {
		t.Error("Packages of a missing directory: no error")
	}
}

// readDir lists what os.ReadDir lists, with the same types, over several
// reads of its buffer.
func TestReadDirAsReadDir(t *testing.T) {
	dir := t.TempDir()
	for i := range 300 {
		name := fmt.Sprintf("file-with-a-rather-long-name-%03d.c", i)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"sub", ".hidden", "BUILD.star.d"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("sub", filepath.Join(dir, "link"))
	os.Symlink("missing", filepath.Join(dir, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Log("no fifo:", err)
	}
	os.WriteFile(filepath.Join(dir, "x\ty z"), nil, 0o644)
	type entry struct {
		Name string
		Type fs.FileMode
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []entry
	for _, e := range entries {
		want = append(want, entry{e.Name(), e.Type()})
	}
	var got []entry
	if err := readDir(dir, make([]byte, 4096), func(name string, typ fs.FileMode) {
		got = append(got, entry{strings.Clone(name), typ})
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b entry) int { return strings.Compare(a.Name, b.Name) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readDir (-os.ReadDir +got):\n%s", diff)
	}
	if err := readDir(filepath.Join(dir, "nothere"), make([]byte, 4096), func(string, fs.FileMode) {}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("readDir of a missing directory: %v, want not found", err)
	}
	if err := readDir(filepath.Join(dir, "x\ty z"), make([]byte, 4096), func(string, fs.FileMode) {}); err == nil {
		t.Error("readDir of a file: no error")
	}
}
