package main

// End-to-end tests of the action cache (issue 4) with the real bld binary,
// gcc and /bin/sh: rebuilds after bld clean and in a second checkout execute
// nothing, a change re-runs exactly its dependents, --explain names what
// changed, corrupt entries are detected and not served, SIGKILL at random
// points leaves a usable cache, concurrent builds share one cache, and
// bld cache stats|trim|verify do what they say.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/store/storetest"
)

// cacheCWorkspace is a small C project: a cc_unit of two sources, a
// cc_binary that uses it and a header generated from a text file, and an
// independent chain of two genrules. It has 8 actions.
var cacheCWorkspace = map[string]string{
	"lib/BUILD.star": `cc_unit(name = "lib", srcs = ["a.c", "b.c"], hdrs = ["lib.h"], includes = ["."], copts = ["-O1"])
`,
	"lib/lib.h": "int lib_a(void);\nint lib_b(void);\n",
	"lib/a.c":   "#include \"lib.h\"\nint lib_a(void) { return 1; }\n",
	"lib/b.c":   "#include \"lib.h\"\nint lib_b(void) { return 2; }\n",
	"app/BUILD.star": `genrule(name = "num", srcs = ["num.txt"], outs = ["num.h"], cmd = "sed 's/^/#define NUM /' $< > $@")
cc_binary(name = "app", srcs = ["main.c", ":num"], deps = ["//lib"], includes = ["."])
`,
	"app/num.txt": "7\n",
	"app/main.c":  "#include <stdio.h>\n#include \"lib.h\"\n#include \"num.h\"\nint main(void) { printf(\"%d %d %d\\n\", lib_a(), lib_b(), NUM); return 0; }\n",
	"doc/BUILD.star": `genrule(name = "upper", srcs = ["words.txt"], outs = ["upper.txt"], cmd = "tr a-z A-Z < $< > $@")
genrule(name = "count", srcs = [":upper"], outs = ["count.txt"], cmd = "wc -c < $< | tr -d ' ' > $@")
`,
	"doc/words.txt": "hello cache\n",
}

// The actions of cacheCWorkspace, as event keys.
const (
	cacheActCompileA = "//lib:lib CcCompile bld-out/lib/_objs/lib/lib/a.d,bld-out/lib/_objs/lib/lib/a.o"
	cacheActCompileB = "//lib:lib CcCompile bld-out/lib/_objs/lib/lib/b.d,bld-out/lib/_objs/lib/lib/b.o"
	cacheActArchive  = "//lib:lib CcArchive bld-out/lib/liblib.a"
	cacheActNum      = "//app:num Genrule bld-out/app/num.h"
	cacheActCompileM = "//app:app CcCompile bld-out/app/_objs/app/app/main.d,bld-out/app/_objs/app/app/main.o"
	cacheActLink     = "//app:app CcLink bld-out/app/app"
	cacheActUpper    = "//doc:upper Genrule bld-out/doc/upper.txt"
	cacheActCount    = "//doc:count Genrule bld-out/doc/count.txt"
)

var cacheCActions = cacheSorted(cacheActCompileA, cacheActCompileB, cacheActArchive, cacheActNum, cacheActCompileM, cacheActLink, cacheActUpper, cacheActCount)

// cacheSorted returns s sorted, never nil (for cmp.Diff).
func cacheSorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// cacheEventKeys returns the sorted keys of all events.
func cacheEventKeys(events []event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.key())
	}
	return cacheSorted(out...)
}

// cacheRanKeys is withStatus(events, "ran"), never nil, for cmp.Diff.
func cacheRanKeys(events []event) []string { return cacheSorted(withStatus(events, "ran")...) }

// cacheBuildEvents runs bld build --events with args and returns the events; the
// build must succeed.
func (w *testWorkspace) cacheBuildEvents(args ...string) ([]event, result) {
	w.t.Helper()
	r := w.mustBuild(append([]string{"build", "--events", "cache-ev.json"}, args...)...)
	return w.readEvents("cache-ev.json"), r
}

// cacheWantAllRestored fails the test unless events are exactly want, all
// restored from the cache.
func cacheWantAllRestored(t *testing.T, events []event, want []string, r result) {
	t.Helper()
	if diff := cmp.Diff(want, cacheEventKeys(events)); diff != "" {
		t.Errorf("actions (-want +got):\n%s\n%s", diff, r)
	}
	if got := statuses(events); got["restored"] != len(events) {
		t.Errorf("statuses %v, want every action restored (executed: %v):\n%s", got, withStatus(events, "ran"), r)
	}
}

