package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// names lists the names in dir.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

// WriteOutput writes the file whole with its mode, whatever its name,
// creating its directory, replacing what was there (a read-only file
// included) by a rename, and leaves no temporary file; what it returns is
// what stat says of the file after the rename.
func TestWriteOutput(t *testing.T) {
	binary := bytes.Repeat([]byte{0, 0xff, '\n', 'x'}, 5000)
	for _, tc := range []struct {
		name    string
		content []byte
		perm    os.FileMode
		old     string // content in place before, "" for none
	}{
		{"plain.o", []byte("object\n"), 0o644, ""},
		{"sub dir/out 'q' ;x.txt", []byte("quoted\n"), 0o644, ""},
		{`new/"dq" $(x)` + "\t;rm -rf z", binary, 0o755, ""},
		{"empty", nil, 0o644, ""},
		{"replaced.o", []byte("new\n"), 0o755, "old content, longer than the new\n"},
		{"read-only.o", []byte("new\n"), 0o644, "old\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			dest := filepath.Join(work, "out", tc.name)
			var oldIno os.FileInfo
			if tc.old != "" {
				writeFile(t, dest, tc.old, 0o444)
				oldIno = mustStat(t, dest)
			}
			fi, err := WriteOutput(dest, "", tc.content, tc.perm)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dest)
			if err != nil || !bytes.Equal(got, tc.content) {
				t.Errorf("%s holds %d bytes (%v), want the %d written", tc.name, len(got), err, len(tc.content))
			}
			now := mustStat(t, dest)
			if now.Mode().Perm() != tc.perm || !now.Mode().IsRegular() {
				t.Errorf("mode %v, want %v", now.Mode(), tc.perm)
			}
			if !os.SameFile(fi, now) || fi.ModTime() != now.ModTime() || fi.Size() != now.Size() {
				t.Errorf("WriteOutput returned %v, not the file's stat %v", fi, now)
			}
			if oldIno != nil && os.SameFile(oldIno, now) {
				t.Errorf("the old file was written in place, not replaced")
			}
			if got := names(t, filepath.Dir(dest)); !cmp.Equal(got, []string{filepath.Base(dest)}) {
				t.Errorf("the directory holds %q, want only the output", got)
			}
		})
	}
}

// A WriteOutput or Restore that fails (the destination is a directory)
// leaves the destination as it was and no temporary file, beside it or in
// the tmpDir given.
func TestWriteOutputFails(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	d, err := s.PutBytes([]byte("blob\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpDir := range []string{"", "staging"} {
		work := t.TempDir()
		dest := filepath.Join(work, "out", "is-a-dir")
		writeFile(t, filepath.Join(dest, "inside"), "kept\n", 0o644)
		if tmpDir != "" {
			tmpDir = filepath.Join(work, tmpDir)
		}
		if _, err := WriteOutput(dest, tmpDir, []byte("x"), 0o644); err == nil {
			t.Errorf("WriteOutput over a directory succeeded")
		}
		if _, _, err := s.Restore(d, dest, tmpDir, 0o644); err == nil {
			t.Errorf("Restore over a directory succeeded")
		}
		var temps []string
		filepath.Walk(work, func(p string, fi os.FileInfo, err error) error {
			if err == nil && strings.HasPrefix(fi.Name(), ".") {
				temps = append(temps, p)
			}
			return nil
		})
		if len(temps) != 0 {
			t.Errorf("tmpDir %q: temporary files left: %q", tmpDir, temps)
		}
		if got, _ := os.ReadFile(filepath.Join(dest, "inside")); string(got) != "kept\n" {
			t.Errorf("the directory's file holds %q", got)
		}
	}
}

// Restore's temporary file is made beside dest when tmpDir is "": it
// works where dest's directory is the only place it could be made (here,
// a new directory), and leaves nothing but dest there.
func TestRestoreBeside(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	content := bytes.Repeat([]byte("large object\n"), 10000)
	d, err := s.PutBytes(content)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, perm := range []os.FileMode{0o644, 0o755} {
		dest := filepath.Join(work, perm.String(), "a b;'c'.o")
		fi, _, err := s.Restore(d, dest, "", perm)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dest)
		now := mustStat(t, dest)
		if !bytes.Equal(got, content) || now.Mode().Perm() != perm || !os.SameFile(fi, now) {
			t.Errorf("restored %d bytes mode %v, want %d with mode %v", len(got), now.Mode(), len(content), perm)
		}
		if got := names(t, filepath.Dir(dest)); !cmp.Equal(got, []string{filepath.Base(dest)}) {
			t.Errorf("the directory holds %q, want only the output", got)
		}
	}
	if got := names(t, work); len(got) != 2 {
		t.Errorf("work holds %q, want the two destination directories", got)
	}
}
