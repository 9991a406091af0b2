package main

// End-to-end tests of the remote cache and remote execution, against the
// REAPI test server (exec/remote/remotetest) on 127.0.0.1: it runs
// commands for real and enforces what Buildbarn and bazel-remote enforce.

import (
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"bld/exec/digest"
	"bld/exec/remote/remotetest"
)

// remoteFiles is a workspace with a chain of genrules and a C program
// whose compile reads a header (so it is keyed in two levels).
var remoteFiles = map[string]string{
	"p/BUILD.star": `
genrule(name = "a", outs = ["a.txt"], cmd = "echo hello > $@")
genrule(name = "b", srcs = [":a"], outs = ["b.txt"], cmd = "cat $< $< > $@; echo note from b >&2")
genrule(name = "local", outs = ["local.txt"], cmd = "echo local > $@", tags = ["no-remote"])
cc_binary(name = "hello", srcs = ["hello.c", "hello.h"])
`,
	"p/hello.c": "#include <stdio.h>\n#include \"hello.h\"\nint main(void) { printf(\"%s\\n\", MSG); return 0; }\n",
	"p/hello.h": "#define MSG \"hi from a header\"\n",
}

// remoteEvent is an --events line with the remote field.
type remoteEvent struct {
	Label    string `json:"label"`
	Mnemonic string `json:"mnemonic"`
	Status   string `json:"status"`
	Remote   string `json:"remote"`
}

func readRemoteEvents(t *testing.T, w *testWorkspace, rel string) map[string]remoteEvent {
	t.Helper()
	out := map[string]remoteEvent{}
	for _, line := range strings.Split(strings.TrimSpace(w.read(rel)), "\n") {
		var e remoteEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events line %q: %v", line, err)
		}
		out[e.Label+" "+e.Mnemonic] = e
	}
	return out
}