// cacheWantNoneRan fails the test unless events are exactly want, none of
// them executed (each restored, or already up to date).
func cacheWantNoneRan(t *testing.T, events []event, want []string, r result) {
	t.Helper()
	if diff := cmp.Diff(want, cacheEventKeys(events)); diff != "" {
		t.Errorf("actions (-want +got):\n%s\n%s", diff, r)
	}
	if got := statuses(events); got["restored"]+got["cached"] != len(events) {
		t.Errorf("statuses %v, want no action executed (executed: %v):\n%s", got, withStatus(events, "ran"), r)
	}
}

// cacheOutput is what a test compares of an output: its content's digest,
// size and executable bit.
type cacheOutput struct {
	SHA256 string
	Size   int
	Exec   bool
}

// cacheSnapshot returns every file under bld-out/ except bld's own state
// (bld-out/.bld), by workspace-relative path.
func (w *testWorkspace) cacheSnapshot() map[string]cacheOutput {
	w.t.Helper()
	m := map[string]cacheOutput{}
	base := w.path("bld-out")
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "bld-out/.bld" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%v)", rel, d.Type())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m[rel] = cacheOutput{SHA256: hex.EncodeToString(sum[:]), Size: len(data), Exec: fi.Mode()&0o100 != 0}
		return nil
	})
	if err != nil {
		w.t.Fatalf("reading bld-out: %v", err)
	}
	return m
}

// cacheWantSameOutputs fails the test unless got and want are the same files
// with the same contents.
func cacheWantSameOutputs(t *testing.T, what string, want, got map[string]cacheOutput) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the reference has no outputs", what)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: outputs differ from the reference (-want +got):\n%s", what, diff)
	}
}

// cacheRunProgram runs a built program of the workspace and returns its stdout.
func (w *testWorkspace) cacheRunProgram(rel string) string {
	w.t.Helper()
	out, err := exec.Command(w.path(rel)).Output()
	if err != nil {
		w.t.Fatalf("running %s: %v", rel, err)
	}
	return string(out)
}

// cacheBldDir is the workspace's action cache directory.
func (w *testWorkspace) cacheBldDir() string { return filepath.Join(w.cache, "bld") }

// cacheBlobOf returns the path of the cache blob holding the content of the
// workspace file rel.
func (w *testWorkspace) cacheBlobOf(rel string) string {
	w.t.Helper()
	data, err := os.ReadFile(w.path(rel))
	if err != nil {
		w.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	p := filepath.Join(w.cacheBldDir(), "cas", h[:2], h)
	if _, err := os.Stat(p); err != nil {
		w.t.Fatalf("no blob for %s in the cache: %v", rel, err)
	}
	return p
}

// cacheFlipByte inverts one byte (at offset size/2) of a file, keeping its mode,
// size and modification time. An empty file is left alone; it reports
// whether it changed the file.
func cacheFlipByte(t *testing.T, p string) bool {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		return false
	}
	if err := os.Chmod(p, fi.Mode().Perm()|0o200); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := fi.Size() / 2
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	return true
}

// cacheListFiles lists the regular files under the cache's subdirectories
// (cas, ac), without temporary files.
func (w *testWorkspace) cacheListFiles(subs ...string) []string {
	w.t.Helper()
	var files []string
	for _, sub := range subs {
		root := filepath.Join(w.cacheBldDir(), sub)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errors.Is(err, fs.ErrNotExist) {
					return nil // none (results live in packs)
				}
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".tmp") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}
	return files
}

// cacheMustVerify runs bld cache verify and fails the test unless it reports the
// cache clean.
func (w *testWorkspace) cacheMustVerify(when string) result {
	w.t.Helper()
	r := w.bld("cache", "verify")
	if r.code != 0 || !regexp.MustCompile(`(?m)^ok$`).MatchString(r.stdout) {
		w.t.Errorf("%s: bld cache verify is not clean:\n%s", when, r)
	}
	return r
}

// cacheCopyTo copies the sources of w (everything but bld-out/ and the
// events files) to the directory root, giving a workspace there with the
// same environment, hence the same cache.
func (w *testWorkspace) cacheCopyTo(root string, withOutputs bool) *testWorkspace {
	w.t.Helper()
	err := filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.root, p)
		if rel == "." {
			return os.MkdirAll(root, 0o755)
		}
		if d.IsDir() {
			if rel == "bld-out" && !withOutputs {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(root, rel), 0o755)
		}
		if strings.HasSuffix(rel, ".json") && !strings.Contains(rel, string(filepath.Separator)) {
			return nil // events files
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, rel), data, fi.Mode().Perm())
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return &testWorkspace{t: w.t, root: root, env: w.env, cache: w.cache}
}

