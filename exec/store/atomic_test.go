package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRemoveAbandonedTemps: a killed writer's ".tmp-*" files go, nothing
// else does, and a missing directory is no error.
func TestRemoveAbandonedTemps(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".tmp-123", ".tmp-analysis-9", "analysis", ".bld-tmp-x", "tmp-not"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".tmp-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveAbandonedTemps(dir)
	if err != nil || n != 2 {
		t.Fatalf("RemoveAbandonedTemps = %d, %v; want 2", n, err)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if diff := cmp.Diff([]string{".bld-tmp-x", ".tmp-dir", "analysis", "tmp-not"}, left); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if n, err := RemoveAbandonedTemps(filepath.Join(dir, "absent")); n != 0 || err != nil {
		t.Errorf("a missing directory: %d, %v", n, err)
	}
}