func startServer(t *testing.T, opts remotetest.Options) *remotetest.Server {
	t.Helper()
	s, err := remotetest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// TestRemoteCacheSharedAcrossCheckouts: a build with --remote_cache fills
// the remote cache; a second checkout elsewhere, with an empty local
// cache, restores everything from it (the compile through its read set),
// byte for byte, and runs nothing — except the no-remote action.
func TestRemoteCacheSharedAcrossCheckouts(t *testing.T) {
	s := startServer(t, remotetest.Options{})
	flag := "--remote_cache=" + s.Target()
	w1 := newWorkspace(t, remoteFiles)
	r := w1.mustBuild("build", flag, "--remote_instance_name=team/a", "--remote_header=x-token=secret", "--events=ev.json", "//p:all")
	wantContains(t, r.stderr, "bld: remote:", "0 restored from the remote cache")
	if got := s.HeaderValues("x-token"); len(got) == 0 || got[0] != "secret" {
		t.Errorf("--remote_header did not reach the server: %v", got)
	}
	if got := s.Instances(); len(got) != 1 || got[0] != "team/a" {
		t.Errorf("instances on the server = %v, want [team/a]", got)
	}

	w2 := newWorkspace(t, remoteFiles)
	before := s.Stats().RPCs
	r = w2.mustBuild("build", flag, "--remote_instance_name=team/a", "--events=ev.json", "//p:all")
	// The server inlines every output it is asked to (the linked program
	// too, bigger than a local result inlines): a hit is one call.
	if after := s.Stats().RPCs; after["BatchReadBlobs"] != before["BatchReadBlobs"] || after["Read"] != before["Read"] {
		t.Errorf("the second checkout read blobs besides its results: %d BatchReadBlobs, %d ByteStream Reads",
			after["BatchReadBlobs"]-before["BatchReadBlobs"], after["Read"]-before["Read"])
	}
	ev := readRemoteEvents(t, w2, "ev.json")
	for _, k := range []string{"//p:a Genrule", "//p:b Genrule", "//p:hello CcCompile", "//p:hello CcLink"} {
		if e := ev[k]; e.Status != "restored" || e.Remote != "cache" {
			t.Errorf("%s in the second checkout: status %q remote %q, want restored from the remote cache", k, e.Status, e.Remote)
		}
	}
	if e := ev["//p:local Genrule"]; e.Status != "ran" || e.Remote != "" {
		t.Errorf("the no-remote action: %+v, want it run here", e)
	}
	wantContains(t, r.stderr, "note from b") // the output is restored too
	for _, f := range []string{"bld-out/p/b.txt", "bld-out/p/hello", "bld-out/p/_objs/hello/p/hello.o"} {
		if w1.read(f) != w2.read(f) {
			t.Errorf("%s differs between the checkouts", f)
		}
	}
	out, err := w2.command(".", "run", "//p:hello").Output()
	if err != nil || string(out) != "hi from a header\n" {
		t.Errorf("restored program: %q, %v", out, err)
	}

	// Another instance name is another cache.
	w3 := newWorkspace(t, remoteFiles)
	w3.mustBuild("build", flag, "--remote_instance_name=team/b", "--events=ev.json", "//p:all")
	if e := readRemoteEvents(t, w3, "ev.json")["//p:a Genrule"]; e.Status != "ran" {
		t.Errorf("another instance name hit the cache of the first: %+v", e)
	}
}

// TestRemoteExecution: actions run on the remote executor, taking no
// local token, and their results land in both caches; jobserver and
// no-remote actions run here; a second checkout restores from the remote
// cache.
func TestRemoteExecution(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true})
	files := map[string]string{}
	for k, v := range remoteFiles {
		files[k] = v
	}
	files["p/BUILD.star"] += `
genrule(name = "mk", outs = ["mk.txt"], cmd = "echo made > $@", jobserver = True)
`
	w := newWorkspace(t, files)
	flag := "--remote_executor=" + s.Target()
	r := w.mustBuild("build", flag, "-j1", "--events=ev.json", "//p:all")
	ev := readRemoteEvents(t, w, "ev.json")
	for _, k := range []string{"//p:a Genrule", "//p:b Genrule", "//p:hello CcCompile", "//p:hello CcLink"} {
		if e := ev[k]; e.Status != "ran" || e.Remote != "executed" {
			t.Errorf("%s: status %q remote %q, want ran remotely", k, e.Status, e.Remote)
		}
	}
	for _, k := range []string{"//p:local Genrule", "//p:mk Genrule"} {
		if e := ev[k]; e.Status != "ran" || e.Remote != "" {
			t.Errorf("%s: %+v, want run here", k, e)
		}
	}
	wantContains(t, r.stderr, "note from b", "4 action(s) ran on "+s.Target())
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt = %q", got)
	}
	if out, err := w.command(".", "run", "//p:hello").Output(); err != nil || string(out) != "hi from a header\n" {
		t.Errorf("remotely built program: %q, %v", out, err)
	}
	if n := s.Stats().Executions; n != 4 {
		t.Errorf("the server ran %d actions, want 4", n)
	}
	// The outputs are small: they came with the executions' results
	// (remote.Inline, one BatchReadBlobs each), not one download each.
	if rpcs := s.Stats().RPCs; rpcs["Read"] != 0 || rpcs["BatchReadBlobs"] == 0 {
		t.Errorf("outputs read with %d ByteStream Reads and %d BatchReadBlobs, want none and some", rpcs["Read"], rpcs["BatchReadBlobs"])
	}
	for _, x := range s.Executed() {
		if len(x.Command.OutputPaths) == 0 {
			t.Errorf("a Command without output_paths: %v", x.Command.Arguments)
		}
	}

	// A clean build restores from the local cache; a second checkout with
	// an empty local cache from the remote one (the server ran nothing
	// more).
	w.mustBuild("clean")
	w.mustBuild("build", flag, "//p:all")
	w2 := newWorkspace(t, files)
	w2.mustBuild("build", flag, "--events=ev.json", "//p:all")
	if e := readRemoteEvents(t, w2, "ev.json")["//p:hello CcCompile"]; e.Status != "restored" || e.Remote != "cache" {
		t.Errorf("second checkout's compile: %+v, want restored from the remote cache", e)
	}
	if n := s.Stats().Executions; n != 4 {
		t.Errorf("the server ran %d actions after the rebuilds, want still 4", n)
	}
}

// TestRemoteUnreachable: an endpoint nobody listens on costs one warning
// and a few seconds at most; the build completes here.
func TestRemoteUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w := newWorkspace(t, remoteFiles)
	r := w.mustBuild("build", "--remote_executor=grpc://"+addr, "//p:all")
	wantContains(t, r.stderr, "grpc://"+addr, "connection refused", "building on this machine")
	if n := strings.Count(r.stderr, "warning:"); n != 1 {
		t.Errorf("%d warnings, want one:\n%s", n, r.stderr)
	}
	if r.elapsed > 15*time.Second {
		t.Errorf("the build took %v with an unreachable endpoint", r.elapsed)
	}
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt = %q", got)
	}
}