// TestCacheCleanRebuild checks that bld clean then bld build executes no
// action: every output is restored from the cache, byte-identical and with
// its executable bit, and the program runs. An output edited in bld-out/
// does not change the cache.
func TestCacheCleanRebuild(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	events, r := w.cacheBuildEvents("//...")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(events)); diff != "" {
		t.Fatalf("first build, ran (-want +got):\n%s\n%s", diff, r)
	}
	ref := w.cacheSnapshot()
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}

	for i := range 2 {
		if r := w.bld("clean"); r.code != 0 {
			t.Fatal(r)
		}
		if w.exists("bld-out") {
			t.Fatal("bld clean left bld-out/")
		}
		events, r = w.cacheBuildEvents("//...")
		cacheWantAllRestored(t, events, cacheCActions, r)
		wantContains(t, r.stderr, "bld: 8 actions: 0 ran, 8 restored, 0 up to date")
		cacheWantSameOutputs(t, fmt.Sprintf("rebuild %d after bld clean", i+1), ref, w.cacheSnapshot())
		if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
			t.Errorf("restored app printed %q, want %q", got, "1 2 7\n")
		}
	}

	// Writing into restored outputs in place (as a tool that rewrites its
	// output would) must not reach the cache: outputs are copies.
	for _, rel := range []string{"bld-out/lib/liblib.a", "bld-out/doc/upper.txt"} {
		cacheFlipByte(t, w.path(rel))
	}
	w.cacheMustVerify("after editing outputs in bld-out")
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	cacheWantAllRestored(t, events, cacheCActions, r)
	cacheWantSameOutputs(t, "rebuild after editing outputs and bld clean", ref, w.cacheSnapshot())
}

// TestCacheOtherCheckout checks that a copy of the workspace at another
// absolute path, using the same cache, executes no action and gets the same
// outputs, both as a fresh checkout (no bld-out/) and as a copy with the
// outputs.
func TestCacheOtherCheckout(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	events, r := w.cacheBuildEvents("//...")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(events)); diff != "" {
		t.Fatalf("first build, ran (-want +got):\n%s\n%s", diff, r)
	}
	ref := w.cacheSnapshot()
	for _, withOutputs := range []bool{false, true} {
		t.Run(fmt.Sprintf("with_bld_out=%v", withOutputs), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "some", "deeper", "checkout")
			w2 := w.cacheCopyTo(root, withOutputs)
			w2.t = t
			if root == w.root {
				t.Fatal("same root")
			}
			events, r := w2.cacheBuildEvents("//...")
			if withOutputs {
				cacheWantNoneRan(t, events, cacheCActions, r) // the copied outputs are right
			} else {
				cacheWantAllRestored(t, events, cacheCActions, r)
			}
			cacheWantSameOutputs(t, "second checkout", ref, w2.cacheSnapshot())
			if got := w2.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
				t.Errorf("app of the second checkout printed %q, want %q", got, "1 2 7\n")
			}
			// The first checkout's absolute path is nowhere in the outputs.
			for rel := range ref {
				if bytes.Contains([]byte(w2.read(rel)), []byte(w.root)) {
					t.Errorf("%s contains the first checkout's path %s", rel, w.root)
				}
			}
		})
	}
}

// TestCacheChangedInput checks that a changed input re-runs exactly the
// actions that depend on it (and no further than outputs that changed), and
// that going back to an old input restores from the cache.
func TestCacheChangedInput(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	events, r := w.cacheBuildEvents("//...")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(events)); diff != "" {
		t.Fatalf("first build, ran (-want +got):\n%s\n%s", diff, r)
	}
	ref := w.cacheSnapshot()
	steps := []struct {
		name    string
		file    string
		content string
		ran     []string
		prog    string
	}{
		{"lib source", "lib/b.c", "#include \"lib.h\"\nint lib_b(void) { return 3; }\n", []string{cacheActCompileB, cacheActArchive, cacheActLink}, "1 3 7\n"},
		{"generated header's source", "app/num.txt", "9\n", []string{cacheActNum, cacheActCompileM, cacheActLink}, "1 3 9\n"},
		{"genrule chain source", "doc/words.txt", "hello again\n", []string{cacheActUpper, cacheActCount}, "1 3 9\n"},
		// Same length: count.txt does not change, but its action re-runs
		// because its input upper.txt did.
		{"genrule chain, same length", "doc/words.txt", "HELLO AGAIN\n", []string{cacheActUpper}, "1 3 9\n"},
		// A comment in a header: every compile that reads it re-runs; the
		// objects do not change, so neither archive nor link re-runs.
		{"header comment", "lib/lib.h", "/* comment */\nint lib_a(void);\nint lib_b(void);\n", []string{cacheActCompileA, cacheActCompileB, cacheActCompileM}, "1 3 9\n"},
	}
	for _, s := range steps {
		w.write(s.file, s.content)
		events, r := w.cacheBuildEvents("//...")
		if diff := cmp.Diff(cacheSorted(s.ran...), cacheRanKeys(events)); diff != "" {
			t.Errorf("after changing the %s (%s), ran (-want +got):\n%s\n%s", s.name, s.file, diff, r)
		}
		if len(events) != len(cacheCActions) {
			t.Errorf("after changing %s: %d events, want %d", s.file, len(events), len(cacheCActions))
		}
		if got := w.cacheRunProgram("bld-out/app/app"); got != s.prog {
			t.Errorf("after changing %s: app printed %q, want %q", s.file, got, s.prog)
		}
	}
	// Back to the original sources: everything comes from the cache.
	for _, f := range []string{"lib/b.c", "app/num.txt", "doc/words.txt", "lib/lib.h"} {
		w.write(f, cacheCWorkspace[f])
	}
	events, r = w.cacheBuildEvents("//...")
	cacheWantNoneRan(t, events, cacheCActions, r)
	cacheWantSameOutputs(t, "back to the original sources", ref, w.cacheSnapshot())
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}
}

