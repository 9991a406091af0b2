package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/filestat"
	"bld/exec/regfile"
)

func TestReadsChanged(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "WORKSPACE.star", "p/BUILD.star", "p/a.c", "q/BUILD.star")
	ask := func() *Reads {
		v := NewView(root)
		if _, err := v.ReadFile("p/BUILD.star"); err != nil {
			t.Fatal(err)
		}
		v.ReadFile("r/BUILD.star") // absent
		if _, err := v.Glob("p", []string{"*.c"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Packages(""); err != nil {
			t.Fatal(err)
		}
		v.IsFile("p/b.h")
		return v.Reads()
	}
	tests := []struct {
		name   string
		change func()
	}{
		{"nothing", func() {}},
		{"file content", func() { os.WriteFile(filepath.Join(root, "p/BUILD.star"), []byte("x = 1\n"), 0o644) }},
		{"absent file appears", func() { writeFiles(t, root, "r/BUILD.star") }},
		{"glob result", func() { writeFiles(t, root, "p/z.c") }},
		{"new package", func() { writeFiles(t, root, "s/t/BUILD.star") }},
		{"source appears", func() { writeFiles(t, root, "p/b.h") }},
	}
	for _, tt := range tests {
		r := ask()
		tt.change()
		got := r.Changed(root)
		if (got == "") != (tt.name == "nothing") {
			t.Errorf("%s: Changed = %q", tt.name, got)
		}
	}
}

func TestReadsDiff(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "WORKSPACE.star", "p/BUILD.star", "p/a.c", "q/BUILD.star")
	ask := func() *Reads {
		v := NewView(root)
		v.ReadFile("p/BUILD.star")
		v.ReadFile("r/BUILD.star") // absent
		if _, err := v.Glob("p", []string{"*.c"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Packages(""); err != nil {
			t.Fatal(err)
		}
		v.IsFile("p/b.h")
		return v.Reads()
	}
	r := ask()
	if d := r.Diff(root); !d.Empty() {
		t.Errorf("Diff with nothing changed = %+v", d)
	}
	os.WriteFile(filepath.Join(root, "p/BUILD.star"), []byte("x = 1\n"), 0o644)
	writeFiles(t, root, "p/z.c", "p/b.h", "s/BUILD.star")
	want := &Diff{
		Files:    map[string]string{"p/BUILD.star": contentDigest([]byte("x = 1\n"))},
		Exists:   map[string]bool{"p/b.h": true},
		Globs:    []GlobRead{{Pkg: "p", Include: []string{"*.c"}, Result: []string{"a.c", "z.c"}}},
		Packages: []string{""},
	}
	if diff := cmp.Diff(want, r.Diff(root)); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if got := r.Changed(root); got == "" {
		t.Error("Changed misses what Diff finds")
	}
	// DiffStats gives the same answer, and the stat of each file whose
	// existence it checked and found.
	os.WriteFile(filepath.Join(root, "p/b.h"), []byte("12345"), 0o644)
	stats := filestat.New(0)
	if diff := cmp.Diff(want, r.DiffStats(root, stats)); diff != "" {
		t.Errorf("DiffStats (-want +got):\n%s", diff)
	}
	want5, err := os.Stat(filepath.Join(root, "p/b.h"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, ok := stats.Lookup("p/b.h"); !ok || fi.Size != 5 || fi != filestat.Of(want5) || stats.Len() != 1 {
		t.Errorf("DiffStats's stats: p/b.h %+v %v, %d paths; want its stat %+v, 1 path", fi, ok, stats.Len(), filestat.Of(want5))
	}
}

// A file read twice with two contents (edited while a build read it)
// counts as changed whatever it holds next: what was built from it may
// mix both versions.
func TestFileChangedBetweenReads(t *testing.T) {
	for _, next := range []string{"first", "second", "third"} {
		root := t.TempDir()
		name := filepath.Join(root, "p/BUILD.star")
		writeFiles(t, root, "p/BUILD.star")
		v := NewView(root)
		os.WriteFile(name, []byte("first"), 0o644)
		v.ReadFile("p/BUILD.star")
		v.ReadFile("p/BUILD.star") // the same content: one answer
		os.WriteFile(name, []byte("second"), 0o644)
		v.ReadFile("p/BUILD.star")
		r := v.Reads()
		os.WriteFile(name, []byte(next), 0o644)
		if got := r.Changed(root); got == "" {
			t.Errorf("file now %q: Changed says nothing changed", next)
		}
		if d := r.Diff(root); d.Files["p/BUILD.star"] == "" {
			t.Errorf("file now %q: Diff = %+v, want p/BUILD.star changed", next, d)
		}
	}
	// Read twice with one content, it is unchanged.
	root := t.TempDir()
	writeFiles(t, root, "p/BUILD.star")
	v := NewView(root)
	v.ReadFile("p/BUILD.star")
	v.ReadFile("p/BUILD.star")
	if got := v.Reads().Changed(root); got != "" {
		t.Errorf("a file read twice, unchanged: Changed = %q", got)
	}
}

// TestIsFileAsksOnce checks that a View answers IsFile for a path from
// the file system once, and the same way after (analysis and the graph's
// check of sources agree), and that the answer it remembers is the one the
// next build's staleness check compares against: a source removed or made
// after it was asked is a change.
func TestIsFileAsksOnce(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "p/a.c")
	v := NewView(root)
	if !v.IsFile("p/a.c") || v.IsFile("p/b.c") {
		t.Fatal("IsFile: p/a.c is a file and p/b.c is not")
	}
	os.Remove(filepath.Join(root, "p/a.c"))
	writeFiles(t, root, "p/b.c")
	if !v.IsFile("p/a.c") || v.IsFile("p/b.c") {
		t.Error("asked again after p/a.c was removed and p/b.c made: the answers changed, want the first ones")
	}
	r := v.Reads()
	if !r.Exists["p/a.c"] || r.Exists["p/b.c"] {
		t.Errorf("Reads().Exists = %v, want the first answers", r.Exists)
	}
	if got := r.Changed(root); got == "" {
		t.Error("Changed says nothing changed after p/a.c was removed and p/b.c made")
	}
	if d := r.Diff(root); len(d.Exists) != 2 {
		t.Errorf("Diff().Exists = %v, want both paths changed", d.Exists)
	}
	// A fresh View asks again.
	if w := NewView(root); w.IsFile("p/a.c") || !w.IsFile("p/b.c") {
		t.Error("a new View answered from another View's answers")
	}
	// What a file is: symbolic links followed, a directory is not one.
	os.Symlink("b.c", filepath.Join(root, "p/link.c"))
	os.Symlink("missing.c", filepath.Join(root, "p/dangling.c"))
	os.Symlink(".", filepath.Join(root, "p/self"))
	w := NewView(root)
	for rel, want := range map[string]bool{"p/link.c": true, "p/dangling.c": false, "p": false, "p/self": false, "p/self/b.c": true, "q/../p/b.c": true, "p/b.c/x": false} {
		if got := w.IsFile(rel); got != want {
			t.Errorf("IsFile(%q) = %v, want %v", rel, got, want)
		}
	}
}

// A View given answers taken earlier in the build (UseKnown) takes them
// for the paths they know, without asking the file system, and remembers
// them as its own; it asks about the others.
func TestIsFileUsesKnown(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "p/a.c", "p/c.c")
	v := NewView(root)
	known := map[string]bool{"p/a.c": false, "p/b.c": true} // as they were: a.c made, b.c removed since
	v.UseKnown(func(rel string) (bool, bool) {
		ok, found := known[rel]
		return ok, found
	})
	for rel, want := range map[string]bool{"p/a.c": false, "p/b.c": true, "p/c.c": true, "p/d.c": false} {
		if got := v.IsFile(rel); got != want {
			t.Errorf("IsFile(%q) = %v, want %v", rel, got, want)
		}
	}
	want := map[string]bool{"p/a.c": false, "p/b.c": true, "p/c.c": true, "p/d.c": false}
	if diff := cmp.Diff(want, v.Reads().Exists); diff != "" {
		t.Errorf("Reads().Exists (-want +got):\n%s", diff)
	}
}

// TestParallelCallsEachOnce checks that parallel calls f once for each
// index, whatever the batch and however many workers that makes.
func TestParallelCallsEachOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1000, 5000} {
		for _, batch := range []int{1, 8, readBatch, statBatch} {
			calls := make([]atomic.Int32, n)
			parallel(n, batch, func(i int) { calls[i].Add(1) })
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Fatalf("n=%d batch=%d: f(%d) called %d times, want 1", n, batch, i, c)
				}
			}
		}
	}
}

