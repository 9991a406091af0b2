package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"bld/exec/digest"
)

// wantFault fails the test unless err is a Fault wrapping want (any
// error if want is nil).
func wantFault(t *testing.T, what string, err error, want error) {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: %v (%T), want a Fault of %v", what, err, err, want)
	}
}

// A directory where a blob or an entry should be: reads and writes are
// Faults, the caller's files are left alone, and Verify removes it.
func TestDirectoryInPlace(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{PackMax: -1})
	work := t.TempDir()
	key := keyOf("an action")
	d := putResult(t, s, key, "content\n")[0]
	for _, p := range []string{s.blobPath(d.Hash), s.entryPath(key)} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(p, "inside"), "x", 0o644)
	}
	dest := filepath.Join(work, "out")
	writeFile(t, dest, "previous\n", 0o644)

	_, err := s.GetEntry(key)
	wantFault(t, "GetEntry", err, errNotFile)
	_, _, err = s.Restore(d, dest, "", 0o644)
	wantFault(t, "Restore", err, errNotFile)
	_, err = s.ReadBlob(d)
	wantFault(t, "ReadBlob", err, errNotFile)
	if got, _ := os.ReadFile(dest); string(got) != "previous\n" {
		t.Errorf("Restore changed its destination: %q", got)
	}
	src := filepath.Join(work, "src")
	writeFile(t, src, "content\n", 0o644)
	// Renaming a file over a directory fails (EISDIR, EEXIST or
	// ENOTEMPTY, as the system pleases).
	_, _, err = s.PutFile(src)
	wantFault(t, "PutFile", err, nil)
	_, err = s.PutBytes([]byte("content\n"))
	wantFault(t, "PutBytes", err, nil)
	wantFault(t, "PutEntry", s.PutEntry(key, nil, nil), nil)

	rep, err := s.Verify()
	if err != nil || len(rep.BadBlobs) != 1 || len(rep.BadEntries) != 1 {
		t.Errorf("Verify = %+v, %v; want the blob and the entry", rep, err)
	}
	for _, p := range []string{s.blobPath(d.Hash), s.entryPath(key)} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("Verify left %s", p)
		}
	}
	if rep, err := s.Verify(); err != nil || !rep.OK() {
		t.Errorf("second Verify = %+v, %v", rep, err)
	}
}

