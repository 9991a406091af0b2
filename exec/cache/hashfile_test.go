//go:build linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly

package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"bld/exec/digest"
	"bld/exec/regfile"
)

// readHashed digests the whole file, whatever its size, reading no
// further than the size fstat gave, and its stamps before and after
// agree for a file nothing changed.
func TestReadHashedSizes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 7, 32<<10 - 1, 32 << 10, 32<<10 + 1, 100 << 10} {
		data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, keep := range []int64{-1, int64(n)} {
			h, err := readHashed(p, keep)
			if err != nil {
				t.Fatalf("readHashed(%d bytes, keep %d): %v", n, keep, err)
			}
			if want := digest.OfBytes(data); h.d != want {
				t.Errorf("readHashed(%d bytes, keep %d) = %v, want %v", n, keep, h.d, want)
			}
			if !h.consistent() {
				t.Errorf("readHashed(%d bytes, keep %d): not consistent: %+v, %+v", n, keep, h.before, h.after)
			}
		}
	}
}

// A file whose size says nothing of its content (/proc's say 0) is read
// to its end: its digest is that of its content, which does not match its
// stamp, so no memo or record trusts it.
func TestReadHashedSizeZeroPseudoFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	const p = "/proc/self/status"
	h, err := readHashed(p, -1)
	if err != nil {
		t.Fatal(err)
	}
	if h.before.size != 0 {
		t.Skipf("%s has size %d", p, h.before.size)
	}
	if h.d.Size == 0 {
		t.Errorf("readHashed(%s) read nothing: a size of 0 stopped it", p)
	}
	if h.consistent() {
		t.Errorf("readHashed(%s) is consistent with a stamp of size 0", p)
	}
}

// digestUnknown hashes a file the memo does not know without a stat
// first, and learns it; it leaves known files, and anything it cannot
// hash, to stampedDigest.
func TestMemoDigestUnknown(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("content"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := loadMemo(filepath.Join(dir, "memo"))
	d, st, ok := m.digestUnknown("f", p)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || d != digest.OfBytes([]byte("content")) || st != stampOf(fi) {
		t.Fatalf("digestUnknown = %v, %+v, %v; want the content's digest and %+v", d, st, ok, stampOf(fi))
	}
	if !st.exec {
		t.Errorf("digestUnknown lost the executable bit")
	}
	if e, found := m.peek("f"); !found || e.digest() != d || e.st.size != st.size || e.st.mtime != st.mtime || e.st.ino != st.ino {
		t.Errorf("memo did not learn the file: %+v, %v", e, found)
	}
	// Known now: left to stampedDigest, which may need only a stat.
	if _, _, ok := m.digestUnknown("f", p); ok {
		t.Errorf("digestUnknown hashed a file the memo knows")
	}
	// A directory, a missing file and a FIFO are not hashed, and the memo
	// learns nothing of them; fileDigest says what is wrong.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFO:", err)
	}
	for _, name := range []string{"sub", "missing", "fifo"} {
		q := filepath.Join(dir, name)
		if name == "sub" {
			if err := os.Mkdir(q, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, ok := m.digestUnknown(name, q); ok {
			t.Errorf("digestUnknown(%s) = ok", name)
		}
		if _, found := m.peek(name); found {
			t.Errorf("memo learned %s", name)
		}
		if _, _, err := m.fileDigest(name, q); err == nil {
			t.Errorf("fileDigest(%s): no error", name)
		} else if name == "fifo" && !errors.As(err, new(*regfile.NotRegularError)) && !bytes.Contains([]byte(err.Error()), []byte("not a regular file")) {
			t.Errorf("fileDigest(fifo) = %v", err)
		}
	}
}