// cacheShortDigest is how --explain abbreviates the digest of content.
func cacheShortDigest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return fmt.Sprintf("%s/%d", hex.EncodeToString(sum[:])[:12], len(content))
}

// cacheReasons returns the "reason" field of each event of an --events file, by
// event key.
func (w *testWorkspace) cacheReasons(rel string) map[string]string {
	w.t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(w.read(rel)), "\n") {
		var e struct {
			event
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			w.t.Fatal(err)
		}
		m[e.key()] = e.Reason
	}
	return m
}

// TestCacheExplain checks that --explain says, for each action that runs,
// what changed since its last run: the input file with old and new digest,
// the argv element with old and new value, the environment variable.
func TestCacheExplain(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	r := w.mustBuild("build", "--explain", "--events", "ev.json", "//...")
	for k, why := range w.cacheReasons("ev.json") {
		if why == "" {
			t.Errorf("first build: %s has no reason", k)
		}
	}

	oldB := cacheCWorkspace["lib/b.c"]
	newB := "#include \"lib.h\"\nint lib_b(void) { return 20; }\n"
	w.write("lib/b.c", newB)
	r = w.mustBuild("build", "--explain", "--events", "ev.json", "//...")
	want := fmt.Sprintf("input lib/b.c changed: %s -> %s", cacheShortDigest(oldB), cacheShortDigest(newB))
	wantMatch(t, r.stderr, `(?m)^explain: Compiling lib/b.c: .*`+regexp.QuoteMeta(want))
	if why := w.cacheReasons("ev.json")[cacheActCompileB]; !strings.Contains(why, want) {
		t.Errorf("events reason of the compile of b.c is %q, want it to contain %q", why, want)
	}
	// Only what ran is explained: a.c did not change.
	if strings.Contains(r.stderr, "Compiling lib/a.c") {
		t.Errorf("the compile of a.c is explained, but it did not run:\n%s", r)
	}
	// The archive ran because the object changed: it names the object.
	wantMatch(t, r.stderr, `(?m)^explain: Archiving bld-out/lib/liblib.a: .*input bld-out/lib/_objs/lib/lib/b.o changed: [0-9a-f]{12}/\d+ -> [0-9a-f]{12}/\d+`)

	// A changed copt: the argv element, old and new.
	w.write("lib/BUILD.star", strings.Replace(cacheCWorkspace["lib/BUILD.star"], `"-O1"`, `"-O2"`, 1))
	r = w.mustBuild("build", "--explain", "--events", "ev.json", "//...")
	for _, src := range []string{"a.c", "b.c"} {
		wantMatch(t, r.stderr, `(?m)^explain: Compiling lib/`+regexp.QuoteMeta(src)+`: argv -O1 deleted; argv -O2 inserted$`)
	}
	if why := w.cacheReasons("ev.json")[cacheActCompileA]; why != "argv -O1 deleted; argv -O2 inserted" {
		t.Errorf("events reason of the compile of a.c is %q", why)
	}

	// A variable added to the actions' environment (--action_env). (A
	// changed PATH reruns only actions whose programs it changes: see
	// TestPathAndToolchainIdentity.)
	r = w.mustBuild("build", "--explain", "--action_env=GREETING=hi", "//doc:upper")
	wantMatch(t, r.stderr, `(?m)^explain: .*: env GREETING added: "hi"$`)
	if strings.Count(r.stderr, "explain: ") != 1 {
		t.Errorf("want one explained action:\n%s", r)
	}

	// An action never seen before says so.
	w.write("doc/BUILD.star", cacheCWorkspace["doc/BUILD.star"]+`genrule(name = "fresh", outs = ["fresh.txt"], cmd = "echo fresh > $@")
`)
	r = w.mustBuild("build", "--explain", "//doc:fresh")
	wantMatch(t, r.stderr, `(?m)^explain: .*fresh.*: no previous entry$`)
}

