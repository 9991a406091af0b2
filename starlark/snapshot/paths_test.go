package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ReadPaths gives back what WritePaths wrote, sorted, and nothing for a
// file that is missing or not a paths file.
func TestPaths(t *testing.T) {
	file := filepath.Join(t.TempDir(), "paths")
	if got := ReadPaths(file); got != nil {
		t.Errorf("no file: ReadPaths = %q", got)
	}
	if err := WritePaths(file, map[string]bool{"q/b.in": true, "p/a.in": false, "p/sub/c.in": true}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p/a.in", "p/sub/c.in", "q/b.in"}, ReadPaths(file)); diff != "" {
		t.Errorf("ReadPaths (-want +got):\n%s", diff)
	}
	if err := WritePaths(file, map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	if got := ReadPaths(file); got != nil {
		t.Errorf("no paths: ReadPaths = %q", got)
	}
	for _, bad := range []string{"", "p/a.in\x00", pathsHeader + "p/a.in", "bld-paths 0\np/a.in\x00"} {
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := ReadPaths(file); got != nil {
			t.Errorf("ReadPaths of %q = %q, want nothing", bad, got)
		}
	}
}
