package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/store"
)

// The action record (fast.go): a no-op build decides every action from
// stats alone, and anything that could change an output sends the action
// back to the full key and the shared cache.

func (c *Cache) fastHitCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fastHits
}

// age sets the modification time of every file below dirs to an hour
// ago, so that the racy-timestamp rule trusts their stamps.
func age(t testing.TB, dirs ...string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() || strings.Contains(p, string(filepath.Separator)+".bld"+string(filepath.Separator)) {
				return err
			}
			return os.Chtimes(p, old, old)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// settle builds actions from scratch, ages every file and builds again
// (a no-op through the slow path, which records the actions), so that
// the next build can take the fast path for all of them.
func settle(t testing.TB, c *Cache, root string, actions []*graph.Action, extra ...string) {
	t.Helper()
	build(t, c, root, actions)
	age(t, append([]string{root}, extra...)...)
	if r := build(t, c, root, actions); len(r.ran) != 0 {
		t.Fatalf("no-op build ran %v: %v", r.ran, r.reasons)
	}
	for _, a := range actions {
		if c.fast.get(actionID(a.Outputs)) == nil {
			t.Fatalf("%s not recorded after a no-op build", a.Owner)
		}
	}
}

// fastBuild builds actions and returns the result and how many of its
// Checks the record decided.
func fastBuild(t testing.TB, c *Cache, root string, actions []*graph.Action) (buildResult, int) {
	t.Helper()
	before := c.fastHitCount()
	r := build(t, c, root, actions)
	return r, c.fastHitCount() - before
}

func TestFastPathNoop(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	want := build(t, c, root, actions).keys
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("no-op: ran %v, %d fast checks; want none ran, %d fast", r.ran, fast, len(actions))
	}
	closeCache(t, c)

	// Persisted at Close, loaded at Open: a new build decides everything
	// from the record, and gives the keys the full computation gives.
	c = openCache(t, dir, root, Options{})
	r, fast = fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("reopened: ran %v, %d fast checks; want none ran, %d fast", r.ran, fast, len(actions))
	}
	if diff := cmp.Diff(want, r.keys); diff != "" {
		t.Errorf("fast path keys differ from computed keys (-computed +fast):\n%s", diff)
	}
	// Nothing was read from the cache, nor hashed: the memo file was not
	// even loaded.
	if c.memo.m != nil {
		t.Errorf("the file-digest memo was loaded by a no-op build")
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, sampleFiles)
}

func TestFastPathWithoutSharedCache(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)

	// The user deletes the shared cache: bld-out/ is intact and the
	// inputs unchanged, so nothing runs.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{})
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("after deleting the cache: ran %v (%v), %d fast", r.ran, r.reasons, fast)
	}
	expectOutputs(t, root, actions, sampleFiles)

	// An edited output, though, is not up to date, and with no cache to
	// restore it from, its action runs. The link that reads it does not:
	// its key is unchanged and, though its result is not in the cache, its
	// outputs are those its last run in this workspace left (lastrun.go),
	// which stores them again.
	if err := os.WriteFile(filepath.Join(root, "bld-out/b.o"), []byte("poison"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ = fastBuild(t, c, root, actions)
	if diff := cmp.Diff([]string{"//:b"}, r.ran); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	expectOutputs(t, root, actions, sampleFiles)
	closeCache(t, c)

	// bld clean removes the record with bld-out/: the shared cache
	// serves what it has, the rest runs.
	if err := os.RemoveAll(filepath.Join(root, "bld-out")); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{})
	r, fast = fastBuild(t, c, root, actions)
	if diff := cmp.Diff([]string{"//:a", "//:cfg"}, r.ran); diff != "" || fast != 0 {
		t.Errorf("after clean: %d fast, ran (-want +got):\n%s", fast, diff)
	}
	closeCache(t, c)
	expectOutputs(t, root, actions, sampleFiles)
}