// TestRemoteServerKilledMidBuild: the executor dies while the build runs;
// bld says so once, runs the rest here, and the outputs are right.
func TestRemoteServerKilledMidBuild(t *testing.T) {
	testRemoteFailsMidBuild(t, func(s *remotetest.Server) { s.Kill() })
}

// TestRemoteServerSlowMidBuild: the executor turns slower than
// --remote_timeout while the build runs: the same.
func TestRemoteServerSlowMidBuild(t *testing.T) {
	testRemoteFailsMidBuild(t, func(s *remotetest.Server) { s.SetDelay(10 * time.Second) })
}

func testRemoteFailsMidBuild(t *testing.T, fail func(*remotetest.Server)) {
	s := startServer(t, remotetest.Options{Exec: true})
	var b strings.Builder
	prev := ""
	for i := range 8 {
		src := ""
		if prev != "" {
			src = `srcs = [":` + prev + `"], `
		}
		name := "s" + string(rune('0'+i))
		b.WriteString(`genrule(name = "` + name + `", ` + src + `outs = ["` + name + `.txt"], cmd = "sleep 0.3; (cat $(SRCS) 2>/dev/null; echo ` + name + `) > $@")` + "\n")
		prev = name
	}
	w := newWorkspace(t, map[string]string{"p/BUILD.star": b.String()})
	cmd := w.command(".", "build", "--remote_executor="+s.Target(), "--remote_timeout=1s", "--events=ev.json", "//p:s7")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Executions < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	fail(s)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the build failed after the executor failed: %v\n%s", err, stderr.String())
	}
	wantContains(t, stderr.String(), "running actions on this machine from now on")
	if n := strings.Count(stderr.String(), "warning:"); n != 1 {
		t.Errorf("%d warnings, want one:\n%s", n, stderr.String())
	}
	if el := time.Since(start); el > 40*time.Second {
		t.Errorf("the build took %v", el)
	}
	want := "s0\ns1\ns2\ns3\ns4\ns5\ns6\ns7\n"
	if got := w.read("bld-out/p/s7.txt"); got != want {
		t.Errorf("s7.txt = %q, want %q", got, want)
	}
	local := 0
	for _, e := range readRemoteEvents(t, w, "ev.json") {
		if e.Remote == "" {
			local++
		}
	}
	if local == 0 {
		t.Error("no action ran here after the executor failed")
	}
}

// TestRemoteCorruptBlob: a blob the remote cache serves corrupt is
// detected by its digest and not used: the action runs, with the right
// output.
func TestRemoteCorruptBlob(t *testing.T) {
	s := startServer(t, remotetest.Options{})
	files := map[string]string{"p/BUILD.star": `genrule(name = "big", outs = ["big.txt"], cmd = "seq 1 20000 > $@")` + "\n"}
	w1 := newWorkspace(t, files)
	w1.mustBuild("build", "--remote_cache="+s.Target(), "//p:big")
	content := []byte(w1.read("bld-out/p/big.txt"))
	d := digest.OfBytes(content)
	s.CorruptBlob(&repb.Digest{Hash: d.Hash, SizeBytes: d.Size})

	w2 := newWorkspace(t, files)
	w2.mustBuild("build", "--remote_cache="+s.Target(), "--events=ev.json", "//p:big")
	if e := readRemoteEvents(t, w2, "ev.json")["//p:big Genrule"]; e.Status != "ran" {
		t.Errorf("with its blob corrupt remotely: %+v, want it run", e)
	}
	if got := w2.read("bld-out/p/big.txt"); got != string(content) {
		t.Error("big.txt is not the command's output")
	}
}

// TestRemoteSlowServer: a service slower than --remote_timeout is given up
// once, and the build completes here in bounded time.
func TestRemoteSlowServer(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true})
	w := newWorkspace(t, remoteFiles)
	s.SetDelay(5 * time.Second)
	r := w.mustBuild("build", "--remote_executor="+s.Target(), "--remote_timeout=1", "//p:b")
	wantContains(t, r.stderr, "deadline exceeded", "building on this machine")
	if n := strings.Count(r.stderr, "warning:"); n != 1 {
		t.Errorf("%d warnings, want one:\n%s", n, r.stderr)
	}
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt = %q", got)
	}
	if r.elapsed > 40*time.Second {
		t.Errorf("the build took %v against a slow server", r.elapsed)
	}
}