// TestCacheCorruptBlob checks that a blob with one byte flipped is detected
// and not served: after bld clean, the action whose output it held runs
// again, the output is right, and the cache verifies clean afterwards. And
// that bld cache verify finds and removes such a blob.
func TestCacheCorruptBlob(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	// An object larger than what results hold inline (8 KiB), so that it
	// is a blob.
	w.write("lib/b.c", cacheCWorkspace["lib/b.c"]+"const char lib_b_pad[16384] = {1};\n")
	w.cacheBuildEvents("//...")
	ref := w.cacheSnapshot()

	// The object of b.c: only its compile runs again.
	cacheFlipByte(t, w.cacheBlobOf("bld-out/lib/_objs/lib/lib/b.o"))
	w.bld("clean")
	events, r := w.cacheBuildEvents("//...")
	if diff := cmp.Diff([]string{cacheActCompileB}, cacheRanKeys(events)); diff != "" {
		t.Errorf("after corrupting the blob of b.o, ran (-want +got):\n%s\n%s", diff, r)
	}
	cacheWantSameOutputs(t, "after corrupting the blob of b.o", ref, w.cacheSnapshot())
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}
	w.cacheMustVerify("after the rebuild")

	// The program: bld cache verify finds the bad blob, and the result
	// that named it, and removes them; the next build links again.
	cacheFlipByte(t, w.cacheBlobOf("bld-out/app/app"))
	r = w.bld("cache", "verify")
	if r.code == 0 {
		t.Errorf("bld cache verify did not report the corrupt blob:\n%s", r)
	}
	wantMatch(t, r.stdout, `removed: 1 bad blobs`)
	w.cacheMustVerify("after verify removed the bad blob")
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	if diff := cmp.Diff([]string{cacheActLink}, cacheRanKeys(events)); diff != "" {
		t.Errorf("after verify removed the blob of app, ran (-want +got):\n%s\n%s", diff, r)
	}
	cacheWantSameOutputs(t, "after corrupting the blob of app", ref, w.cacheSnapshot())
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}
	w.cacheMustVerify("at the end")
}

// TestCacheEverythingCorrupt flips a byte of every file of the cache (blobs,
// action results, stats): a build after bld clean still
// gives correct outputs, identical to a build in a fresh cache.
func TestCacheEverythingCorrupt(t *testing.T) {
	ref := newWorkspace(t, cacheCWorkspace)
	ref.cacheBuildEvents("//...")
	want := ref.cacheSnapshot()

	w := newWorkspace(t, cacheCWorkspace)
	w.cacheBuildEvents("//...")
	w.bld("clean")
	w.cacheBuildEvents("//...") // hits: touches, records
	files := w.cacheListFiles("cas", "ac", "packs")
	files = append(files, filepath.Join(w.cacheBldDir(), "stats.json"))
	flipped := 0
	for _, p := range files {
		if strings.HasSuffix(p, ".pack") {
			storetest.DamagePack(t, p) // every result in it
			flipped++
		} else if cacheFlipByte(t, p) {
			flipped++
		}
	}
	// Small outputs live inside results (docs/cache.md), and results in
	// the build's pack: there are few files (a blob, the pack and its
	// index, stats.json), but every one of them, and every result, is
	// damaged.
	if flipped != len(files) || flipped < 4 {
		t.Fatalf("flipped only %d files of %v", flipped, files)
	}
	w.bld("clean")
	events, r := w.cacheBuildEvents("--explain", "//...")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(events)); diff != "" {
		t.Errorf("with every cache file corrupt, ran (-want +got):\n%s\n%s", diff, r)
	}
	cacheWantSameOutputs(t, "with every cache file corrupt", want, w.cacheSnapshot())
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}
	w.cacheMustVerify("after the rebuild")
	// And the cache works again.
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	cacheWantAllRestored(t, events, cacheCActions, r)
	cacheWantSameOutputs(t, "restored after the rebuild", want, w.cacheSnapshot())
}