func TestFastPathNotTaken(t *testing.T) {
	edited := strings.Replace(sampleFiles["src/a.c"], "1", "7", 1)
	for _, tc := range []struct {
		name string
		// change changes something in root, or the actions.
		change func(t *testing.T, root string, actions []*graph.Action)
		ran    []string // actions that run
		fast   int      // Checks the record decides
		files  map[string]string
	}{{
		name: "input edited, same size and mtime",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			p := filepath.Join(root, "src/a.c")
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // past the clock tick of the last status change
			if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if fi2, _ := os.Stat(p); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
				t.Fatal("size or mtime changed")
			}
		},
		ran:   []string{"//:a", "//:app"},
		files: map[string]string{"src/a.c": edited},
		fast:  2,
	}, {
		name: "input made executable",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			time.Sleep(20 * time.Millisecond)
			if err := os.Chmod(filepath.Join(root, "src/a.c"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		ran:  []string{"//:a"}, // a.o is the same: app is up to date, through the slow path
		fast: 2,
	}, {
		name: "output edited",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			if err := os.WriteFile(filepath.Join(root, "bld-out/a.o"), []byte("poison"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		// Restored from the shared cache, so nothing runs; the link
		// takes the slow path (its input a.o was rewritten).
		fast: 2,
	}, {
		name: "output deleted",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			if err := os.Remove(filepath.Join(root, "bld-out/a.o")); err != nil {
				t.Fatal(err)
			}
		},
		fast: 2,
	}, {
		name: "argv changed",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			actions[0].Argv = append([]string(nil), actions[0].Argv...)
			actions[0].Argv[1] = "-O2"
		},
		ran:  []string{"//:a", "//:app"},
		fast: 2,
	}, {
		name: "env changed",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			actions[0].Env = []string{"LANG=fr", "PATH=/usr/bin:/bin"}
		},
		ran:  []string{"//:a", "//:app"},
		fast: 2,
	}, {
		name: "input added",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			actions[0].Inputs = []string{"src/a.c", "src/b.c", "src/defs.h", "tools/cc"}
		},
		ran:  []string{"//:a", "//:app"},
		fast: 2,
	}, {
		// Same stamps (stat follows the link), another path: the input
		// root, so the key, differs.
		name: "input replaced by a symbolic link to it",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			if err := os.Symlink("defs.h", filepath.Join(root, "src/defs2.h")); err != nil {
				t.Fatal(err)
			}
			actions[0].Inputs = []string{"src/a.c", "src/defs2.h", "tools/cc"}
		},
		ran:   []string{"//:a", "//:app"},
		fast:  2,
		files: map[string]string{"src/defs2.h": sampleFiles["src/defs.h"]},
	}, {
		name: "write action content changed",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			actions[3].Edit().Content = []byte("config=2\n")
		},
		ran:  []string{"//:cfg"},
		fast: 3,
	}, {
		name: "write action made executable",
		change: func(t *testing.T, root string, actions []*graph.Action) {
			actions[3].Executable = true
		},
		ran:  []string{"//:cfg"},
		fast: 3,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, root := t.TempDir(), t.TempDir()
			writeFiles(t, root, sampleFiles)
			actions := sampleGraph()
			c := openCache(t, dir, root, Options{})
			defer closeCache(t, c)
			settle(t, c, root, actions)
			tc.change(t, root, actions)
			r, fast := fastBuild(t, c, root, actions)
			if diff := cmp.Diff(tc.ran, r.ran); diff != "" {
				t.Errorf("ran (-want +got):\n%s", diff)
			}
			if fast != tc.fast {
				t.Errorf("%d fast checks, want %d", fast, tc.fast)
			}
			files := map[string]string{}
			for k, v := range sampleFiles {
				files[k] = v
			}
			for k, v := range tc.files {
				files[k] = v
			}
			expectOutputs(t, root, actions, files)
			// The record follows: the next build is all fast again
			// (after the files the build wrote have aged).
			age(t, root)
			build(t, c, root, actions)
			if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions) {
				t.Errorf("build after: ran %v, %d fast, want none ran and %d fast", r.ran, fast, len(actions))
			}
		})
	}
}

// A tool found in PATH, not among the inputs: replacing it, or a tool of
// the same name appearing earlier in PATH, makes the action run.
func TestFastPathTool(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	bin1, bin2 := t.TempDir(), t.TempDir()
	writeFiles(t, root, map[string]string{"in.txt": "input\n"})
	tool := filepath.Join(bin2, "mytool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho version 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	actions := []*graph.Action{{Owner: "//:t", Mnemonic: "Tool", Argv: []string{"mytool", "in.txt"},
		Env: []string{"PATH=" + bin1 + string(filepath.ListSeparator) + bin2}, Inputs: []string{"in.txt"}, Outputs: []string{"bld-out/t.out"}}}
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	settle(t, c, root, actions, bin2)
	if _, fast := fastBuild(t, c, root, actions); fast != 1 {
		t.Fatalf("no fast path with a tool from PATH")
	}

	// Replaced in place: same size, mtime restored.
	fi, _ := os.Stat(tool)
	time.Sleep(20 * time.Millisecond)
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho version 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tool, fi.ModTime(), fi.ModTime())
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 1 || fast != 0 {
		t.Errorf("tool replaced in place: ran %v, %d fast", r.ran, fast)
	}
	// Replaced by another file (a package upgrade renames a new file in).
	age(t, root, bin2)
	build(t, c, root, actions)
	if _, fast := fastBuild(t, c, root, actions); fast != 1 {
		t.Fatalf("no fast path after the tool settled")
	}
	tmp := filepath.Join(bin2, "mytool.new")
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\necho version 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	if err := os.Rename(tmp, tool); err != nil {
		t.Fatal(err)
	}
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 1 || fast != 0 {
		t.Errorf("tool replaced by rename: ran %v, %d fast", r.ran, fast)
	}
	// A tool of that name appears earlier in PATH.
	age(t, root, bin2)
	build(t, c, root, actions)
	if _, fast := fastBuild(t, c, root, actions); fast != 1 {
		t.Fatalf("no fast path after the tool settled")
	}
	if err := os.WriteFile(filepath.Join(bin1, "mytool"), []byte("#!/bin/sh\necho version 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 1 || fast != 0 {
		t.Errorf("tool shadowed in PATH: ran %v, %d fast", r.ran, fast)
	}
}

