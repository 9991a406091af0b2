package regfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// within fails the test if f has not returned within 5 s (a blocked open
// of a FIFO never returns).
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked for 5 s")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("file", link); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifolink")
	if err := os.Symlink("fifo", fifoLink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		follow bool
		kind   string // "" for no error
	}{
		{file, false, ""},
		{link, true, ""},
		{link, false, "a symbolic link"},
		{fifo, false, "a FIFO"},
		{fifo, true, "a FIFO"},
		{fifoLink, true, "a FIFO"},
		{dir, true, "a directory"},
		{"/dev/null", true, "a character device"},
	} {
		within(t, func() {
			data, _, err := ReadFile(tc.name, tc.follow)
			var nr *NotRegularError
			switch {
			case tc.kind == "" && (err != nil || string(data) != "data"):
				t.Errorf("ReadFile(%s, %v) = %q, %v; want \"data\"", tc.name, tc.follow, data, err)
			case tc.kind != "" && !errors.As(err, &nr):
				t.Errorf("ReadFile(%s, %v) error = %v; want a NotRegularError", tc.name, tc.follow, err)
			case tc.kind != "" && Kind(nr.Mode) != tc.kind:
				t.Errorf("ReadFile(%s, %v) error = %v; want %s", tc.name, tc.follow, err, tc.kind)
			}
		})
	}
	if _, _, err := Open(filepath.Join(dir, "none"), false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v; want ErrNotExist", err)
	}
}

func TestReadFileSizes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 4096, 100_000} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		name := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, fi, err := ReadFile(name, true)
		if err != nil || !bytes.Equal(got, data) || fi.Size() != int64(n) {
			t.Errorf("ReadFile of %d bytes = %d bytes, %v; want them all", n, len(got), err)
		}
	}
}