// TestFileDigest checks that fileDigest, which reads through a reused
// buffer, digests as contentDigest does the whole content, for files of
// a few sizes (the largest past the 32 KiB buffer), and fails on what
// cannot be read as a file.
func TestFileDigest(t *testing.T) {
	root := t.TempDir()
	for _, n := range []int{0, 1, 15, 16, 17, 32, 100, 70000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + n)
		}
		path := filepath.Join(root, "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := fileDigest(path)
		if err != nil || got != contentDigest(data) {
			t.Errorf("%d bytes: fileDigest = %q, %v; want %q", n, got, err, contentDigest(data))
		}
	}
	if _, err := fileDigest(filepath.Join(root, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an absent file: err = %v, want fs.ErrNotExist", err)
	}
	if got, err := fileDigest(root); err == nil {
		t.Errorf("a directory: fileDigest = %q, want an error", got)
	}
}

// A FIFO where a BUILD file was is never opened for reading, which would
// wait for a writer: ReadFile fails at once, and the staleness check
// answers that the file changed (so that loading reports the error).
func TestFIFONeverBlocks(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, "WORKSPACE.star", "p/BUILD.star")
	v := NewView(root)
	if _, err := v.ReadFile("p/BUILD.star"); err != nil {
		t.Fatal(err)
	}
	r := v.Reads()
	build := filepath.Join(root, "p/BUILD.star")
	if err := os.Remove(build); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(build, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var notRegular *regfile.NotRegularError
		if _, err := NewView(root).ReadFile("p/BUILD.star"); !errors.As(err, &notRegular) {
			t.Errorf("ReadFile of a FIFO: err = %v, want a *regfile.NotRegularError", err)
		}
		want := &Diff{Files: map[string]string{"p/BUILD.star": "unreadable"}, Exists: map[string]bool{}}
		if diff := cmp.Diff(want, r.Diff(root)); diff != "" {
			t.Errorf("Diff with a FIFO for a BUILD file (-want +got):\n%s", diff)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		// Unblock the reader, so that the test ends with its report.
		if f, err := os.OpenFile(build, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("reading a FIFO BUILD file blocked")
	}
}