func TestFastRecordCorruptIgnored(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)
	file := filepath.Join(root, "bld-out", ".bld", "actions")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _, err := parseFastRecord(good); err != nil || len(ids) != len(actions) {
		t.Fatalf("saved record: %d entries, %v", len(ids), err)
	}
	// A body that is not a record, with a checksum that matches it.
	forged := func(body string) []byte {
		sum := sha256.Sum256([]byte(body))
		return append(append([]byte(actionsHeader), sum[:]...), body...)
	}
	for name, data := range map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), good...); b[len(b)-3] ^= 0x40; return b }(),
		"torn":         good[:len(good)/2],
		"header only":  []byte(actionsHeader),
		"garbage":      []byte("garbage\x00\xff"),
		"empty":        nil,
		"forged body":  forged("\x05abc"),
		"huge count":   forged("\x01a\x01k" + strings.Repeat("d", 32) + "\x00\xff\xff\xff\xff\x0f"),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			c := openCache(t, dir, root, Options{})
			defer closeCache(t, c)
			r, fast := fastBuild(t, c, root, actions)
			if len(r.ran) != 0 || fast != 0 {
				t.Errorf("ran %v, %d fast; want none ran, through the slow path", r.ran, fast)
			}
			expectOutputs(t, root, actions, sampleFiles)
		})
	}
	// Every prefix of a good record is rejected, without panicking.
	for i := range good {
		if _, _, err := parseFastRecord(good[:i]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", i)
		}
	}
}

// Files the build has just written are racy: their stamps alone prove
// nothing (the file may change again within the same clock tick), so they
// are recorded unsettled, with the digest of their content. A check
// trusts such a stamp only after hashing the file and finding that
// content; Close, or a check whose hash is no longer racy, settles it.
// A directory input is never recorded.
func TestFastRecordRefusesRacyAndDirectories(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	age(t, root)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	// A clock that never moves past the outputs' modification: every
	// hash of them is racy, from the first build's on (with the real
	// clock, a build slower than racyWindow under load settles them at
	// once). It stays past the aged sources' racy window. The file system
	// is taken as one whose stamps are not exact after a stat
	// (TestExactStampsSettleOutputs has the other kind).
	stuckAt := time.Now().Add(-time.Hour + time.Second)
	stuck := func() time.Time { return stuckAt }
	c.now, c.memo.now, c.memo.exactDev = stuck, stuck, nil
	build(t, c, root, actions)
	closeCache(t, c)
	c = openCache(t, dir, root, Options{})
	c.now, c.memo.now, c.memo.exactDev = stuck, stuck, nil
	for _, a := range actions {
		e := c.fast.get(actionID(a.Outputs))
		if e == nil {
			t.Fatalf("%s not recorded", a.Owner)
		}
		// The sources are aged, the tool is old: only outputs, its own
		// and those it reads, are unsettled.
		var got, want []string
		for _, u := range e.unsettled {
			got = append(got, u.path)
		}
		for _, p := range append(keyedInputs(a), a.Outputs...) {
			if strings.HasPrefix(p, "bld-out/") {
				want = append(want, p)
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("%s: unsettled %q, want %q", a.Owner, got, want)
		}
	}
	// Verified by hashing, the record decides every action, and settles
	// nothing.
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("no-op with unsettled stamps: ran %v, %d fast; want none ran, %d fast", r.ran, fast, len(actions))
	}
	for _, a := range actions {
		if e := c.fast.get(actionID(a.Outputs)); len(e.unsettled) == 0 {
			t.Errorf("%s settled by a racy hash", a.Owner)
		}
	}
	// An output that changed within the tick its stamp was taken in
	// keeps its stamp: as if it had, the recorded content differs from
	// the file's, and the record is not trusted (the slow path finds the
	// output intact).
	a := actions[0]
	e := c.fast.get(actionID(a.Outputs))
	forged := *e
	forged.unsettled = append([]unsettledStamp(nil), e.unsettled...)
	forged.unsettled[0].hash[0] ^= 1
	c.fast.set(actionID(a.Outputs), &forged)
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions)-1 {
		t.Fatalf("one forged record: ran %v, %d fast; want none ran, %d fast", r.ran, fast, len(actions)-1)
	}
	closeCache(t, c)

	// Once time has moved on, Close hashes the files again and settles
	// them; the next no-op is decided by stats alone (the memo not even
	// loaded).
	c = openCache(t, dir, root, Options{})
	later := func() time.Time { return time.Now().Add(time.Hour) }
	c.now, c.memo.now = later, later
	closeCache(t, c)
	c = openCache(t, dir, root, Options{})
	for _, a := range actions {
		if e := c.fast.get(actionID(a.Outputs)); e == nil || len(e.unsettled) != 0 {
			t.Errorf("%s: record %+v, want one settled", a.Owner, e)
		}
	}
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("settled no-op: ran %v, %d fast", r.ran, fast)
	}
	if c.memo.m != nil {
		t.Errorf("the file-digest memo was loaded by a no-op build of settled records")
	}
	defer closeCache(t, c)

	// An action reading a directory (the toy compiler cannot: do its
	// work by hand).
	d := &graph.Action{Owner: "//:dir", Argv: []string{"tools/cc", "src"}, Env: []string{"PATH=/bin"},
		Inputs: []string{"src", "tools/cc"}, Outputs: []string{"bld-out/dir.o"}}
	ctx := context.Background()
	check := func() bool {
		t.Helper()
		chk, err := c.Check(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if !chk.UpToDate {
			writeFiles(t, root, map[string]string{"bld-out/dir.o": chk.Key})
			if err := c.Store(ctx, d, chk.Key, nil); err != nil {
				t.Fatal(err)
			}
		}
		return chk.UpToDate
	}
	check()
	age(t, root)
	if !check() {
		t.Fatalf("no-op ran the directory action")
	}
	if c.fast.get(actionID(d.Outputs)) != nil {
		t.Errorf("action with a directory input recorded")
	}
	// A file added to the directory makes it run.
	writeFiles(t, root, map[string]string{"src/c.c": "int c;\n"})
	if check() {
		t.Errorf("file added to a directory input: not run")
	}
}