// TestRemoteNoWorkerForPlatform: exec properties no worker has fail the
// action with the server's words, at once.
func TestRemoteNoWorkerForPlatform(t *testing.T) {
	linux := &repb.Platform{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "linux"}}}
	s := startServer(t, remotetest.Options{Exec: true, Platforms: []*repb.Platform{linux}})
	w := newWorkspace(t, remoteFiles)
	w.write(".bldrc", "build --remote_default_exec_properties=OSFamily=linux\n")
	w.mustBuild("build", "--remote_executor="+s.Target(), "//p:a")
	r := w.bld("build", "--remote_executor="+s.Target(), "--remote_default_exec_properties=OSFamily=windows", "//p:b")
	if r.code == 0 {
		t.Fatalf("a platform no worker has: want a failure, got\n%s", r)
	}
	wantContains(t, r.stderr, "no worker", "OSFamily=windows")
	if r.elapsed > 15*time.Second {
		t.Errorf("took %v: retried?", r.elapsed)
	}
}

// noCompilerWrapper runs a worker's commands in a mount namespace where
// this machine's gcc cannot compile: its compilers proper (/usr/lib/gcc)
// and the system headers (/usr/include) are hidden.
var noCompilerWrapper = []string{"unshare", "-Urm", "sh", "-c",
	`mount -t tmpfs none /usr/lib/gcc && mount -t tmpfs none /usr/include && exec "$@"`, "sh"}

// TestRemoteShipToolchain: on a worker that cannot compile, compiles
// fail; with --remote_ship_toolchain they run there with the toolchain
// bld packaged here and give the objects a local compile gives, byte for
// byte; links run here.
func TestRemoteShipToolchain(t *testing.T) {
	if err := exec.Command(noCompilerWrapper[0], append(noCompilerWrapper[1:], "true")...).Run(); err != nil {
		t.Skipf("cannot hide the compiler in a mount namespace here (%v): the shipping test needs unshare -Urm", err)
	}
	s := startServer(t, remotetest.Options{Exec: true, Wrapper: noCompilerWrapper})
	files := map[string]string{
		"p/BUILD.star": `cc_binary(name = "hello", srcs = ["hello.c", "hello.h"], copts = ["-O2"])` + "\n",
		"p/hello.c":    remoteFiles["p/hello.c"],
		"p/hello.h":    remoteFiles["p/hello.h"],
	}
	local := newWorkspace(t, files)
	local.mustBuild("build", "//p:hello")

	w := newWorkspace(t, files)
	r := w.bld("build", "--remote_executor="+s.Target(), "//p:hello")
	if r.code == 0 {
		t.Fatalf("the compile succeeded on a worker without a compiler; the test's worker is not what it claims:\n%s", r)
	}
	wantContains(t, r.stderr, "on the remote executor")

	w2 := newWorkspace(t, files)
	r = w2.mustBuild("build", "--remote_executor="+s.Target(), "--remote_ship_toolchain", "--events=ev.json", "//p:hello")
	ev := readRemoteEvents(t, w2, "ev.json")
	if e := ev["//p:hello CcCompile"]; e.Status != "ran" || e.Remote != "executed" {
		t.Errorf("the compile: %+v, want it run remotely", e)
	}
	if e := ev["//p:hello CcLink"]; e.Status != "ran" || e.Remote != "" {
		t.Errorf("the link: %+v, want it run here", e)
	}
	obj := "bld-out/p/_objs/hello/p/hello.o"
	if local.read(obj) != w2.read(obj) {
		t.Errorf("%s compiled remotely with the shipped toolchain differs from the local compile", obj)
	}
	depPaths := func(d string) string { return strings.Join(strings.Fields(strings.ReplaceAll(d, "\\\n", " ")), " ") }
	if got, want := depPaths(w2.read("bld-out/p/_objs/hello/p/hello.d")), depPaths(local.read("bld-out/p/_objs/hello/p/hello.d")); got != want {
		t.Errorf("the depfile names other files than a local compile's:\n%s\nwant\n%s", got, want)
	}
	if out, err := w2.command(".", "run", "//p:hello").Output(); err != nil || string(out) != "hi from a header\n" {
		t.Errorf("program: %q, %v", out, err)
	}
	// A second build in another checkout packages nothing again (the
	// memo is per workspace; the service has the blobs): it is restored.
	w3 := newWorkspace(t, files)
	w3.mustBuild("build", "--remote_executor="+s.Target(), "--remote_ship_toolchain", "--events=ev.json", "//p:hello")
	if e := readRemoteEvents(t, w3, "ev.json")["//p:hello CcCompile"]; e.Status != "restored" {
		t.Errorf("second checkout's compile: %+v, want restored", e)
	}
}

