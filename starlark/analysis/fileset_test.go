package analysis

import (
	"fmt"
	"testing"
)

// TestFileSet checks the set of files an implementation's actions write,
// below, at and past the size where it takes a map.
func TestFileSet(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, fileSetListMax, fileSetListMax + 1, 3 * fileSetListMax} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			files := make([]*File, n+5)
			for i := range files {
				files[i] = &File{Path: fmt.Sprintf("bld-out/p/f%d", i)}
			}
			var s fileSet
			for i, f := range files[:n] {
				if s.has(f) {
					t.Fatalf("after %d adds, has(%s) before it is added", i, f.Path)
				}
				s.add(f)
				for j, g := range files {
					if got, want := s.has(g), j <= i; got != want {
						t.Fatalf("after adding %d files, has(%s) = %v, want %v", i+1, g.Path, got, want)
					}
				}
			}
			// A file equal to one added but not the same is not in it.
			if n > 0 && s.has(&File{Path: files[0].Path}) {
				t.Errorf("has is true for a copy of a file added")
			}
		})
	}
}
