package filestat

import (
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
	none.Drop(func(string) bool { return true }) // no panic

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(2)
	s.Add("p/a", fi)
	s.Add("out/a", fi)
	s.Drop(func(rel string) bool { return strings.HasPrefix(rel, "out/") })
	if got, ok := s.Lookup("p/a"); !ok || got.Size() != 3 {
		t.Errorf("Lookup(p/a) = %v, %v; want the stat of a 3-byte file", got, ok)
	}
	if _, ok := s.Lookup("out/a"); ok || s.Len() != 1 {
		t.Errorf("Drop left out/a, or Len %d != 1", s.Len())
	}
}
