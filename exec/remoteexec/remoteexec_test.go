package remoteexec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bld/exec/cache"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/remote"
	"bld/exec/remote/grpcclient"
	"bld/exec/remote/pipe"
	"bld/exec/remote/remotetest"
	"bld/exec/store"
)

// setup starts a REAPI test server that executes, and a Runner on a
// workspace with one input file, whose inputs are digested by a real
// cache.
func setup(t *testing.T) (*Runner, *remotetest.Server, string, *[]string) {
	t.Helper()
	s, err := remotetest.Start(remotetest.Options{Exec: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	// As bld calls bld-remote: through the pipe, in this process.
	client, err := pipe.InProcess(context.Background(), remote.Config{Target: s.Target()}, grpcclient.DialService, grpcclient.IsUnavailable)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "src/in.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st, root, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	r := New(Options{Client: client, Root: root, Inputs: c, Endpoint: s.Target(),
		Warn: func(m string) { warnings = append(warnings, m) }})
	return r, s, root, &warnings
}

func shAction(script string, outputs ...string) *graph.Action {
	return &graph.Action{Owner: "//:x", Mnemonic: "Sh", Argv: []string{"sh", "-c", script},
		Env: []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"src/in.txt"}, Outputs: outputs}
}

// prepare makes the output directories, as the executor does.
func prepare(t *testing.T, root string, a *graph.Action) {
	for _, o := range a.Outputs {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, o)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRun: the command runs remotely with its inputs; its outputs land in
// the workspace with their modes, and its output is stdout then stderr.
func TestRun(t *testing.T) {
	r, s, root, _ := setup(t)
	a := shAction("echo to-stderr >&2; cat src/in.txt; cp src/in.txt out/o.txt; printf '#!/bin/sh\\n' > out/x; chmod +x out/x", "out/o.txt", "out/x")
	prepare(t, root, a)
	if !r.Accepts(a) {
		t.Fatal("a plain command is not accepted")
	}
	res, out := runOut(r, a)
	if res.Err != nil || res.Fallback || res.ExitCode != 0 {
		t.Fatalf("Run: %+v", res)
	}
	if got := out; got != "hello\nto-stderr\n" {
		t.Errorf("output %q, want stdout then stderr", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "out/o.txt")); string(b) != "hello\n" {
		t.Errorf("out/o.txt = %q", b)
	}
	if fi, err := os.Stat(filepath.Join(root, "out/x")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("out/x is not executable: %v %v", fi, err)
	}
	if ran, _ := r.Counts(); ran != 1 || s.Stats().Executions != 1 {
		t.Errorf("ran %d, server executed %d", ran, s.Stats().Executions)
	}
	for _, x := range s.Executed() {
		if !strings.Contains(strings.Join(x.Command.OutputPaths, " "), "out/o.txt") {
			t.Errorf("output_paths %v", x.Command.OutputPaths)
		}
	}
}

// TestRunFailures: a failing command and a missing output fail the action,
// with its output; the service dying is a fallback, reported once, and
// nothing is sent remotely after it.
func TestRunFailures(t *testing.T) {
	r, s, root, warnings := setup(t)
	bad := shAction("echo broken; exit 3", "out/b.txt")
	prepare(t, root, bad)
	res, out := runOut(r, bad)
	if res.Fallback || res.ExitCode != 3 || res.Err == nil || out != "broken\n" {
		t.Errorf("failing command: %+v", res)
	}
	lazy := shAction("true", "out/never.txt")
	prepare(t, root, lazy)
	if res := run(r, lazy); res.Fallback || res.Err == nil || !strings.Contains(res.Err.Error(), "out/never.txt") {
		t.Errorf("missing output: %+v", res)
	}
	s.Stop()
	ok := shAction("cp src/in.txt out/o.txt", "out/o.txt")
	prepare(t, root, ok)
	if res := run(r, ok); !res.Fallback {
		t.Errorf("with the service gone: %+v, want a fallback", res)
	}
	if r.Accepts(ok) {
		t.Error("actions are still accepted after the service failed")
	}
	if len(*warnings) != 1 {
		t.Errorf("warnings %q, want one", *warnings)
	}
}

// TestAccepts: jobserver, no-sandbox and no-remote-exec actions run here.
func TestAccepts(t *testing.T) {
	r, _, _, _ := setup(t)
	for _, mod := range []func(*graph.Action){
		func(a *graph.Action) { a.Jobserver = true },
		func(a *graph.Action) { a.NoSandbox = true },
		func(a *graph.Action) { a.NoRemoteExec = true },
		func(a *graph.Action) { a.Argv = nil; a.Edit().Content = []byte("x") },
	} {
		a := shAction("true", "out/o")
		mod(a)
		if r.Accepts(a) {
			t.Errorf("accepted %+v", a)
		}
	}
}

// TestSharedInputUploadedOnce: actions started together that share a big
// input send it once, not once each.
func TestSharedInputUploadedOnce(t *testing.T) {
	r, s, root, _ := setup(t)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(root, "src/big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 8
	done := make(chan string, n)
	for i := range n {
		a := shAction("wc -c < src/big.bin > out/o"+string(rune('0'+i)), "out/o"+string(rune('0'+i)))
		a.Inputs = []string{"src/big.bin"}
		prepare(t, root, a)
		go func() {
			res := run(r, a)
			if res.Err != nil || res.Fallback {
				done <- res.Err.Error()
				return
			}
			done <- ""
		}()
	}
	for range n {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
	st := s.Stats()
	if sent := st.BatchUpdateBytes + st.ByteStreamWriteBytes; sent > int64(len(big))+1<<20 {
		t.Errorf("%d bytes uploaded for %d actions sharing a %d-byte input; want it sent once", sent, n, len(big))
	}
}

// runOut runs a with r and returns the result and what it printed.
func runOut(r *Runner, a *graph.Action) (executor.RemoteResult, string) {
	var out bytes.Buffer
	res := r.Run(context.Background(), a, &out, nil)
	return res, out.String()
}

func run(r *Runner, a *graph.Action) executor.RemoteResult {
	res, _ := runOut(r, a)
	return res
}