// TestRemoteTLSAndUploadFlags: grpcs:// with a CA file and a client
// certificate (mTLS), set in .bldrc; --noremote_upload_local_results
// reads the remote cache and never writes it.
func TestRemoteTLSAndUploadFlags(t *testing.T) {
	certs, err := remotetest.NewTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, remotetest.Options{TLS: certs.ServerTLS(true)})
	if !strings.HasPrefix(s.Target(), "grpcs://") {
		t.Fatalf("target %s", s.Target())
	}
	rc := "build --remote_cache=" + s.Target() + " --tls_certificate=" + certs.CAFile +
		" --tls_client_certificate=" + certs.ClientCertFile + " --tls_client_key=" + certs.ClientKeyFile + "\n"

	w1 := newWorkspace(t, remoteFiles)
	w1.write(".bldrc", rc)
	w1.mustBuild("build", "--noremote_upload_local_results", "//p:a")
	if n := s.Stats().RPCs["UpdateActionResult"]; n != 0 {
		t.Errorf("--noremote_upload_local_results: %d results uploaded", n)
	}
	r := w1.mustBuild("build", "//p:b")
	wantContains(t, r.stderr, "bld: remote:")
	if n := s.Stats().RPCs["UpdateActionResult"]; n == 0 {
		t.Error("no result uploaded over TLS")
	}

	w2 := newWorkspace(t, remoteFiles)
	w2.write(".bldrc", rc)
	w2.mustBuild("build", "--events=ev.json", "//p:b")
	if e := readRemoteEvents(t, w2, "ev.json")["//p:b Genrule"]; e.Status != "restored" || e.Remote != "cache" {
		t.Errorf("over TLS: %+v, want restored from the remote cache", e)
	}

	// Without the client certificate the server refuses: one warning, and
	// the build goes on here.
	w3 := newWorkspace(t, remoteFiles)
	r = w3.mustBuild("build", "--remote_cache="+s.Target(), "--tls_certificate="+certs.CAFile, "//p:b")
	wantContains(t, r.stderr, "warning:", "building without it")
}

// TestRemoteFlagErrors: remote flags that cannot work are usage errors
// (exit 2) naming the flag, before anything runs.
func TestRemoteFlagErrors(t *testing.T) {
	w := newWorkspace(t, remoteFiles)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--remote_cache=http://cache:8080"}, "--remote_cache: remote http://cache:8080: bld speaks REAPI over gRPC only"},
		{[]string{"--remote_executor=grpc://farm"}, "--remote_executor: remote \"grpc://farm\": no port"},
		{[]string{"--remote_cache=grpc://c:1", "--remote_timeout=soon"}, "--remote_timeout soon: want a duration"},
		{[]string{"--remote_cache=grpc://c:1", "--remote_header=novalue"}, "--remote_header novalue:"},
		{[]string{"--remote_ship_toolchain"}, "--remote_ship_toolchain needs --remote_executor"},
		{[]string{"--remote_cache=grpc://c:1", "--tls_client_certificate=c.pem"}, "--tls_client_certificate and --tls_client_key go together"},
		{[]string{"--remote_default_exec_properties=OSFamily"}, "--remote_default_exec_properties OSFamily: want NAME=VALUE"},
	} {
		r := w.bld(append(append([]string{"build"}, c.args...), "//p:a")...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("bld build %v: exit %d, want 2 with %q:\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
}

// TestRemoteQueueTimeout: a scheduler whose workers are gone keeps
// actions queued and the stream alive; past --remote_queue_timeout bld
// says so once and builds here.
func TestRemoteQueueTimeout(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true, HoldQueued: true, ExecuteUpdateInterval: 100 * time.Millisecond})
	w := newWorkspace(t, remoteFiles)
	r := w.mustBuild("build", "--remote_executor="+s.Target(), "--remote_queue_timeout=1s", "//p:b")
	wantContains(t, r.stderr, "no worker took the action", "running actions on this machine from now on")
	if n := strings.Count(r.stderr, "warning:"); n != 1 {
		t.Errorf("%d warnings, want one:\n%s", n, r.stderr)
	}
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt = %q", got)
	}
	if r.elapsed > 20*time.Second {
		t.Errorf("took %v", r.elapsed)
	}
}

