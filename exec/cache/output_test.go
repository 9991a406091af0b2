package cache

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A command's output is stored with its result (inlined when small, as
// the outputs are, else as a blob) and given back when the result is
// restored, not when the outputs were already in place.
func TestOutputReplayedOnRestore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inlineMax int64
		blobs     int // in the store after the build
	}{
		{"inlined", 0, 0},
		{"blobs", -1, 2}, // the output and the log
	} {
		t.Run(tc.name, func(t *testing.T) { testOutputReplayed(t, Options{InlineMax: tc.inlineMax}, tc.blobs) })
	}
}

func testOutputReplayed(t *testing.T, opts Options, blobs int) {
	ctx := context.Background()
	root, dir := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	a := sampleGraph()[0]
	const warning = "src/a.c:1: warning: something odd\n"

	c := openCache(t, dir, root, opts)
	chk, err := c.Check(ctx, a)
	if err != nil || chk.UpToDate {
		t.Fatalf("first Check = %+v, %v; want a miss", chk, err)
	}
	runAction(t, root, a)
	if err := c.Store(ctx, a, chk.Key, []byte(warning)); err != nil {
		t.Fatal(err)
	}
	closeCache(t, c)
	if got, _ := filepath.Glob(filepath.Join(dir, "cas", "*", "*")); len(got) != blobs {
		t.Errorf("blobs in the store: %v, want %d", got, blobs)
	}

	c = openCache(t, dir, root, opts)
	chk, err = c.Check(ctx, a)
	if err != nil || !chk.UpToDate || len(chk.Output) != 0 {
		t.Errorf("Check with outputs in place = %+v, %v; want up to date, no output", chk, err)
	}
	closeCache(t, c)

	c = openCache(t, dir, root, opts)
	// Trim and Verify count the log as part of the result.
	if _, err := c.store.Trim(1 << 20); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.store.Verify(); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	closeCache(t, c)

	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, opts)
	chk, err = c.Check(ctx, a)
	if err != nil || !chk.UpToDate {
		t.Fatalf("Check after removing outputs = %+v, %v; want a restore", chk, err)
	}
	if string(chk.Output) != warning {
		t.Errorf("restored output = %q, want %q", chk.Output, warning)
	}
	closeCache(t, c)
}
