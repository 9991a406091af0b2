package filestat

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// StatAhead stats the paths its list gives, as Dir does: each file's stat
// in the Set, each path that is not a file (missing, a directory) among
// notFiles.
func TestStatAhead(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "p", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "p", "a.in"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := StatAhead(root, func() []string { return []string{"p/a.in", "p/gone.in", "p/d"} })
	<-a.done // all taken before Take
	files, notFiles := a.Take()
	want, err := OpenDir(root).Stat("p/a.in")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := files.Lookup("p/a.in"); !ok || got != want || files.Len() != 1 {
		t.Errorf("files: p/a.in %+v, %v, %d paths; want %+v, 1 path", got, ok, files.Len(), want)
	}
	if !notFiles["p/gone.in"] || !notFiles["p/d"] || len(notFiles) != 2 {
		t.Errorf("notFiles = %v; want p/gone.in and p/d", notFiles)
	}
	if f2, n2 := a.Take(); f2 != files || len(n2) != len(notFiles) {
		t.Errorf("a second Take gave other stats")
	}

	var none *Ahead
	if f, n := none.Take(); f != nil || n != nil {
		t.Errorf("a nil Ahead took %v, %v", f, n)
	}
	if f, n := StatAhead(root, func() []string { return nil }).Take(); f != nil || n != nil {
		t.Errorf("an Ahead without a list took %v, %v", f, n)
	}
}

// Take stops the stats: what its list gives once Take was called is not
// stat'ed, so that the check stats it itself, once.
func TestStatAheadStops(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	listed := make(chan struct{})
	var a *Ahead
	a = StatAhead(root, func() []string {
		<-listed // Take has been called (stop is set)
		return []string{"a", "b"}
	})
	go func() {
		for !a.stop.Load() { // wait for Take's stop
			runtime.Gosched()
		}
		close(listed)
	}()
	files, notFiles := a.Take()
	if files.Len() != 0 || len(notFiles) != 0 {
		t.Errorf("stopped before its first stat, the Ahead took %d files, %v", files.Len(), notFiles)
	}
}

// Take does not wait for the goroutine: with the list not read yet (its
// goroutine held up, as one the kernel preempted would be), Take returns
// nothing at once, and the paths are the caller's to stat; stats the
// goroutine took before Take are returned, those after are not.
func TestTakeDoesNotWait(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	a := StatAhead(root, func() []string {
		<-release
		return []string{"a", "b"}
	})
	files, notFiles := a.Take() // would wait for release if Take waited
	if files.Len() != 0 || len(notFiles) != 0 {
		t.Errorf("Take before the list was read took %d files, %v", files.Len(), notFiles)
	}
	close(release)
	<-a.Done()
	if !a.Listed() {
		t.Error("Listed = false once the list was read after Take")
	}
	if files, notFiles := a.Take(); files.Len() != 0 || len(notFiles) != 0 {
		t.Errorf("a later Take took %d files, %v; want what the first took", files.Len(), notFiles)
	}
}