// cacheKillWorkspace returns a workspace of 44 small actions: 21 genrules (one
// generates a header from seed.txt, 20 form a tree over seed.txt), 20
// compiles of a cc_unit that include the generated header, its archive, and
// the compile and link of a program. Every action depends on seed.txt.
func cacheKillWorkspace() map[string]string {
	var b strings.Builder
	b.WriteString(`genrule(name = "seedh", srcs = ["seed.txt"], outs = ["seed.h"], cmd = "sed 's/^/#define SEED /' $< > $@")
`)
	for i := range 20 {
		src := ":seedh"
		if i > 0 {
			src = fmt.Sprintf(":g%d", (i-1)/2)
		}
		fmt.Fprintf(&b, "genrule(name = \"g%d\", srcs = [\"seed.txt\", %q], outs = [\"g%d.txt\"], cmd = \"cat $(SRCS) > $@; echo %d >> $@\")\n", i, src, i, i)
	}
	var srcs []string
	files := map[string]string{}
	var decls, calls strings.Builder
	for i := range 20 {
		name := fmt.Sprintf("c%02d.c", i)
		srcs = append(srcs, strconv.Quote(name))
		files["k/"+name] = fmt.Sprintf("#include \"seed.h\"\nint f%d(void) { return SEED * %d + %d; }\n", i, i+1, i)
		fmt.Fprintf(&decls, "int f%d(void);\n", i)
		fmt.Fprintf(&calls, "\tsum += f%d();\n", i)
	}
	fmt.Fprintf(&b, "cc_unit(name = \"u\", srcs = [%s, \":seedh\"], includes = [\".\"])\n", strings.Join(srcs, ", "))
	b.WriteString(`cc_binary(name = "prog", srcs = ["main.c"], deps = [":u"])
`)
	files["k/BUILD.star"] = b.String()
	files["k/main.c"] = "#include <stdio.h>\n" + decls.String() + "int main(void) {\n\tint sum = 0;\n" + calls.String() + "\tprintf(\"%d\\n\", sum);\n\treturn 0;\n}\n"
	files["k/seed.txt"] = "0\n"
	return files
}

// cacheKillProgOutput is what the program of cacheKillWorkspace prints for seed s.
func cacheKillProgOutput(s int) string {
	sum := 0
	for i := range 20 {
		sum += s*(i+1) + i
	}
	return fmt.Sprintf("%d\n", sum)
}

