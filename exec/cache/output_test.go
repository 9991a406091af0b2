package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A command's output is stored with its result and given back when the
// result is restored, not when the outputs were already in place.
func TestOutputReplayedOnRestore(t *testing.T) {
	ctx := context.Background()
	root, dir := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	a := sampleGraph()[0]
	const warning = "src/a.c:1: warning: something odd\n"

	c := openCache(t, dir, root, Options{})
	chk, err := c.Check(ctx, a)
	if err != nil || chk.UpToDate {
		t.Fatalf("first Check = %+v, %v; want a miss", chk, err)
	}
	runAction(t, root, a)
	if err := c.Store(ctx, a, chk.Key, []byte(warning)); err != nil {
		t.Fatal(err)
	}
	closeCache(t, c)

	c = openCache(t, dir, root, Options{})
	chk, err = c.Check(ctx, a)
	if err != nil || !chk.UpToDate || len(chk.Output) != 0 {
		t.Errorf("Check with outputs in place = %+v, %v; want up to date, no output", chk, err)
	}
	closeCache(t, c)

	c = openCache(t, dir, root, Options{})
	// Trim and Verify count the log as part of the result.
	if _, err := c.store.Trim(1 << 20); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.store.Verify(); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	closeCache(t, c)

	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{})
	chk, err = c.Check(ctx, a)
	if err != nil || !chk.UpToDate {
		t.Fatalf("Check after removing outputs = %+v, %v; want a restore", chk, err)
	}
	if string(chk.Output) != warning {
		t.Errorf("restored output = %q, want %q", chk.Output, warning)
	}
	closeCache(t, c)
}
