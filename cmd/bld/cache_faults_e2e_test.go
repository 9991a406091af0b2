package main

// End-to-end tests of a cache that does not work (issue 7, "the cache is an
// optimization, never a reason to fail"), with real faults: a read-only
// bind mount of the cache directory and a full tmpfs over it, each made in
// a private user and mount namespace (unshare -Urm) around one bld run, and
// directories in place of a blob and of action results. Each time the
// build succeeds with one warning, its outputs are those of a build with a
// working cache, and bld cache verify cleans up what can be cleaned.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// faultWarning is the warning a build gives, once, about a cache that does
// not work.
var faultWarning = regexp.MustCompile(`(?m)^bld: warning: the action cache does not work \(.*\); building without it where it fails$`)

// wantOneFaultWarning fails the test unless r warned about the cache once,
// and said why with want (a regexp matched against the warning).
func wantOneFaultWarning(t *testing.T, r result, want string) {
	t.Helper()
	lines := faultWarning.FindAllString(r.stderr, -1)
	if len(lines) != 1 {
		t.Fatalf("want one warning about the cache, got %d:\n%s", len(lines), r)
	}
	if !regexp.MustCompile(want).MatchString(lines[0]) {
		t.Errorf("warning %q does not match %q", lines[0], want)
	}
}

// bldInNamespace runs bld with args in a new user and mount namespace,
// after the shell commands setup have run there with $D set to the cache
// directory. A namespace that cannot be made fails the test.
func (w *testWorkspace) bldInNamespace(setup string, args ...string) result {
	w.t.Helper()
	return w.inNamespace(setup+`; exec "$BLD" "$@"`, args...)
}

// inNamespace runs the shell script in a new user and mount namespace,
// in the workspace, with $D set to the cache directory, $BLD to the bld
// binary and args as its arguments.
func (w *testWorkspace) inNamespace(script string, args ...string) result {
	w.t.Helper()
	if err := os.MkdirAll(w.cacheBldDir(), 0o755); err != nil {
		w.t.Fatal(err)
	}
	script = "set -e; D=\"$1\"; BLD=\"$2\"; shift 2; " + script
	cmdArgs := append([]string{"-Urm", "sh", "-c", script, "sh", w.cacheBldDir(), bldBinary}, args...)
	probe := exec.Command("unshare", "-Urm", "true")
	if out, err := probe.CombinedOutput(); err != nil {
		w.t.Fatalf("these tests need user and mount namespaces (unshare -Urm true: %v %s); run them where unprivileged namespaces are allowed, or as root", err, out)
	}
	cmd := exec.Command("unshare", cmdArgs...)
	cmd.Dir = w.root
	cmd.Env = w.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("running bld %v in a namespace: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

const (
	readOnlyCache = `mount --bind "$D" "$D" && mount -o remount,ro,bind "$D"`
	// fullCache mounts a 256 KiB tmpfs over the cache directory and fills
	// it but for 24 KiB (six 4 KiB pages), so that some results of
	// cacheCWorkspace fit (small results share the build's pack, larger
	// outputs take pages of their own as blobs) and the others do not.
	fullCache = `mount -t tmpfs -o size=256k none "$D" && (dd if=/dev/zero of="$D/filler" bs=1k count=232 2>/dev/null || true)`
)

// cacheReference builds cacheCWorkspace with a working cache of its own and
// returns its outputs.
func cacheReference(t *testing.T) map[string]cacheOutput {
	ref := newWorkspace(t, cacheCWorkspace)
	ref.cacheBuildEvents("//...")
	return ref.cacheSnapshot()
}

func TestCacheReadOnly(t *testing.T) {
	want := cacheReference(t)

	// An empty cache that cannot be written: everything runs.
	w := newWorkspace(t, cacheCWorkspace)
	r := w.bldInNamespace(readOnlyCache, "build", "--events", "ev.json", "//...")
	if r.code != 0 {
		t.Fatalf("build with a read-only cache failed:\n%s", r)
	}
	wantOneFaultWarning(t, r, "read-only file system")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(w.readEvents("ev.json"))); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	cacheWantSameOutputs(t, "with a read-only cache", want, w.cacheSnapshot())
	if files, _ := filepath.Glob(filepath.Join(w.cacheBldDir(), "*")); len(files) != 0 {
		t.Errorf("files written into the read-only cache: %v", files)
	}
	// The workspace knows its outputs are those of the actions' keys
	// (its records of the last run): nothing runs.
	r = w.bldInNamespace(readOnlyCache, "build", "--events", "ev.json", "//...")
	if r.code != 0 {
		t.Fatalf("second build with a read-only cache failed:\n%s", r)
	}
	if ran := withStatus(w.readEvents("ev.json"), "ran"); len(ran) != 0 {
		t.Errorf("second build with a read-only cache ran %v:\n%s", ran, r)
	}
	cacheWantSameOutputs(t, "after a second build with a read-only cache", want, w.cacheSnapshot())

	// A full cache made read-only: restores work, one edited source
	// reruns its compile and link, whose results cannot be stored.
	w = newWorkspace(t, cacheCWorkspace)
	w.cacheBuildEvents("//...")
	w.bld("clean")
	w.write("app/num.txt", "8\n")
	r = w.bldInNamespace(readOnlyCache, "build", "--events", "ev.json", "//...")
	if r.code != 0 {
		t.Fatalf("build with a read-only cache failed:\n%s", r)
	}
	wantOneFaultWarning(t, r, "read-only file system")
	if diff := cmp.Diff(cacheSorted(cacheActNum, cacheActCompileM, cacheActLink), cacheRanKeys(w.readEvents("ev.json"))); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	if got := w.cacheRunProgram("bld-out/app/app"); got != "1 2 8\n" {
		t.Errorf("app printed %q, want %q", got, "1 2 8\n")
	}
	w.cacheMustVerify("after a read-only build")
}

func TestCacheFull(t *testing.T) {
	want := cacheReference(t)
	w := newWorkspace(t, cacheCWorkspace)
	// Two builds in one full cache: the first runs everything and stores
	// what fits; after bld clean, the second restores that and runs the
	// rest again.
	r := w.inNamespace(fullCache + `
		"$BLD" build --events ev1.json //... || exit 1
		"$BLD" clean
		exec "$BLD" build --events ev2.json //...`)
	if r.code != 0 {
		t.Fatalf("builds with a full cache failed:\n%s", r)
	}
	if n := len(faultWarning.FindAllString(r.stderr, -1)); n != 2 {
		t.Errorf("want one warning per build, got %d:\n%s", n, r)
	}
	wantMatch(t, r.stderr, "no space left on device")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(w.readEvents("ev1.json"))); diff != "" {
		t.Errorf("first build ran (-want +got):\n%s", diff)
	}
	second := statuses(w.readEvents("ev2.json"))
	if second["ran"] == 0 || second["ran"] == len(cacheCActions) {
		t.Errorf("second build: %v; want some results restored and some not (the cache holds some)\n%s", second, r)
	}
	t.Logf("second build in the full cache: %v", second)
	cacheWantSameOutputs(t, "with a full cache", want, w.cacheSnapshot())
}

