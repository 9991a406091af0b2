package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/exec/store/storetest"
)

func TestHitAfterClean(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()

	c := openCache(t, dir, root, Options{})
	if r := build(t, c, root, actions); len(r.ran) != len(actions) {
		t.Fatalf("first build ran %v, want all %d", r.ran, len(actions))
	}
	if r := build(t, c, root, actions); len(r.ran) != 0 || len(r.restored) != 0 {
		t.Fatalf("no-op build ran %v, restored %v, reasons %v", r.ran, r.restored, r.reasons)
	}
	closeCache(t, c)

	if err := os.RemoveAll(filepath.Join(root, "bld-out")); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{})
	if r := build(t, c, root, actions); len(r.ran) != 0 || len(r.restored) != len(actions) {
		t.Fatalf("build after clean ran %v, restored %v, reasons %v", r.ran, r.restored, r.reasons)
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, sampleFiles)

	s, err := openStore(t, dir).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Entries != len(actions) || len(s.Builds) != 2 {
		t.Errorf("stats: %d entries, %d builds; want %d, 2", s.Entries, len(s.Builds), len(actions))
	}
	if last := s.Builds[len(s.Builds)-1]; last.Hits != len(actions) || last.Misses != 0 {
		t.Errorf("last build: %+v, want %d hits", last, len(actions))
	}
}

func TestOtherCheckoutHits(t *testing.T) {
	dir, rootA, rootB := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "elsewhere", "checkout")
	writeFiles(t, rootA, sampleFiles)
	writeFiles(t, rootB, sampleFiles)
	actions := sampleGraph()

	a := openCache(t, dir, rootA, Options{})
	ra := build(t, a, rootA, actions)
	closeCache(t, a)
	b := openCache(t, dir, rootB, Options{})
	rb := build(t, b, rootB, actions)
	closeCache(t, b)
	if len(rb.ran) != 0 {
		t.Errorf("build in a second checkout ran %v: %v", rb.ran, rb.reasons)
	}
	if diff := cmp.Diff(ra.keys, rb.keys); diff != "" {
		t.Errorf("keys differ between checkouts (-A +B):\n%s", diff)
	}
	expectOutputs(t, rootB, actions, sampleFiles)
}

func TestChangedInputExplained(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{Explain: true})
	defer closeCache(t, c)
	if r := build(t, c, root, actions); r.reasons["//:a"] != "no previous entry" {
		t.Errorf("first build reason %q, want no previous entry", r.reasons["//:a"])
	}

	// Same size, different content, at once: only the racy-timestamp rule
	// can notice.
	writeFiles(t, root, map[string]string{"src/a.c": strings.Replace(sampleFiles["src/a.c"], "1", "7", 1)})
	r := build(t, c, root, actions)
	if diff := cmp.Diff([]string{"//:a", "//:app"}, r.ran); diff != "" {
		t.Fatalf("ran (-want +got):\n%s", diff)
	}
	for owner, file := range map[string]string{"//:a": "src/a.c", "//:app": "bld-out/a.o"} {
		if !strings.HasPrefix(r.reasons[owner], "input "+file+" changed: ") || strings.Count(r.reasons[owner], ";") != 0 {
			t.Errorf("%s reason %q, want input %s changed (only)", owner, r.reasons[owner], file)
		}
	}
	expectOutputs(t, root, actions, map[string]string{"src/a.c": strings.Replace(sampleFiles["src/a.c"], "1", "7", 1),
		"src/b.c": sampleFiles["src/b.c"], "src/defs.h": sampleFiles["src/defs.h"], "tools/cc": sampleFiles["tools/cc"]})

	// argv and env.
	actions[1].Argv = append([]string(nil), actions[1].Argv...)
	actions[1].Argv[1] = "-O2"
	actions[1].Env = []string{"LANG=fr", "PATH=/usr/bin:/bin"}
	r = build(t, c, root, actions)
	want := `argv -c deleted; argv -O2 inserted; env LANG changed: "C" -> "fr"`
	if r.reasons["//:b"] != want {
		t.Errorf("reason %q, want %q", r.reasons["//:b"], want)
	}
	// One flag inserted is one difference.
	actions[1].Argv = append([]string{"tools/cc", "-DEXTRA=1"}, actions[1].Argv[1:]...)
	r = build(t, c, root, actions[1:2])
	if want := "argv -DEXTRA=1 inserted"; r.reasons["//:b"] != want {
		t.Errorf("reason %q, want %q", r.reasons["//:b"], want)
	}
	// The tool.
	writeFiles(t, root, map[string]string{"tools/cc": "#!/bin/sh\n# a better compiler\n"})
	r = build(t, c, root, actions[:1])
	if !strings.Contains(r.reasons["//:a"], "tool tools/cc changed: ") || !strings.Contains(r.reasons["//:a"], "input tools/cc changed: ") {
		t.Errorf("reason %q, want the tool named", r.reasons["//:a"])
	}
	// A write action's content.
	actions[3].Edit().Content = []byte("config=2\n")
	r = build(t, c, root, actions[3:])
	if !strings.HasPrefix(r.reasons["//:cfg"], "content changed: ") {
		t.Errorf("reason %q, want content changed", r.reasons["//:cfg"])
	}
}

