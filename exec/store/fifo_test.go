package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"bld/exec/regfile"
)

// noHang fails the test if f has not returned within 10 s: opening a FIFO
// for reading waits for a writer that never comes.
func noHang(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked for 10 s", what)
	}
}

// A FIFO where a blob or an entry should be: reads are Faults and return
// at once, the caller's files are left alone, and Verify removes it.
func TestFIFOInPlace(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{PackMax: -1})
	work := t.TempDir()
	key := keyOf("an action")
	d := putResult(t, s, key, "content\n")[0]
	for _, p := range []string{s.blobPath(d.Hash), s.entryPath(key)} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dest := filepath.Join(work, "out")
	writeFile(t, dest, "previous\n", 0o644)

	noHang(t, "GetEntry", func() {
		_, err := s.GetEntry(key)
		wantFault(t, "GetEntry", err, errNotFile)
	})
	noHang(t, "Restore", func() {
		_, _, err := s.Restore(d, dest, "", 0o644)
		wantFault(t, "Restore", err, errNotFile)
	})
	noHang(t, "ReadBlob", func() {
		_, err := s.ReadBlob(d)
		wantFault(t, "ReadBlob", err, errNotFile)
	})
	if got, _ := os.ReadFile(dest); string(got) != "previous\n" {
		t.Errorf("Restore changed its destination: %q", got)
	}
	noHang(t, "Verify", func() {
		rep, err := s.Verify()
		if err != nil || len(rep.BadBlobs) != 1 || len(rep.BadEntries) != 1 {
			t.Errorf("Verify = %+v, %v; want the blob and the entry", rep, err)
		}
	})
	for _, p := range []string{s.blobPath(d.Hash), s.entryPath(key)} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("Verify left %s", p)
		}
	}
}

// PutFile of a FIFO (an action's output that is not a regular file)
// returns at once with an error of the caller's file, not a Fault, that
// says what the file is.
func TestPutFileFIFO(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	fifo := filepath.Join(t.TempDir(), "out")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	noHang(t, "PutFile", func() {
		_, _, err := s.PutFile(fifo)
		var nr *regfile.NotRegularError
		if IsFault(err) || !errors.As(err, &nr) || err.Error() != fifo+" is not a regular file (a FIFO)" {
			t.Errorf("PutFile of a FIFO: %v (%T), want a NotRegularError, not a Fault", err, err)
		}
	})
}