// Errors of the caller's files are not Faults.
func TestCallerErrorsAreNotFaults(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	work := t.TempDir()
	_, _, err := s.PutFile(filepath.Join(work, "missing"))
	if err == nil || IsFault(err) {
		t.Errorf("PutFile of a missing file: %v, want a non-Fault error", err)
	}
	_, _, err = s.PutFile(work)
	if err == nil || IsFault(err) {
		t.Errorf("PutFile of a directory: %v, want a non-Fault error", err)
	}
	d, err := s.PutBytes([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(work, "file")
	writeFile(t, blocked, "", 0o644)
	_, _, err = s.Restore(d, filepath.Join(blocked, "below"), "", 0o644)
	if err == nil || IsFault(err) {
		t.Errorf("Restore below a file: %v, want a non-Fault error", err)
	}
}

// TestReadOnly and TestFull run the store in a private user and mount
// namespace (this test binary, re-executed under unshare -Urm), over a
// read-only bind mount of a populated store and over a full tmpfs.

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	key := keyOf("stored before")
	putResult(t, s, key, "restorable\n")
	runFaultHelper(t, dir, `mount --bind "$D" "$D" && mount -o remount,ro,bind "$D"`, "readonly")
}

func TestFull(t *testing.T) {
	runFaultHelper(t, t.TempDir(), `mount -t tmpfs -o size=256k none "$D"`, "full")
}

// runFaultHelper runs TestFaultHelper with mode in a new namespace, after
// the shell commands setup have run there with $D set to dir.
func runFaultHelper(t *testing.T, dir, setup, mode string) {
	if out, err := exec.Command("unshare", "-Urm", "true").CombinedOutput(); err != nil {
		t.Fatalf("this test needs user and mount namespaces (unshare -Urm true: %v %s); run it where unprivileged namespaces are allowed, or as root", err, out)
	}
	script := "set -e; D=\"$1\"; shift; " + setup + "; exec \"$@\""
	cmd := exec.Command("unshare", "-Urm", "sh", "-c", script, "sh", dir, os.Args[0], "-test.run=^TestFaultHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "BLD_STORE_FAULT="+mode, "BLD_STORE_FAULT_DIR="+dir, "BLD_STORE_FAULT_WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFaultHelper") {
		t.Errorf("%s: %v\n%s", mode, err, out)
	}
}

func TestFaultHelper(t *testing.T) {
	mode := os.Getenv("BLD_STORE_FAULT")
	if mode == "" {
		t.Skip("run by TestReadOnly and TestFull")
	}
	s := openStore(t, os.Getenv("BLD_STORE_FAULT_DIR"), Options{})
	work := os.Getenv("BLD_STORE_FAULT_WORK")
	src := filepath.Join(work, "big")
	writeFile(t, src, strings.Repeat("x", 300<<10), 0o644)
	switch mode {
	case "readonly":
		key := keyOf("stored before")
		e, err := s.GetEntry(key)
		if err != nil {
			t.Fatalf("GetEntry from a read-only store: %v", err)
		}
		dest := filepath.Join(work, "restored")
		if _, _, err := s.Restore(e.Refs[0], dest, "", 0o644); err != nil {
			t.Fatalf("Restore from a read-only store: %v", err)
		}
		s.MarkUsed(key, e.Used.AddDate(-1, 0, 0)) // cannot touch: no matter
		_, _, err = s.PutFile(src)
		wantFault(t, "PutFile", err, syscall.EROFS)
		_, err = s.PutBytes([]byte("new"))
		wantFault(t, "PutBytes", err, syscall.EROFS)
		wantFault(t, "PutEntry", s.PutEntry(keyOf("new"), nil, nil), syscall.EROFS)
		wantFault(t, "RecordBuild", s.RecordBuild(1, 1), syscall.EROFS)
	case "full":
		_, _, err := s.PutFile(src)
		wantFault(t, "PutFile", err, syscall.ENOSPC)
		_, err = s.PutBytes(make([]byte, 300<<10))
		wantFault(t, "PutBytes", err, syscall.ENOSPC)
		// What fits is still stored, and no temporary file is left.
		d, err := s.PutBytes([]byte("small"))
		if err != nil {
			t.Fatalf("PutBytes of a small blob: %v", err)
		}
		if got, err := s.ReadBlob(d); err != nil || string(got) != "small" {
			t.Errorf("ReadBlob = %q, %v", got, err)
		}
		if m, _ := filepath.Glob(filepath.Join(s.Dir(), "cas", tmpPrefix+"*")); len(m) != 0 {
			t.Errorf("temporary files left: %v", m)
		}
		// A packed entry that does not fit is cut off the pack, and the
		// next one is stored and read by another Store.
		wantFault(t, "PutEntry", s.PutEntry(keyOf("big"), make([]byte, 300<<10), nil), syscall.ENOSPC)
		if err := s.PutEntry(keyOf("small"), []byte("fits"), nil); err != nil {
			t.Fatalf("PutEntry of a small entry after a failed one: %v", err)
		}
		r := openStore(t, s.Dir(), Options{})
		if e, err := r.GetEntry(keyOf("small")); err != nil || string(e.Payload) != "fits" {
			t.Errorf("GetEntry of the small entry: %q, %v", e.Payload, err)
		}
		if _, err := r.GetEntry(keyOf("big")); !errors.Is(err, ErrMissing) {
			t.Errorf("GetEntry of the entry that did not fit: %v, want ErrMissing", err)
		}
		big := digest.OfBytes(make([]byte, 300<<10))
		if _, err := s.ReadBlob(big); !errors.Is(err, ErrMissing) {
			t.Errorf("ReadBlob of what did not fit: %v, want ErrMissing", err)
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}