func TestCacheDirectoryInPlaceOfBlob(t *testing.T) {
	want := cacheReference(t)
	w := newWorkspace(t, cacheCWorkspace)
	w.cacheBuildEvents("//...")
	blob := w.cacheBlobOf("bld-out/app/app")
	mustReplaceWithDirectory(t, blob)
	w.bld("clean")

	events, r := w.cacheBuildEvents("//...")
	wantOneFaultWarning(t, r, regexp.QuoteMeta(blob)+": not a regular file")
	if diff := cmp.Diff([]string{cacheActLink}, cacheRanKeys(events)); diff != "" {
		t.Errorf("ran (-want +got):\n%s\n%s", diff, r)
	}
	cacheWantSameOutputs(t, "with a directory in place of a blob", want, w.cacheSnapshot())
	// The link's result could not be stored (its blob cannot be written).
	r = w.bld("cache", "verify")
	if r.code == 0 || !strings.Contains(r.stdout, "removed: 1 bad blobs") {
		t.Errorf("verify did not report the directory:\n%s", r)
	}
	if fi, err := os.Lstat(blob); err == nil {
		t.Errorf("verify left %s (%v)", blob, fi.Mode())
	}
	w.cacheMustVerify("after verify")
	// Now the link's result can be stored again.
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	if diff := cmp.Diff([]string{cacheActLink}, cacheRanKeys(events)); diff != "" {
		t.Errorf("after verify, ran (-want +got):\n%s\n%s", diff, r)
	}
	if faultWarning.MatchString(r.stderr) {
		t.Errorf("warned after verify repaired the cache:\n%s", r)
	}
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	cacheWantAllRestored(t, events, cacheCActions, r)
}

func TestCacheDirectoryInPlaceOfEntries(t *testing.T) {
	want := cacheReference(t)
	w := newWorkspace(t, cacheCWorkspace)
	w.cacheBuildEvents("//...")
	// One result per action, and the read-set manifests of the 3
	// compiles, all in the build's one pack.
	entries := w.cacheListFiles("ac", "packs")
	if len(entries) != 2 || !strings.HasSuffix(entries[1], ".pack") {
		t.Fatalf("cache files %v, want a pack and its index", entries)
	}
	entries = entries[1:]
	for _, e := range entries {
		mustReplaceWithDirectory(t, e)
	}
	w.bld("clean")

	events, r := w.cacheBuildEvents("//...")
	wantOneFaultWarning(t, r, "not a regular file")
	if diff := cmp.Diff(cacheCActions, cacheRanKeys(events)); diff != "" {
		t.Errorf("ran (-want +got):\n%s\n%s", diff, r)
	}
	cacheWantSameOutputs(t, "with directories in place of action results", want, w.cacheSnapshot())

	r = w.bld("cache", "verify")
	if r.code == 0 || !strings.Contains(r.stdout, "1 bad results") {
		t.Errorf("verify did not report the directory:\n%s", r)
	}
	w.cacheMustVerify("after verify")
	// The build stored its results in a pack of its own.
	w.bld("clean")
	events, r = w.cacheBuildEvents("//...")
	cacheWantAllRestored(t, events, cacheCActions, r)
}

// mustReplaceWithDirectory replaces the file p by a directory holding a
// file, as a broken tool or a confused user might.
func mustReplaceWithDirectory(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
}
