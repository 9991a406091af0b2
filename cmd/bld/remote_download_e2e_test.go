package main

// End-to-end tests of --remote_download_minimal and
// --remote_download_toplevel (exec/cache's kept.go): outputs of remote
// results stay in the remote cache until an action here, or the user,
// needs them.

import (
	"strings"
	"testing"

	"bld/exec/remote/remotetest"
)

// keptFiles is a chain that crosses between the remote executor and this
// machine: a and b run remotely, c here (it reads b), d remotely (it reads
// c); and a C program compiled and linked remotely.
var keptFiles = map[string]string{
	"p/BUILD.star": `
genrule(name = "a", outs = ["a.txt"], cmd = "echo hello > $@")
genrule(name = "b", srcs = [":a"], outs = ["b.txt"], cmd = "cat $< $< > $@")
genrule(name = "c", srcs = [":b"], outs = ["c.txt"], cmd = "cat $< > $@; echo here >> $@", tags = ["no-remote"])
genrule(name = "d", srcs = [":c"], outs = ["d.txt"], cmd = "cat $< > $@; echo there >> $@")
genrule(name = "gen", outs = ["gen.h"], cmd = "echo '#define GEN 1' > $@")
cc_binary(name = "hello", srcs = ["hello.c", "hello.h", ":gen"], includes = ["."])
`,
	"p/hello.c": "#include <stdio.h>\n#include \"hello.h\"\n#include \"gen.h\"\nint main(void) { printf(\"%s\\n\", MSG); return GEN - 1; }\n",
	"p/hello.h": "#define MSG \"hi from a header\"\n",
}

// TestRemoteDownloadMinimal: with --remote_download_minimal, what ran
// remotely stays remote unless an action here reads it; a no-op build
// downloads nothing and runs nothing; bld run and --remote_download_toplevel
// bring the outputs asked for; a build without the flag downloads the
// rest.
func TestRemoteDownloadMinimal(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true})
	flag := "--remote_executor=" + s.Target()
	w := newWorkspace(t, keptFiles)
	w.mustBuild("build", flag, "--remote_download_minimal", "--events=ev.json", "//p:all")
	ev := readRemoteEvents(t, w, "ev.json")
	for _, k := range []string{"//p:a Genrule", "//p:b Genrule", "//p:d Genrule", "//p:hello CcCompile", "//p:hello CcLink"} {
		if e := ev[k]; e.Status != "ran" || e.Remote != "executed" {
			t.Errorf("%s: %+v, want run remotely", k, e)
		}
	}
	for _, f := range []string{"bld-out/p/a.txt", "bld-out/p/d.txt", "bld-out/p/hello", "bld-out/p/_objs/hello/p/hello.o"} {
		if w.exists(f) {
			t.Errorf("%s was downloaded; it should stay in the remote cache", f)
		}
	}
	// c ran here: its input b was downloaded for it, and c's output is
	// the real thing.
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt, downloaded for c: %q", got)
	}
	if got := w.read("bld-out/p/c.txt"); got != "hello\nhello\nhere\n" {
		t.Errorf("c.txt = %q", got)
	}
	table := w.read("bld-out/.bld/remote-outputs")
	for _, f := range []string{"bld-out/p/a.txt", "bld-out/p/d.txt", "bld-out/p/hello"} {
		if !strings.Contains(table, " "+f+"\n") {
			t.Errorf("the table of kept outputs does not name %s:\n%s", f, table)
		}
	}
	if strings.Contains(table, "b.txt") {
		t.Errorf("b.txt is on disk, yet the table still names it:\n%s", table)
	}

	// What ran remotely and stayed there is in the remote cache under
	// bld's keys: a second checkout restores it without executing.
	w2 := newWorkspace(t, keptFiles)
	w2.mustBuild("build", flag, "--remote_download_minimal", "--events=ev.json", "//p:all")
	for k, e := range readRemoteEvents(t, w2, "ev.json") {
		if k != "//p:c Genrule" && (e.Status != "restored" || e.Remote != "cache") {
			t.Errorf("second checkout: %s is %+v, want restored from the remote cache", k, e)
		}
	}

	// A no-op: nothing runs here or there, nothing is downloaded.
	before := s.Stats()
	w.mustBuild("build", flag, "--remote_download_minimal", "--events=ev2.json", "//p:all")
	for k, e := range readRemoteEvents(t, w, "ev2.json") {
		if e.Status != "cached" {
			t.Errorf("no-op build: %s is %s, want cached", k, e.Status)
		}
	}
	after := s.Stats()
	if after.Executions != before.Executions || after.ByteStreamReadBlobs != before.ByteStreamReadBlobs || after.BatchReadBlobs != before.BatchReadBlobs {
		t.Errorf("the no-op build executed or downloaded: before %+v after %+v", before, after)
	}
	if w.exists("bld-out/p/d.txt") {
		t.Error("d.txt appeared in a no-op build")
	}

	// bld run needs the program here.
	out, err := w.command(".", "run", flag, "--remote_download_minimal", "//p:hello").Output()
	if err != nil || string(out) != "hi from a header\n" {
		t.Errorf("bld run with --remote_download_minimal: %q, %v", out, err)
	}
	// --remote_download_toplevel brings what was asked for.
	w.mustBuild("build", flag, "--remote_download_toplevel", "//p:d")
	if got := w.read("bld-out/p/d.txt"); got != "hello\nhello\nhere\nthere\n" {
		t.Errorf("d.txt with --remote_download_toplevel: %q", got)
	}
	if w.exists("bld-out/p/a.txt") {
		t.Error("--remote_download_toplevel downloaded a.txt, which is not asked for")
	}
	// Without the flag, every output comes here, from the remote cache,
	// nothing runs again, and the table is gone.
	w.mustBuild("build", flag, "--events=ev3.json", "//p:all")
	if got := w.read("bld-out/p/a.txt"); got != "hello\n" {
		t.Errorf("a.txt after a build without the flag: %q", got)
	}
	if !w.exists("bld-out/p/_objs/hello/p/hello.o") {
		t.Error("hello.o was not downloaded by a build without the flag")
	}
	if w.exists("bld-out/.bld/remote-outputs") {
		t.Error("a build without the flag left the table of kept outputs")
	}
	if n := s.Stats().Executions; n != after.Executions {
		t.Errorf("the server ran %d more actions", n-after.Executions)
	}
}