// Many goroutines checking the same recorded actions at once, while others
// refresh their records (-race).
func TestFastPathConcurrent(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	files := map[string]string{"tools/cc": "#!/bin/sh\n"}
	var actions []*graph.Action
	for i := 0; i < 40; i++ {
		src := fmt.Sprintf("src/f%03d.c", i)
		files[src] = fmt.Sprintf("file %d\n", i)
		actions = append(actions, &graph.Action{Owner: fmt.Sprintf("//:f%d", i), Argv: []string{"tools/cc", src},
			Inputs: []string{src, "tools/cc"}, Outputs: []string{fmt.Sprintf("bld-out/f%03d.o", i)}})
	}
	writeFiles(t, root, files)
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	settle(t, c, root, actions)
	c.now = func() time.Time { return time.Now().Add(2 * store.TouchInterval) } // every fast hit refreshes recency
	var wg sync.WaitGroup
	ctx := context.Background()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range actions {
				chk, err := c.Check(ctx, a)
				if err != nil || !chk.UpToDate {
					t.Errorf("%s: %+v, %v", a.Owner, chk, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.fastHitCount(); n < 8*len(actions) {
		t.Errorf("%d fast checks, want at least %d", n, 8*len(actions))
	}
}

// A check that hashes an unsettled file and finds its content, not racy
// any more, settles it: the record then vouches by stamp alone.
func TestFastCheckSettles(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	age(t, root)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	build(t, c, root, actions)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	c.now, c.memo.now = later, later
	if r, fast := fastBuild(t, c, root, actions); len(r.ran) != 0 || fast != len(actions) {
		t.Fatalf("no-op: ran %v, %d fast", r.ran, fast)
	}
	for _, a := range actions {
		if e := c.fast.get(actionID(a.Outputs)); e == nil || len(e.unsettled) != 0 {
			t.Errorf("%s: record %+v, want one settled", a.Owner, e)
		}
	}
}

// findTool finds a program outside the workspace once per build, and one
// inside it (by a relative name, an absolute one, or a link from outside)
// every time: the build may rewrite it.
func TestFindToolOnce(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFiles(t, root, map[string]string{"bld-out/tool": "#!/bin/sh\n"})
	os.Chmod(filepath.Join(root, "bld-out/tool"), 0o755)
	os.Symlink(filepath.Join(root, "bld-out/tool"), filepath.Join(outside, "linked"))
	c := openCache(t, t.TempDir(), root, Options{})
	defer closeCache(t, c)
	for _, tt := range []struct {
		argv0 string
		env   []string
		once  bool
	}{
		{"/bin/sh", nil, true},
		{"sh", []string{"PATH=/bin"}, true},
		{"bld-out/tool", nil, false},
		{filepath.Join(root, "bld-out/tool"), nil, false},
		{"linked", []string{"PATH=" + outside}, false},
	} {
		a := &graph.Action{Argv: []string{tt.argv0}, Env: tt.env}
		if _, _, ok := c.findTool(a); !ok {
			t.Fatalf("findTool(%q) failed", tt.argv0)
		}
		pathVar, _ := program.PathOf(tt.env)
		_, cached := c.tools.Load(toolKey{tt.argv0, pathVar})
		if cached != tt.once {
			t.Errorf("findTool(%q, %q): kept for the build = %v, want %v", tt.argv0, tt.env, cached, tt.once)
		}
	}
}

// TestFastPathSharedStats checks that the up-to-date check takes the stat
// of a file from Options.Stats when it is there (a stat taken earlier in
// the build) rather than stat'ing it again, and stats it otherwise.
func TestFastPathSharedStats(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)

	// The stats of the sources as the snapshot's check would take them,
	// then src/b.c changes: a build that trusts the stats finds nothing
	// to do, from the record alone.
	stats := filestat.New(0)
	for _, rel := range []string{"src/a.c", "src/b.c", "src/defs.h"} {
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		stats.Add(rel, filestat.Of(fi))
	}
	writeFiles(t, root, map[string]string{"src/b.c": "int b() { return 22; }\n"})
	c = openCache(t, dir, root, Options{Stats: stats})
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions) {
		t.Errorf("with the earlier stats: ran %v, %d fast checks; want none ran, %d fast", r.ran, fast, len(actions))
	}
	closeCache(t, c)

	// Without them, the check stats src/b.c and sees the change.
	c = openCache(t, dir, root, Options{})
	r, _ = fastBuild(t, c, root, actions)
	if diff := cmp.Diff([]string{"//:app", "//:b"}, sortedCopy(r.ran)); diff != "" {
		t.Errorf("without the stats, ran (-want +got):\n%s", diff)
	}
	closeCache(t, c)

	// A path the stats say is not a regular file is not up to date.
	fi, err := os.Stat(filepath.Join(root, "src"))
	if err != nil {
		t.Fatal(err)
	}
	stats = filestat.New(0)
	stats.Add("src/defs.h", filestat.Of(fi))
	c = openCache(t, dir, root, Options{Stats: stats})
	if _, fast = fastBuild(t, c, root, actions); fast != 2 {
		t.Errorf("with src/defs.h a directory: %d fast checks, want 2 (the link and the write)", fast)
	}
	closeCache(t, c)
}

func sortedCopy(l []string) []string {
	l = append([]string(nil), l...)
	sort.Strings(l)
	return l
}

// The record's entries are slots in the order of the graph that saved it
// (save's order): a lookup with the right hint takes no index, one with a
// wrong hint falls back to the index and makes the next save rewrite the
// record in order; an action of the order with no entry keeps its place
// (an empty entry, loaded as none); entries of no action of the order are
// kept, after.
func TestFastRecordOrder(t *testing.T) {
	entry := func(key string) *fastEntry {
		return &fastEntry{key: key, stamps: []stamp{{size: int64(len(key)), mtime: 1, ctime: 2, ino: 3}}}
	}
	ids := func(r *fastRecord) []string {
		var got []string
		r.each(func(id string, slot int, e *fastEntry) { got = append(got, fmt.Sprintf("%s@%d=%s", id, slot, e.key)) })
		return got
	}
	file := filepath.Join(t.TempDir(), "actions")
	r := loadFastRecord(file)
	for _, id := range []string{"b", "a", "d", "c"} {
		r.set(id, entry("k"+id))
	}
	if err := r.save([]string{"c", "a", "x"}); err != nil { // x: an action with no record
		t.Fatal(err)
	}
	r = loadFastRecord(file)
	// In order first (x's place kept), then the others by identity.
	want := []string{"c@0=kc", "a@1=ka", "b@3=kb", "d@4=kd"}
	if diff := cmp.Diff(want, ids(r)); diff != "" {
		t.Fatalf("loaded record (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		id        string
		hint      int
		key       string // "": no entry
		misplaced int64
	}{
		{"c", 0, "kc", 0},
		{"a", 1, "ka", 0},
		{"a", -1, "ka", 0}, // no hint: not misplaced
		{"a", 0, "ka", 1},
		{"b", 7, "kb", 2}, // out of range
		{"x", 2, "", 2},   // its place, empty
		{"x", 4, "", 3},
	} {
		e := r.getAt(tc.id, tc.hint)
		got := ""
		if e != nil {
			got = e.key
		}
		if got != tc.key || r.misplaced.Load() != tc.misplaced {
			t.Errorf("getAt(%q, %d) = %q, misplaced %d; want %q, %d", tc.id, tc.hint, got, r.misplaced.Load(), tc.key, tc.misplaced)
		}
	}
	// Nothing changed, but lookups were misplaced: save rewrites it in
	// the new order.
	if err := r.save([]string{"d", "b", "a", "c"}); err != nil {
		t.Fatal(err)
	}
	r = loadFastRecord(file)
	want = []string{"d@0=kd", "b@1=kb", "a@2=ka", "c@3=kc"}
	if diff := cmp.Diff(want, ids(r)); diff != "" {
		t.Fatalf("record saved in the new order (-want +got):\n%s", diff)
	}
	// Lookups in order, an update, a removal, an addition.
	for i, id := range []string{"d", "b", "a", "c"} {
		if r.getAt(id, i) == nil {
			t.Fatalf("getAt(%q, %d) = nil", id, i)
		}
	}
	r.setAt("b", entry("kb2"), 1)
	r.remove("d")
	r.set("e", entry("ke"))
	if !r.replace("e", r.get("e"), entry("ke2")) || r.replace("a", entry("other"), nil) {
		t.Errorf("replace: wrong answers")
	}
	if err := r.save([]string{"e", "d", "b", "a", "c"}); err != nil {
		t.Fatal(err)
	}
	r = loadFastRecord(file)
	want = []string{"e@0=ke2", "b@2=kb2", "a@3=ka", "c@4=kc"} // d's place kept
	if diff := cmp.Diff(want, ids(r)); diff != "" {
		t.Fatalf("record after updates (-want +got):\n%s", diff)
	}
	// Neither changed nor misplaced: save writes nothing.
	for i, id := range []string{"e", "d", "b", "a", "c"} {
		r.getAt(id, i)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := r.save([]string{"e", "d", "b", "a", "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("an unchanged record was written: %v", err)
	}
}

// A no-op through Check (no graph: outputs found up to date are known by
// name) and through CheckIn (by producer ID) is decided by the record
// alone, with the same keys, including for an action that reads the
// second output of an action with a tool, and a written file.
func TestFastPathByNameAndByGraph(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := append(sampleGraph(), &graph.Action{Owner: "//:pkg", Mnemonic: "Pack",
		Argv: []string{"tools/cc", "-o", "bld-out/pkg", "bld-out/app.map", "bld-out/cfg.txt"}, Env: []string{"PATH=/usr/bin:/bin"},
		Inputs: []string{"bld-out/app.map", "bld-out/cfg.txt", "tools/cc"}, Outputs: []string{"bld-out/pkg"}})
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	settle(t, c, root, actions)
	want := build(t, c, root, actions).keys
	for _, byName := range []bool{true, false, true} {
		before := c.fastHitCount()
		r := buildWith(t, c, root, actions, byName)
		if fast := c.fastHitCount() - before; len(r.ran) != 0 || fast != len(actions) {
			t.Errorf("byName %v: ran %v, %d fast checks; want none ran, %d fast", byName, r.ran, fast, len(actions))
		}
		if diff := cmp.Diff(want, r.keys); diff != "" {
			t.Errorf("byName %v: keys (-want +got):\n%s", byName, diff)
		}
	}
	// The producer's second output edited: it is restored, and what
	// reads it is not decided from the producer's record.
	if err := os.WriteFile(filepath.Join(root, "bld-out/app.map"), []byte("poison"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != len(actions)-2 || !slices.Equal(r.restored, []string{"//:app"}) {
		t.Errorf("app.map edited: ran %v, restored %v, %d fast; want none ran, //:app restored, %d fast", r.ran, r.restored, fast, len(actions)-2)
	}
	expectOutputs(t, root, actions, sampleFiles)
}

// rootDir.stat gives what statStamp of the joined path gives.
func TestRootDirStat(t *testing.T) {
	root := t.TempDir()
	deep := strings.Repeat("d/", 300) + "f" // longer than stat's buffer
	writeFiles(t, root, map[string]string{"a/f.txt": "f", "a/x": "x", deep: "deep"})
	if err := os.Chmod(filepath.Join(root, "a/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f.txt", filepath.Join(root, "a/link")); err != nil {
		t.Fatal(err)
	}
	d := openRootDir(root)
	defer d.close()
	for _, rel := range []string{"a/f.txt", "a/x", "a/link", "a", "a/missing", "a/../a/f.txt", deep, "a/f.txt\x00x"} {
		t.Run(strings.ReplaceAll(rel[:min(len(rel), 20)], "\x00", "NUL"), func(t *testing.T) {
			st, regular, err := d.stat(rel)
			wst, wregular, werr := statStamp(filepath.Join(root, rel))
			if st != wst || regular != wregular || (err == nil) != (werr == nil) {
				t.Errorf("stat(%q) = %+v, %v, %v; want %+v, %v, %v", rel, st, regular, err, wst, wregular, werr)
			}
		})
	}
}

// Open uses the record PreloadRecord read only if the file is still the
// one it read.
func TestPreloadRecord(t *testing.T) {
	write := func(t *testing.T, file, key string) {
		r := loadFastRecord(file)
		r.set("bld-out/a.o", &fastEntry{key: key, stamps: []stamp{{size: 1}}})
		if err := r.save(nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		before string // the record's key before the preload ("": no file)
		after  string // ... after it, before Open ("-": removed)
		other  bool   // preloads another file
		drop   bool   // Drop is called before Open
		want   string // the key Open finds
		reuse  bool   // Open takes the preloaded record
	}{
		{name: "unchanged", before: "k1", after: "k1", want: "k1", reuse: true},
		{name: "replaced", before: "k1", after: "k2", want: "k2"},
		{name: "removed", before: "k1", after: "-", want: ""},
		{name: "created", before: "", after: "k2", want: "k2"},
		{name: "none", want: "", reuse: true},
		{name: "other file", before: "k1", after: "k1", other: true, want: "k1"},
		{name: "dropped", before: "k1", after: "k1", drop: true, want: "k1"},
		{name: "dropped, replaced", before: "k1", after: "k2", drop: true, want: "k2"},
		{name: "dropped, none", before: "", after: "k2", drop: true, want: "k2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "actions")
			if tc.before != "" {
				write(t, file, tc.before)
			}
			pfile := file
			if tc.other {
				pfile += ".other"
			}
			p := PreloadRecord(pfile, "")
			<-p.done
			switch tc.after {
			case "-":
				os.Remove(file)
			case tc.before:
			default:
				time.Sleep(10 * time.Millisecond) // another status-change time
				write(t, file, tc.after)
			}
			if tc.drop {
				if had := p.Drop(); had != (tc.before != "") {
					t.Errorf("Drop says it let go of entries: %v, want %v", had, tc.before != "")
				}
				if p.r != nil {
					t.Fatal("Drop kept the record it read")
				}
			}
			r := p.record(file)
			got := ""
			if e := r.get("bld-out/a.o"); e != nil {
				got = e.key
			}
			if got != tc.want || (r == p.r) != tc.reuse {
				t.Errorf("record has key %q, preloaded one used %v; want %q, %v", got, r == p.r, tc.want, tc.reuse)
			}
		})
	}
}

// TestFastRecordSaveStreams checks the file save streams: the header, the
// checksum of the entries, then the entries as encode gives them; and a
// second save of the same record writes the same bytes.
func TestFastRecordSaveStreams(t *testing.T) {
	file := filepath.Join(t.TempDir(), "actions")
	r := loadFastRecord(file)
	for i := range 300 {
		id := fmt.Sprintf("bld-out/p%03d/out", i)
		r.set(id, &fastEntry{key: "k" + id, paths: []string{"src/" + id}, stamps: []stamp{{size: int64(i), mtime: 1, ctime: 2, ino: uint64(i)}}})
	}
	order := []string{"bld-out/p007/out", "missing", "bld-out/p003/out"}
	var body []byte
	r.encode(order, func(b []byte) { body = append(body, b...) })
	if err := r.save(order); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	want := append(append([]byte(actionsHeader), sum[:]...), body...)
	if !bytes.Equal(got, want) {
		t.Fatalf("saved %d bytes, want header, checksum and the %d bytes of the entries", len(got), len(body))
	}
	r.dirty.Store(true)
	if err := r.save(order); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, got) {
		t.Errorf("a second save of the same record wrote other bytes")
	}
	if n := len(loadFastRecord(file).slots); n != 301 {
		t.Errorf("loaded %d entries, want 301 (300 and the empty place of missing)", n)
	}
}

// TestFastPathKeptDigests: the up-to-date check takes an action's fields
// digest from the graph (what the analysis snapshot kept): with the true
// digests every action is decided by its record; a digest kept for an
// action that is not the one checked is not its own, so that action is
// not decided by its record (the slow path finds it up to date by its
// key), and an action changed since (a new *Action, as an analysis makes)
// is hashed afresh and runs.
func TestFastPathKeptDigests(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	defer closeCache(t, c)
	settle(t, c, root, actions)
	check := func(name string, acts []*graph.Action, kept graph.KeptDigests) (ran []string, fast int) {
		t.Helper()
		c.forgetFiles()
		g, err := graph.New(acts, nil)
		if err != nil {
			t.Fatal(err)
		}
		g.UseKeptDigests(kept)
		before := c.fastHitCount()
		for i, a := range acts {
			chk, err := c.CheckIn(context.Background(), g, i)
			if err != nil {
				t.Fatalf("%s: Check %s: %v", name, a.Owner, err)
			}
			if !chk.UpToDate {
				ran = append(ran, a.Owner)
			}
		}
		return ran, c.fastHitCount() - before
	}
	digests := make([][32]byte, len(actions))
	for i, a := range actions {
		digests[i] = a.FieldsDigest()
	}
	if ran, fast := check("true digests", actions, graph.KeptDigests{Actions: actions, Digests: digests}); len(ran) != 0 || fast != len(actions) {
		t.Errorf("true digests: ran %v, %d fast; want none ran, %d fast", ran, fast, len(actions))
	}
	wrong := slices.Clone(digests)
	wrong[1] = digests[0]
	if ran, fast := check("b's digest wrong", actions, graph.KeptDigests{Actions: actions, Digests: wrong}); len(ran) != 0 || fast != len(actions)-1 {
		t.Errorf("b's digest wrong: ran %v, %d fast; want none ran, %d fast", ran, fast, len(actions)-1)
	}
	// b's command changed in a new action: the kept digest (of the old
	// b) is not taken, and b misses.
	changed := slices.Clone(actions)
	nb := *actions[1]
	nb.Argv = []string{"tools/cc", "-O2", "-c", "src/b.c", "-o", "bld-out/b.o"}
	changed[1] = &nb
	if ran, _ := check("b changed", changed, graph.KeptDigests{Actions: actions, Digests: digests}); !slices.Contains(ran, "//:b") {
		t.Errorf("b changed: ran %v, want //:b among them", ran)
	}
}

// TestDescDigestCovers: the description digest of a command changes with
// its fields digest, its tool, its compiler driver's programs, its exec
// root and whether it is sandboxed; a write's with its fields only.
func TestDescDigestCovers(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	run := &graph.Action{Argv: []string{"cc", "-c", "a.c"}, Inputs: []string{"a.c"}, Outputs: []string{"a.o"}}
	unsandboxed := &graph.Action{Argv: run.Argv, Inputs: run.Inputs, Outputs: run.Outputs, NoSandbox: true}
	write := &graph.Action{Outputs: []string{"w"}, More: &graph.More{Content: []byte("x")}}
	plain := openCache(t, dir, root, Options{})
	defer closeCache(t, plain)
	fixed := openCache(t, t.TempDir(), root, Options{FixedExecRoot: true})
	defer closeCache(t, fixed)
	sandboxed := openCache(t, t.TempDir(), root, Options{Sandboxed: true})
	defer closeCache(t, sandboxed)
	f := run.FieldsDigest()
	base := plain.descDigest(run, f, "/usr/bin/cc", nil)
	for name, d := range map[string][32]byte{
		"fields":    plain.descDigest(run, [32]byte{1}, "/usr/bin/cc", nil),
		"tool":      plain.descDigest(run, f, "/usr/local/bin/cc", nil),
		"programs":  plain.descDigest(run, f, "/usr/bin/cc", []string{"/usr/lib/gcc/cc1"}),
		"exec root": fixed.descDigest(run, f, "/usr/bin/cc", nil),
		"sandboxed": sandboxed.descDigest(run, f, "/usr/bin/cc", nil),
	} {
		if d == base {
			t.Errorf("a different %s left the description digest unchanged", name)
		}
	}
	// NoSandbox takes the action out of the fixed root and the sandbox.
	if fixed.descDigest(unsandboxed, f, "/usr/bin/cc", nil) != base || sandboxed.descDigest(unsandboxed, f, "/usr/bin/cc", nil) != base {
		t.Error("an action with NoSandbox has another description digest under a fixed root or the sandbox")
	}
	wf := write.FieldsDigest()
	if plain.descDigest(write, wf, "", nil) != sandboxed.descDigest(write, wf, "", nil) || plain.descDigest(write, wf, "", nil) == plain.descDigest(write, f, "", nil) {
		t.Error("a write's description digest does not follow its fields alone")
	}
}

// TestFastPathStatsOfOutputs: the stats taken earlier in the build may hold
// outputs of the graph's actions (filestat.Set's contract: nobody drops
// them); the check never trusts them for a path an action writes. An
// output edited after they were taken is found changed: its action is not
// decided by its record, nor is the action that reads it.
func TestFastPathStatsOfOutputs(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{})
	settle(t, c, root, actions)
	closeCache(t, c)

	stats := filestat.New(0)
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		stats.Add(filepath.ToSlash(rel), filestat.Of(fi))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats.Lookup("bld-out/a.o"); !ok {
		t.Fatal("the stats hold no bld-out/a.o")
	}
	time.Sleep(20 * time.Millisecond) // past the clock tick of the stats
	if err := os.WriteFile(filepath.Join(root, "bld-out/a.o"), []byte("poison"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir, root, Options{Stats: stats})
	defer closeCache(t, c)
	r, fast := fastBuild(t, c, root, actions)
	if len(r.ran) != 0 || fast != 2 {
		t.Errorf("a.o edited: ran %v, %d fast; want none ran, 2 fast (b and cfg)", r.ran, fast)
	}
	expectOutputs(t, root, actions, sampleFiles)
}

// On a file system whose stamps are exact after a stat (Linux's
// multigrain timestamps), an output hashed right after its command wrote
// it is not racy: the record takes its stamp settled, Close reads nothing
// again, and a change of the output as soon as the build ends, of the
// same size and within the same clock tick, is still seen by its
// status-change time.
func TestExactStampsSettleOutputs(t *testing.T) {
	// Outputs kept in the action result, and outputs stored as blobs.
	for _, inline := range []int64{0, -1} {
		t.Run(fmt.Sprintf("InlineMax=%d", inline), func(t *testing.T) { testExactStampsSettleOutputs(t, inline) })
	}
}

func testExactStampsSettleOutputs(t *testing.T, inlineMax int64) {
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, root, sampleFiles)
	age(t, root)
	state := filepath.Join(root, "bld-out", ".bld")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := filestat.ExactCtimeDevice(state); !ok {
		t.Fatalf("%s: stamps not exact after a stat; this test needs Linux 6.13 or later on tmpfs, ext4, xfs or btrfs (TestExactCtimeDevice says which)", state)
	}
	actions := sampleGraph()
	c := openCache(t, dir, root, Options{InlineMax: inlineMax})
	// The clock of TestFastRecordRefusesRacyAndDirectories: by the racy
	// rule alone, every output would be unsettled.
	stuckAt := time.Now().Add(-time.Hour + time.Second)
	stuck := func() time.Time { return stuckAt }
	c.now, c.memo.now = stuck, stuck
	build(t, c, root, actions)
	for _, a := range actions {
		e := c.fast.get(actionID(a.Outputs))
		if e == nil {
			t.Fatalf("%s not recorded", a.Owner)
		}
		if len(e.unsettled) != 0 {
			t.Errorf("%s: unsettled %+v, want none on an exact file system", a.Owner, e.unsettled)
		}
	}
	// Changed at once, with content of the same size: the record must not
	// vouch for it.
	a := actions[0]
	out := filepath.Join(root, a.Outputs[0])
	old, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	changed := []byte(strings.Repeat("x", len(old)))
	if err := os.WriteFile(out, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	// (Those that read it are checked in full too: their input's stamp
	// changed.)
	if r, fast := fastBuild(t, c, root, actions); fast > len(actions)-1 {
		t.Fatalf("output changed right after its hash: ran %v, %d of %d fast; want the changed one checked in full", r.ran, fast, len(actions))
	}
	if got, _ := os.ReadFile(out); string(got) == string(changed) {
		t.Errorf("%s kept the content written over it after the build", a.Outputs[0])
	}
	closeCache(t, c)
}