// cacheStrayActions returns the processes (not zombies) whose working directory
// is root: actions of a bld that was killed, which outlive it in their own
// process groups.
func cacheStrayActions(root string) []int {
	root, _ = filepath.EvalSymlinks(root)
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil || (cwd != root && !strings.HasPrefix(cwd, root+"/")) {
			continue
		}
		if processGone(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestCacheSIGKILL kills bld with SIGKILL at 20 random points of builds of
// 44 actions, one build after the other with no repair in between; before
// most builds seed.txt changes, so that the build has work to do, or goes
// back to a value seen before, whose results the cache may hold. The action
// processes a killed bld leaves behind are, by turns, left running into the
// next build, killed too (as when the whole machine or container dies), or
// left to finish. Then a build: its outputs are byte-identical to a clean
// build in a fresh cache, bld cache verify is clean, and after bld clean
// every output comes from the cache, still identical.
func TestCacheSIGKILL(t *testing.T) {
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		t.Fatalf("this test finds the actions a killed bld leaves in /proc: %v", err)
	}
	const kills = 20
	rng := rand.New(rand.NewPCG(4, 2026))
	// Mostly a new seed (so that the killed build has work to do), else
	// one seen before (whose results the cache may hold, whole or partly).
	seeds := make([]int, kills)
	for i := range seeds {
		seeds[i] = 10 + i
		if i > 0 && rng.IntN(4) == 0 {
			seeds[i] = seeds[rng.IntN(i)]
		}
	}
	files := cacheKillWorkspace()
	final := seeds[kills-1]

	// The reference: a clean build of the final sources in a fresh cache.
	ref := newWorkspace(t, files)
	ref.write("k/seed.txt", fmt.Sprintf("%d\n", final))
	events, r := ref.cacheBuildEvents("//k:all")
	if got := statuses(events); got["ran"] != 44 {
		t.Fatalf("reference build: statuses %v, want 44 ran:\n%s", got, r)
	}
	want := ref.cacheSnapshot()
	buildTime := r.elapsed
	t.Logf("reference build: %v", buildTime)

	w := newWorkspace(t, files)
	killed := 0
	for i := range kills {
		w.write("k/seed.txt", fmt.Sprintf("%d\n", seeds[i]))
		// Within the first half of a full build's time: a build after a
		// kill reruns only part of the work, and may end sooner.
		delay := time.Duration(rng.Int64N(int64(buildTime)/2 + 1))
		cmd := w.command(".", "build", "//k:all")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			killed++
		case cmd.ProcessState.ExitCode() != 0:
			t.Fatalf("kill %d: bld failed before it was killed:\n%s", i, out.String())
		}
		// The actions bld left (in their own process groups) are, by
		// turns: still running when the next build starts; killed with bld
		// (as when the machine or container dies); finishing on their own
		// before the next build. Before the final build, they are gone.
		mode := rng.IntN(3)
		if mode == 0 && i < kills-1 {
			continue
		}
		killStrays := mode == 1
		deadline := time.Now().Add(10 * time.Second)
		for {
			pids := cacheStrayActions(w.root)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: action processes %v still run after 10s", i, pids)
			}
			if killStrays {
				for _, pid := range pids {
					syscall.Kill(-pid, syscall.SIGKILL)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("%d of %d builds were killed before they ended", killed, kills)
	if killed < kills/2 {
		t.Errorf("only %d of %d builds were killed before they ended", killed, kills)
	}

	w.mustBuild("build", "//k:all")
	// A tool killed in the middle may leave a temporary file of its own
	// in bld-out/ (ar does): not an output, like the extra files a genrule
	// may leave. The declared outputs are what must be right.
	got := w.cacheSnapshot()
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Logf("after the kills, bld-out/ also holds %s (not an output)", p)
			delete(got, p)
		}
	}
	cacheWantSameOutputs(t, "after the kills", want, got)
	if got, wantOut := w.cacheRunProgram("bld-out/k/prog"), cacheKillProgOutput(final); got != wantOut {
		t.Errorf("prog printed %q, want %q", got, wantOut)
	}
	w.cacheMustVerify("after the kills")
	// Every entry the killed builds left is right: a rebuild from the
	// cache alone gives the same outputs.
	w.bld("clean")
	events, r = w.cacheBuildEvents("//k:all")
	if got := statuses(events); got["restored"] != 44 {
		t.Errorf("rebuild after bld clean: statuses %v, want 44 restored:\n%s", got, r)
	}
	cacheWantSameOutputs(t, "rebuilt from the cache after the kills", want, w.cacheSnapshot())
	// Other seeds the killed builds saw, whose results they stored in the
	// cache whole or partly, give their right program.
	for _, s := range []int{seeds[0], seeds[kills/2], seeds[kills-2]} {
		w.write("k/seed.txt", fmt.Sprintf("%d\n", s))
		w.mustBuild("build", "//k:all")
		if got, wantOut := w.cacheRunProgram("bld-out/k/prog"), cacheKillProgOutput(s); got != wantOut {
			t.Errorf("seed %d: prog printed %q, want %q", s, got, wantOut)
		}
	}
	w.cacheMustVerify("at the end")
}

// cacheConcurrentWorkspace is cacheCWorkspace with its own number and words: the
// library (the same in all) gives the same keys to every workspace, the
// rest differs.
func cacheConcurrentWorkspace(n int) map[string]string {
	files := map[string]string{}
	for k, v := range cacheCWorkspace {
		files[k] = v
	}
	files["app/num.txt"] = fmt.Sprintf("%d\n", 100+n)
	files["doc/words.txt"] = fmt.Sprintf("workspace %d\n", n)
	return files
}

// TestCacheConcurrentBuilds runs builds of 4 different workspaces at once on
// one cache, three times: into an empty cache, from the cache after bld
// clean, and after a change, while bld cache trim runs. All succeed with
// right outputs, and bld cache verify is clean afterwards.
func TestCacheConcurrentBuilds(t *testing.T) {
	const n = 4
	var ws, refs []*testWorkspace
	for i := range n {
		files := cacheConcurrentWorkspace(i)
		ref := newWorkspace(t, files)
		ref.cacheBuildEvents("//...")
		refs = append(refs, ref)
		w := newWorkspace(t, files)
		if i > 0 {
			w.env, w.cache = ws[0].env, ws[0].cache // one cache for all
		}
		ws = append(ws, w)
	}
	// runAll builds every workspace at once (and runs extra at the same
	// time), and checks the outputs against the references.
	runAll := func(round string, a int, extra func()) {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]result, n)
		errs := make([]error, n)
		for i, w := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := w.command(".", "build", "//...")
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				errs[i] = cmd.Run()
				results[i] = result{args: []string{"build", "//..."}, code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
			}()
		}
		if extra != nil {
			extra()
		}
		wg.Wait()
		for i, w := range ws {
			if errs[i] != nil {
				t.Errorf("%s: workspace %d: %v\n%s", round, i, errs[i], results[i])
				continue
			}
			cacheWantSameOutputs(t, fmt.Sprintf("%s: workspace %d", round, i), refs[i].cacheSnapshot(), w.cacheSnapshot())
			if got, want := w.cacheRunProgram("bld-out/app/app"), fmt.Sprintf("%d 2 %d\n", a, 100+i); got != want {
				t.Errorf("%s: workspace %d: app printed %q, want %q", round, i, got, want)
			}
		}
		ws[0].cacheMustVerify(round)
	}
	runAll("into an empty cache", 1, nil)
	for _, w := range ws {
		w.bld("clean")
	}
	runAll("from the cache after bld clean", 1, nil)
	// A change every workspace shares (new keys for the library), while the
	// cache is trimmed to nothing.
	for i, w := range ws {
		w.write("lib/a.c", "#include \"lib.h\"\nint lib_a(void) { return 5; }\n")
		refs[i].write("lib/a.c", "#include \"lib.h\"\nint lib_a(void) { return 5; }\n")
		refs[i].mustBuild("build", "//...")
		w.bld("clean")
	}
	var trims []result
	runAll("while trimming", 5, func() {
		for range 3 {
			trims = append(trims, ws[0].bld("cache", "trim", "--max-size", "0"))
			time.Sleep(20 * time.Millisecond)
		}
	})
	for _, r := range trims {
		if r.code != 0 {
			t.Errorf("trim during builds failed:\n%s", r)
		}
	}
}

