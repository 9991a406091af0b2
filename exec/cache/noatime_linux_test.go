package cache

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Hashing a file leaves its access time as it was: an output is hashed
// right after its command wrote it, when relatime (atime not after mtime)
// would update it.
func TestReadHashedKeepsAtime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(path, []byte("output\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	atime := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, atime, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := readHashed(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(st.Atim.Unix()); !got.Equal(atime) {
		t.Fatalf("atime after readHashed = %v, want %v (unchanged)", got, atime)
	}
}
