package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bld/exec/graph"
)

// manyActions returns n write-free actions whose outputs are about size
// bytes each, distinct per i.
func manyActions(root string, n, size int) ([]*graph.Action, map[string]string) {
	files := map[string]string{}
	var actions []*graph.Action
	for i := 0; i < n; i++ {
		src := fmt.Sprintf("src/f%03d.c", i)
		files[src] = fmt.Sprintf("%d%0*d\n", i, size, 0)
		actions = append(actions, &graph.Action{
			Owner: fmt.Sprintf("//:f%d", i), Argv: []string{"cc", src},
			Inputs: []string{src}, Outputs: []string{fmt.Sprintf("bld-out/f%03d.o", i)},
		})
	}
	return actions, files
}

func TestTrimRespectsBound(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	actions, files := manyActions(root, 20, 10000)
	writeFiles(t, root, files)
	c := openCache(t, dir, root, Options{MaxSize: -1})
	r := build(t, c, root, actions)
	closeCache(t, c)

	// Make action i used at time base+i, so the oldest are the first.
	base := time.Now().Add(-48 * time.Hour)
	for i, a := range actions {
		tm := base.Add(time.Duration(i) * time.Minute)
		os.Chtimes(c.acPath(r.keys[a.Owner]), tm, tm)
		os.Chtimes(c.explainPath(outputsID(a.Outputs)), tm, tm)
	}
	before, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	bound := before.Size / 2
	rep, err := c.Trim(bound)
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Size > bound || rep.After != after.Size {
		t.Errorf("after Trim(%d): size %d, report %+v", bound, after.Size, rep)
	}
	if after.Entries == 0 || after.Entries >= len(actions) {
		t.Errorf("after Trim: %d entries of %d", after.Entries, len(actions))
	}
	// The most recently used survive; the least recently used are gone.
	if _, err := os.Stat(c.acPath(r.keys[actions[len(actions)-1].Owner])); err != nil {
		t.Errorf("most recent entry trimmed: %v", err)
	}
	if _, err := os.Stat(c.acPath(r.keys[actions[0].Owner])); err == nil {
		t.Errorf("least recent entry kept")
	}
	if rep, err := c.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify after Trim: %+v, %v", rep, err)
	}
	// What is left still restores.
	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{MaxSize: -1})
	r2 := build(t, c, root, actions)
	closeCache(t, c)
	if len(r2.ran) != len(actions)-after.Entries {
		t.Errorf("after trim ran %d, want %d", len(r2.ran), len(actions)-after.Entries)
	}
	expectOutputs(t, root, actions, files)
}

func TestAutomaticTrimAtClose(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	actions, files := manyActions(root, 20, 10000)
	writeFiles(t, root, files)
	const max = 60000
	c := openCache(t, dir, root, Options{MaxSize: max})
	build(t, c, root, actions)
	closeCache(t, c)
	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Size > max || s.Entries == 0 {
		t.Errorf("after Close with MaxSize %d: size %d, %d entries", max, s.Size, s.Entries)
	}
}

func TestVerifyFindsFlippedByte(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	c := openCache(t, dir, root, Options{})
	build(t, c, root, sampleGraph())
	closeCache(t, c)
	if rep, err := c.Verify(); err != nil || !rep.OK() || rep.Blobs == 0 || rep.Entries != 4 {
		t.Fatalf("Verify of a good cache: %+v, %v", rep, err)
	}
	blobs := blobFiles(t, dir)
	flipByte(t, blobs[0], 3)
	rep, err := c.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.BadBlobs) != 1 || filepath.Base(blobs[0]) != rep.BadBlobs[0] || len(rep.DanglingEntries) != 1 {
		t.Errorf("Verify: %+v, want the flipped blob %s and its entry", rep, filepath.Base(blobs[0]))
	}
	if _, err := os.Stat(blobs[0]); !os.IsNotExist(err) {
		t.Errorf("bad blob not removed")
	}
	if rep, err := c.Verify(); err != nil || !rep.OK() {
		t.Errorf("second Verify: %+v, %v", rep, err)
	}
}