// TestCacheStatsAndTrim checks that bld cache stats counts entries, hits
// and misses, that bld cache trim --max-size 1K shrinks the cache below
// 1K, and that a later build recomputes what was trimmed, correctly.
func TestCacheStatsAndTrim(t *testing.T) {
	w := newWorkspace(t, cacheCWorkspace)
	w.cacheBuildEvents("//...")
	ref := w.cacheSnapshot()
	w.bld("clean")
	w.cacheBuildEvents("//...")

	r := w.bld("cache", "stats")
	if r.code != 0 {
		t.Fatal(r)
	}
	wantMatch(t, r.stdout,
		`(?m)^cache `+regexp.QuoteMeta(w.cacheBldDir())+`$`,
		// 8 results, and the read-set manifests of the 3 compiles.
		`(?m)^entries\s+11 action results`,
		`(?m)^\s+\S+ \S+\s+0 hits, 8 misses, [1-9]\d* stored$`,
		`(?m)^\s+\S+ \S+\s+8 hits, 0 misses, 0 stored$`,
	)
	before := cacheStatsSize(t, r.stdout)
	if before <= 1024 {
		t.Fatalf("cache size %d, want more than 1K:\n%s", before, r)
	}

	r = w.bld("cache", "trim", "--max-size", "1K")
	if r.code != 0 {
		t.Fatal(r)
	}
	wantMatch(t, r.stdout, `trimmed \S+ to \S+: removed [1-9]\d* results`)
	r = w.bld("cache", "stats")
	after := cacheStatsSize(t, r.stdout)
	if after > 1024 {
		t.Errorf("after trim --max-size 1K, size is %d:\n%s", after, r)
	}
	wantMatch(t, r.stdout, `(?m)^entries\s+[0-7] action results`)
	w.cacheMustVerify("after the trim")

	w.bld("clean")
	events, r := w.cacheBuildEvents("//...")
	if got := statuses(events); got["ran"] == 0 || len(events) != len(cacheCActions) {
		t.Errorf("after the trim: statuses %v, want some ran:\n%s", got, r)
	}
	cacheWantSameOutputs(t, "after the trim", ref, w.cacheSnapshot())
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 7\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 7\n")
	}
	r = w.bld("cache", "stats")
	wantMatch(t, r.stdout, `(?m)^entries\s+11 action results`)
	w.cacheMustVerify("at the end")

	// Bad sizes are usage errors.
	for _, bad := range []string{"", "1X", "-1", "K"} {
		args := []string{"cache", "trim", "--max-size", bad}
		if bad == "" {
			args = args[:2]
		}
		if r := w.bld(args...); r.code != exitUsage {
			t.Errorf("bld %v: want exit %d:\n%s", args, exitUsage, r)
		}
	}
}

// cacheStatsSize parses the size line of bld cache stats into bytes (it is
// rounded to 0.1 of its unit).
func cacheStatsSize(t *testing.T, out string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^size\s+([0-9.]+)([BKMG])`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no size in:\n%s", out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	mult := map[string]float64{"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m[2]]
	return int64(v * mult)
}
