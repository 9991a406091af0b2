package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"bld/exec/digest"
)

func TestBlobs(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	work := t.TempDir()
	src := filepath.Join(work, "src.o")
	writeFile(t, src, "object code\n", 0o755)

	d, fi, err := s.PutFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.OfBytes([]byte("object code\n")); d != want || fi.Size() != want.Size {
		t.Fatalf("PutFile = %v (size %d), want %v", d, fi.Size(), want)
	}
	if bfi, err := os.Stat(s.blobPath(d.Hash)); err != nil || bfi.Mode().Perm() != blobMode {
		t.Errorf("blob: %v, %v; want mode %v", bfi, err, blobMode)
	}
	if got, err := s.ReadBlob(d); err != nil || string(got) != "object code\n" {
		t.Errorf("ReadBlob = %q, %v", got, err)
	}
	if d2, err := s.PutBytes([]byte("object code\n")); err != nil || d2 != d {
		t.Errorf("PutBytes of the same content = %v, %v; want %v", d2, err, d)
	}

	for _, perm := range []os.FileMode{0o644, 0o755} {
		dest := filepath.Join(work, "out", perm.String(), "restored.o")
		writeFile(t, dest, "stale\n", 0o600)
		rfi, _, err := s.Restore(d, dest, "", perm)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dest)
		now, _ := os.Stat(dest)
		if string(got) != "object code\n" || now.Mode().Perm() != perm || !os.SameFile(rfi, now) {
			t.Errorf("restored %q mode %v, want the blob with mode %v", got, now.Mode(), perm)
		}
		if os.SameFile(now, mustStat(t, s.blobPath(d.Hash))) {
			t.Errorf("restored file is a hard link to the blob")
		}
	}

	missing := digest.OfBytes([]byte("never stored"))
	if _, err := s.ReadBlob(missing); !errors.Is(err, ErrMissing) {
		t.Errorf("ReadBlob of a missing blob: %v, want ErrMissing", err)
	}
	if _, _, err := s.Restore(missing, filepath.Join(work, "x"), "", 0o644); !errors.Is(err, ErrMissing) {
		t.Errorf("Restore of a missing blob: %v, want ErrMissing", err)
	}
}

func TestCorruptBlobNotServed(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	work := t.TempDir()
	for _, name := range []string{"ReadBlob", "Restore"} {
		t.Run(name, func(t *testing.T) {
			d, err := s.PutBytes([]byte("the real content\n"))
			if err != nil {
				t.Fatal(err)
			}
			flipByte(t, s.blobPath(d.Hash), 3)
			dest := filepath.Join(work, name)
			writeFile(t, dest, "previous\n", 0o644)
			if name == "ReadBlob" {
				_, err = s.ReadBlob(d)
			} else {
				_, _, err = s.Restore(d, dest, "", 0o644)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s of a corrupt blob: %v, want ErrCorrupt", name, err)
			}
			if _, err := os.Stat(s.blobPath(d.Hash)); !os.IsNotExist(err) {
				t.Errorf("corrupt blob not removed: %v", err)
			}
			if got, _ := os.ReadFile(dest); string(got) != "previous\n" {
				t.Errorf("destination = %q, want it untouched", got)
			}
			if m, _ := filepath.Glob(filepath.Join(work, OutputTempPrefix+"*")); len(m) != 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}

func mustStat(t testing.TB, name string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// Restore with a tmpDir makes its copy there (creating it), not beside
// dest, so that a process killed while restoring leaves nothing beside the
// outputs.
func TestRestoreThroughTmpDir(t *testing.T) {
	s, work := openStore(t, t.TempDir(), Options{}), t.TempDir()
	d, err := s.PutBytes([]byte("object code\n"))
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(work, "out", "restored.o")
	tmpDir := filepath.Join(work, "staging", "sub")
	if _, _, err := s.Restore(d, dest, tmpDir, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "object code\n" {
		t.Errorf("restored %q", got)
	}
	if fi, err := os.Stat(tmpDir); err != nil || !fi.IsDir() {
		t.Errorf("the copy was not made in %s: %v", tmpDir, err)
	}
	if entries, _ := os.ReadDir(tmpDir); len(entries) != 0 {
		t.Errorf("%s still holds %d files", tmpDir, len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 1 {
		t.Errorf("dest's directory holds %d files, want only dest", len(entries))
	}
}
