package build

import (
	"os"
	"path/filepath"
	"testing"
)

// MakeOutputDir creates bld-out/, also with a missing parent, and leaves
// an existing one (and what is in it) as it is.
func TestMakeOutputDir(t *testing.T) {
	l := Layout{Root: filepath.Join(t.TempDir(), "ws")}
	if err := l.MakeOutputDir(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(l.OutputDir()); err != nil || !fi.IsDir() {
		t.Fatalf("bld-out/ after MakeOutputDir: %v, %v", fi, err)
	}
	kept := filepath.Join(l.OutputDir(), "kept")
	if err := os.WriteFile(kept, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.MakeOutputDir(); err != nil {
		t.Fatalf("MakeOutputDir on an existing bld-out/: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("MakeOutputDir on an existing bld-out/ lost its files: %v", err)
	}

	// A file where bld-out/ should be is an error, not a success.
	l2 := Layout{Root: t.TempDir()}
	if err := os.WriteFile(l2.OutputDir(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l2.MakeOutputDir(); err == nil {
		t.Fatal("MakeOutputDir with a file at bld-out: no error")
	}
}

// A new bld-out/ is marked as the top of a directory hierarchy where the
// file system keeps the flag (ext4, as /tmp here; see markTopDir), so
// that the package directories under it spread over block groups.
func TestMakeOutputDirMarksTopDir(t *testing.T) {
	l := Layout{Root: t.TempDir()}
	if err := l.MakeOutputDir(); err != nil {
		t.Fatal(err)
	}
	marked, known := topDirMarked(l.OutputDir())
	if !known {
		t.Skipf("the file system of %s has no inode flags", l.Root)
	}
	if !marked {
		// Some file systems (tmpfs) report flags but refuse this one;
		// try it on a probe to tell that from a bug here.
		probe := filepath.Join(l.Root, "probe")
		if err := os.Mkdir(probe, 0o755); err != nil {
			t.Fatal(err)
		}
		markTopDir(probe)
		if m, _ := topDirMarked(probe); !m {
			t.Skipf("the file system of %s does not keep the top-of-hierarchy flag", l.Root)
		}
		t.Fatal("a new bld-out/ is not marked as the top of a directory hierarchy")
	}
	// An existing bld-out/ is left as it is: no flag set on it.
	l2 := Layout{Root: t.TempDir()}
	if err := os.Mkdir(l2.OutputDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l2.MakeOutputDir(); err != nil {
		t.Fatal(err)
	}
	if m, _ := topDirMarked(l2.OutputDir()); m {
		t.Fatal("MakeOutputDir marked a bld-out/ it did not create")
	}
}