// TestRemoteDownloadMinimalCacheHits: a second checkout restores from the
// remote cache without downloading what nothing here reads; when a kept
// output is evicted from the remote CAS before an action here needs it,
// the build says so, runs what made it again, and succeeds.
func TestRemoteDownloadMinimalCacheHits(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true})
	flag := "--remote_executor=" + s.Target()
	w1 := newWorkspace(t, keptFiles)
	w1.mustBuild("build", flag, "//p:all")
	a := w1.read("bld-out/p/a.txt")

	w2 := newWorkspace(t, keptFiles)
	w2.mustBuild("build", flag, "--remote_download_minimal", "--events=ev.json", "//p:a", "//p:d")
	for k, e := range readRemoteEvents(t, w2, "ev.json") {
		if k == "//p:c Genrule" {
			if e.Status != "ran" {
				t.Errorf("c (no-remote) in the second checkout: %+v, want run here", e)
			}
			continue
		}
		if e.Status != "restored" || e.Remote != "cache" {
			t.Errorf("%s in the second checkout: %+v, want restored from the remote cache", k, e)
		}
	}
	if w2.exists("bld-out/p/a.txt") || w2.exists("bld-out/p/d.txt") {
		t.Error("a remote cache hit downloaded an output nothing here reads")
	}
	// A compile whose generated header (a remote cache hit) stays remote
	// reads it from the CAS on the worker, and its result is kept: the
	// next build runs nothing.
	w2.mustBuild("build", flag, "--remote_download_minimal", "//p:gen")
	w2.write("p/hello.c", strings.Replace(keptFiles["p/hello.c"], "return", "/* edited */ return", 1))
	r := w2.mustBuild("build", flag, "--remote_download_minimal", "--events=ev1.json", "//p:all")
	if e := readRemoteEvents(t, w2, "ev1.json")["//p:hello CcCompile"]; e.Status != "ran" || e.Remote != "executed" {
		t.Errorf("the edited compile: %+v, want run remotely", e)
	}
	if strings.Contains(r.stderr, "not cached") {
		t.Errorf("a result was not kept:\n%s", r.stderr)
	}
	if w2.exists("bld-out/p/gen.h") {
		t.Error("the generated header was downloaded, though only the remote compile reads it")
	}
	w2.mustBuild("build", flag, "--remote_download_minimal", "--events=ev2.json", "//p:all")
	for k, e := range readRemoteEvents(t, w2, "ev2.json") {
		if e.Status != "cached" {
			t.Errorf("second build of the second checkout: %s is %s, want cached", k, e.Status)
		}
	}

	// Evict a.txt, then ask for an action here that reads it.
	s.DeleteBlob("", remotetest.DigestOf([]byte(a)))
	w2.write("p/BUILD.star", keptFiles["p/BUILD.star"]+`
genrule(name = "e", srcs = [":a"], outs = ["e.txt"], cmd = "cat $< > $@", tags = ["no-remote"])
`)
	r = w2.mustBuild("build", flag, "--remote_download_minimal", "//p:e")
	wantContains(t, r.stderr, "gone from it; building again")
	if got := w2.read("bld-out/p/e.txt"); got != a {
		t.Errorf("e.txt after the eviction = %q, want %q", got, a)
	}
}
