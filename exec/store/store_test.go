package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultDir(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/h", "XDG_CACHE_HOME=/x", "BLD_CACHE_DIR=/b"}, "/b"},
		{[]string{"HOME=/h", "XDG_CACHE_HOME=/x"}, "/x/bld"},
		{[]string{"HOME=/h", "XDG_CACHE_HOME=rel"}, "/h/.cache/bld"},
		{[]string{"HOME=/h"}, "/h/.cache/bld"},
	} {
		got, err := DefaultDir(tc.env)
		if err != nil || got != tc.want {
			t.Errorf("DefaultDir(%q) = %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := DefaultDir(nil); err == nil {
		t.Errorf("DefaultDir(nil) succeeded")
	}
}

// renameFile replaces a file with one rename(2), and refuses to put a file
// over a directory, leaving both as they were.
func TestRenameFile(t *testing.T) {
	dir := t.TempDir()
	a, b, d := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "d")
	os.WriteFile(a, []byte("new"), 0o644)
	os.WriteFile(b, []byte("old"), 0o644)
	if err := renameFile(a, b); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(b); err != nil || string(got) != "new" {
		t.Errorf("replaced file: %q, %v", got, err)
	}
	if _, err := os.Lstat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the source is still there: %v", err)
	}
	os.Mkdir(d, 0o755)
	if err := renameFile(b, d); err == nil {
		t.Error("a file renamed over a directory")
	}
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		t.Errorf("the directory: %v, %v", fi, err)
	}
	if err := renameFile(filepath.Join(dir, "missing"), b); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing source: %v, want ErrNotExist", err)
	}
}
