package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// preloadAhead preloads root's action record with its outputs' stats, and
// waits until every slot has them.
func preloadAhead(t *testing.T, root string) *Preload {
	t.Helper()
	p := PreloadRecord(filepath.Join(root, "bld-out", ".bld", "actions"), root)
	<-p.done
	a := p.r.ahead
	if a == nil {
		t.Fatal("no stats taken ahead of a record with entries")
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.done.Load() < int64(len(p.r.slots)) {
		if time.Now().After(deadline) {
			t.Fatalf("stats of %d of %d slots taken ahead", a.done.Load(), len(p.r.slots))
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

// TestOutputsStatedAhead: the up-to-date check compares an action's
// outputs with the stats PreloadRecord took of them ahead, not with new
// ones. So an output changed after those stats is this build's change
// during the build, which the next build sees (the record keeps the
// stamps it had); one changed or removed before them is seen by this
// build; and an action's entry made by its run in this build is checked
// with new stats (its outputs are those the run wrote).
func TestOutputsStatedAhead(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)

	// An output changed after the stats: this build trusts them (every
	// action decided by its record, a.o's readers by a.o's recorded
	// stamp), as it would have trusted a stat taken at its check.
	p := preloadAhead(t, root)
	time.Sleep(20 * time.Millisecond) // past the clock tick of the stats
	writeFiles(t, root, map[string]string{"bld-out/a.o": "poison"})
	c = openCache(t, dir, root, Options{Preload: p})
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions) {
		t.Errorf("a.o changed after the stats taken ahead: ran %v, %d fast; want none ran, %d fast", r.ran, fast, len(actions))
	}
	closeCache(t, c)
	if data, err := os.ReadFile(filepath.Join(root, "bld-out/a.o")); err != nil || string(data) != "poison" {
		t.Fatalf("bld-out/a.o = %q, %v; want it as changed", data, err)
	}

	// The next build's stats see it: a.o is not decided by its record
	// (it is restored from the cache), nor app, which reads it.
	c = openCache(t, dir, root, Options{Preload: preloadAhead(t, root)})
	if r, fast := fastBuild(t, c, root, actions); fast != 2 || len(r.ran) != 0 {
		t.Errorf("a.o changed before the stats taken ahead: ran %v, %d fast; want none ran, 2 fast (b, cfg)", r.ran, fast)
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, sampleFiles)

	// One of two outputs removed before the stats: its action is not
	// decided by its record.
	if err := os.Remove(filepath.Join(root, "bld-out/app.map")); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{Preload: preloadAhead(t, root)})
	if r, fast := fastBuild(t, c, root, actions); fast != 3 || len(r.ran) != 0 {
		t.Errorf("app.map removed before the stats taken ahead: ran %v, %d fast; want none ran, 3 fast", r.ran, fast)
	}
	expectOutputs(t, root, actions, sampleFiles)
	// app's entry is now the one its restore made: a check of it in the
	// same build stats its outputs (those taken ahead are of the files
	// before the restore), finds them as restored, and sees one changed
	// since.
	if e, slot := c.fast.getSlotAt(actionID(actions[2].Outputs), 2); slot != 2 || e == nil || e == &c.fast.loaded[2] {
		t.Fatalf("app's entry after its restore: slot %d, the loaded one %v", slot, e == &c.fast.loaded[2])
	}
	if r, fast := fastBuild(t, c, root, actions); fast != len(actions) || len(r.ran) != 0 {
		t.Errorf("after app's restore: ran %v, %d fast; want none ran, %d fast", r.ran, fast, len(actions))
	}
	time.Sleep(20 * time.Millisecond)
	writeFiles(t, root, map[string]string{"bld-out/app": "poison"})
	if r, fast := fastBuild(t, c, root, actions); fast != 3 || len(r.ran) != 0 {
		t.Errorf("app changed after its restore: ran %v, %d fast; want none ran, 3 fast", r.ran, fast)
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, sampleFiles)
}

// Without a root, PreloadRecord takes no stats; Drop and Open stop those
// it takes.
func TestPreloadAheadStops(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)
	file := filepath.Join(root, "bld-out", ".bld", "actions")

	p := PreloadRecord(file, "")
	<-p.done
	if p.r.ahead != nil {
		t.Error("stats taken ahead without a root")
	}
	p = PreloadRecord(file, root)
	<-p.done
	a := p.r.ahead
	p.Drop()
	if a == nil || !a.stop.Load() {
		t.Error("Drop left the stats ahead going")
	}
	p = PreloadRecord(file, root)
	c = openCache(t, dir, root, Options{Preload: p})
	if a := c.fast.ahead; a == nil || !a.stop.Load() {
		t.Error("Open left the stats ahead going")
	}
	closeCache(t, c)
}