func TestCorruptBlobNotServed(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{InlineMax: -1})
	defer closeCache(t, c)
	build(t, c, root, actions)

	data, err := os.ReadFile(filepath.Join(root, "bld-out/a.o"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	blob := blobPath(dir, hex.EncodeToString(sum[:]))
	flipByte(t, blob, 5)
	os.RemoveAll(filepath.Join(root, "bld-out"))

	r := build(t, c, root, actions)
	if diff := cmp.Diff([]string{"//:a"}, r.ran); diff != "" {
		t.Fatalf("ran (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.reasons["//:a"], "corrupt") {
		t.Errorf("reason %q, want corrupt", r.reasons["//:a"])
	}
	expectOutputs(t, root, actions, sampleFiles)
	// The re-run stored a good blob again.
	if got, err := os.ReadFile(blob); err != nil || sha256.Sum256(got) != sum {
		t.Errorf("blob not repaired: %v", err)
	}
}

func TestEverythingCorrupt(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	build(t, c, root, actions)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
	for _, f := range files {
		flipByte(t, f, 70) // past the ac header's first line for most
	}
	closeCache(t, c) // seals its pack
	storetest.DamagePacks(t, dir)
	c = openCache(t, dir, root, Options{})
	os.RemoveAll(filepath.Join(root, "bld-out"))
	if r := build(t, c, root, actions); len(r.ran) != len(actions) {
		t.Errorf("ran %v, want all", r.ran)
	}
	expectOutputs(t, root, actions, sampleFiles)
}

func TestEditedOutputDoesNotPoisonCache(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	build(t, c, root, actions)
	os.RemoveAll(filepath.Join(root, "bld-out"))
	build(t, c, root, actions) // restored from the cache

	out := filepath.Join(root, "bld-out/app")
	if err := os.WriteFile(out, []byte("poison"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobFiles(t, dir) {
		fi, err := os.Stat(b)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("blob %s has mode %v, want 0444", b, fi.Mode())
		}
	}
	if rep, err := c.store.Verify(); err != nil || !rep.OK() {
		t.Fatalf("Verify after editing an output: %+v, %v", rep, err)
	}
	// The edited output is not up to date: it is restored.
	if r := build(t, c, root, actions); len(r.ran) != 0 {
		t.Errorf("ran %v", r.ran)
	}
	expectOutputs(t, root, actions, sampleFiles)
}

func TestNoCache(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	a := sampleGraph()[0]
	a.NoCache = true
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	for i := 0; i < 2; i++ {
		r := build(t, c, root, []*graph.Action{a})
		if len(r.ran) != 1 || r.reasons[a.Owner] != "action is marked no-cache" {
			t.Errorf("build %d: ran %v, reason %q", i, r.ran, r.reasons[a.Owner])
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "ac", "*", "*")); len(entries) != 0 {
		t.Errorf("no-cache action stored: %v", entries)
	}
}

func TestInputChangedDuringRunNotStored(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	a := sampleGraph()[0]
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	ctx := context.Background()
	chk, err := c.Check(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	runAction(t, root, a)
	writeFiles(t, root, map[string]string{"src/a.c": "edited while compiling\n"})
	if err := c.Store(ctx, a, chk.Key, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(entryPath(dir, chk.Key)); !os.IsNotExist(err) {
		t.Errorf("result stored under a key its inputs no longer have")
	}
}

// Small outputs live inside their action's result: no blob is stored for
// them, a clean build restores them from the result alone, and a damaged
// result is not served.
func TestInlinedOutputs(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	build(t, c, root, actions)
	closeCache(t, c)
	blobs, _ := filepath.Glob(filepath.Join(dir, "cas", "*", "*"))
	if len(blobs) != 0 {
		t.Errorf("blobs stored for small outputs: %v", blobs)
	}

	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{})
	r := build(t, c, root, actions)
	closeCache(t, c)
	if len(r.ran) != 0 || len(r.restored) != len(actions) {
		t.Fatalf("ran %v, restored %v; want every action restored", r.ran, r.restored)
	}
	expectOutputs(t, root, actions, sampleFiles)

	if entries, _ := filepath.Glob(filepath.Join(dir, "ac", "*", "*")); len(entries) != 0 {
		t.Errorf("results stored as files of their own: %v", entries)
	}
	storetest.DamagePacks(t, dir)
	os.RemoveAll(filepath.Join(root, "bld-out"))
	c = openCache(t, dir, root, Options{})
	r = build(t, c, root, actions)
	closeCache(t, c)
	if len(r.restored) != 0 {
		t.Errorf("restored %v from damaged results", r.restored)
	}
	expectOutputs(t, root, actions, sampleFiles)
}
