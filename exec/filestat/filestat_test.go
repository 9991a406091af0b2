package filestat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	var none *Set
	if _, ok := none.Lookup("a"); ok || none.Len() != 0 {
		t.Errorf("a nil Set holds something")
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(2)
	s.Add("p/a", Of(fi))
	if got, ok := s.Lookup("p/a"); !ok || got.Size != 3 {
		t.Errorf("Lookup(p/a) = %v, %v; want the stat of a 3-byte file", got, ok)
	}
	if _, ok := s.Lookup("out/a"); ok || s.Len() != 1 {
		t.Errorf("Lookup(out/a) found a path never added, or Len %d != 1", s.Len())
	}
}

// Dir.Stat gives what os.Stat of the joined path gives (Of), links
// followed, and the same errors, whichever way it stats.
func TestDirStat(t *testing.T) {
	root := t.TempDir()
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{"a", 0o644}, {"p/q/b.sh", 0o755}} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f.path)), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f.path), []byte(f.path), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("q/b.sh", filepath.Join(root, "p/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(root, "p/dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "p/q"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	d := OpenDir(root)
	defer d.Close()
	// A Dir whose root cannot be opened stats joined paths.
	missing := OpenDir(filepath.Join(root, "missing"))
	defer missing.Close()
	for _, rel := range []string{"a", "p", "p/q", "p/q/b.sh", "p/link", "p/dangling", "p/q/../../a", "p/none", "a/b", strings.Repeat("x/", 300) + "y", strings.Repeat("p/", 126) + "a", "", "a\x00b", "/a", "p/./q/b.sh"} {
		want, wantErr := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		got, err := d.Stat(rel)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Stat(%q) error %v, os.Stat's %v", rel, err, wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, errors.Unwrap(wantErr)) {
				t.Errorf("Stat(%q) error %v, os.Stat's %v", rel, err, wantErr)
			}
			continue
		}
		if got != Of(want) {
			t.Errorf("Stat(%q) = %+v, want %+v", rel, got, Of(want))
		}
		if _, err := missing.Stat(rel); err == nil {
			t.Errorf("Stat(%q) in a missing root found a file", rel)
		}
	}
	if st, err := d.Stat("p/q/b.sh"); err != nil || !st.Mode.IsRegular() || st.Mode&0o111 == 0 || st.Size != int64(len("p/q/b.sh")) || st.Ino == 0 {
		t.Errorf("Stat(p/q/b.sh) = %+v, %v; want an executable regular file of 8 bytes", st, err)
	}
	if st, err := d.Stat("p/q"); err != nil || !st.Mode.IsDir() || st.Mode&os.ModeSticky == 0 {
		t.Errorf("Stat(p/q) = %+v, %v; want a sticky directory", st, err)
	}
}