// TestRemoteHugeOutput: a remote command that prints 6 MB is shown as a
// local one is (head, a note naming the log with the whole output, tail),
// and a remote hit does not bring such an output back.
func TestRemoteHugeOutput(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true})
	files := map[string]string{"p/BUILD.star": `genrule(name = "loud", outs = ["loud.txt"], cmd = "seq 1 800000; echo done > $@")` + "\n"}
	w := newWorkspace(t, files)
	r := w.mustBuild("build", "--remote_executor="+s.Target(), "//p:loud")
	wantContains(t, r.stderr, "bytes of output left out here; the whole output is in", "\n800000\n")
	if len(r.stderr) > 2<<20 {
		t.Errorf("%d bytes printed for a 6 MB output", len(r.stderr))
	}
	w2 := newWorkspace(t, files)
	r = w2.mustBuild("build", "--remote_cache="+s.Target(), "--events=ev.json", "//p:loud")
	if e := readRemoteEvents(t, w2, "ev.json")["//p:loud Genrule"]; e.Status != "restored" {
		t.Errorf("second checkout: %+v, want restored", e)
	}
	if len(r.stderr) > 1<<20 {
		t.Errorf("the restore printed %d bytes", len(r.stderr))
	}
}

// TestRemoteReadOnlyCache: a server whose action cache clients may not
// write is only read: no upload is tried, no warning printed.
func TestRemoteReadOnlyCache(t *testing.T) {
	s := startServer(t, remotetest.Options{DisableACUpdate: true})
	w := newWorkspace(t, remoteFiles)
	r := w.mustBuild("build", "--remote_cache="+s.Target(), "//p:b")
	if strings.Contains(r.stderr, "warning:") {
		t.Errorf("a read-only remote cache warned:\n%s", r.stderr)
	}
	if n := s.Stats().RPCs["UpdateActionResult"]; n != 0 {
		t.Errorf("%d uploads tried to a read-only action cache", n)
	}
	if n := s.Stats().RPCs["GetActionResult"]; n == 0 {
		t.Error("the read-only cache was not read")
	}
}

// TestRemoteTakeBack: with --remote_take_back_after, actions a service
// keeps queued (its workers busy or gone) run here once this machine has
// a free token, without taking the service as failing; the summary says
// how many. With a live queue, actions the service starts stay remote.
func TestRemoteTakeBack(t *testing.T) {
	s := startServer(t, remotetest.Options{Exec: true, HoldQueued: true, ExecuteUpdateInterval: 100 * time.Millisecond})
	w := newWorkspace(t, remoteFiles)
	flags := []string{"--remote_executor=" + s.Target(), "--remote_queue_timeout=0", "--remote_take_back_after=300ms"}
	r := w.mustBuild(append(append([]string{"build"}, flags...), "--events=ev.json", "//p:b")...)
	wantContains(t, r.stderr, "2 taken back from its queue and run here")
	if strings.Contains(r.stderr, "warning:") {
		t.Errorf("taking actions back warned:\n%s", r.stderr)
	}
	for _, k := range []string{"//p:a Genrule", "//p:b Genrule"} {
		if e := readRemoteEvents(t, w, "ev.json")[k]; e.Status != "ran" || e.Remote != "" {
			t.Errorf("%s: %+v, want run here", k, e)
		}
	}
	if got := w.read("bld-out/p/b.txt"); got != "hello\nhello\n" {
		t.Errorf("b.txt = %q", got)
	}

	// The queue moves again: nothing is taken back.
	s.SetHoldQueued(false)
	w2 := newWorkspace(t, remoteFiles)
	w2.write("p/BUILD.star", remoteFiles["p/BUILD.star"]+"genrule(name = \"c\", outs = [\"c.txt\"], cmd = \"echo fresh > $@\")\n")
	r = w2.mustBuild(append(append([]string{"build"}, flags...), "--events=ev.json", "//p:c")...)
	if e := readRemoteEvents(t, w2, "ev.json")["//p:c Genrule"]; e.Status != "ran" || e.Remote != "executed" {
		t.Errorf("//p:c with a moving queue: %+v, want run remotely", e)
	}
	if strings.Contains(r.stderr, "taken back") {
		t.Errorf("an action was taken back from a moving queue:\n%s", r.stderr)
	}
}
