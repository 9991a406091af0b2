package executor

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// inProcessRemote is a RemoteRunner that stands in for a remote service in
// the scheduler's tests (exec/remoteexec is tested against a REAPI server):
// it runs the command itself, in the workspace, with no token, and can be
// told to fail the service for some actions.
type inProcessRemote struct {
	root     string
	fallback map[string]bool // owners whose run the "service" fails
	mu       sync.Mutex
	running  int
	maxSeen  int
	ran      []string
}

func (r *inProcessRemote) Accepts(a *graph.Action) bool { return a.Mnemonic == "Remote" }

func (r *inProcessRemote) Run(ctx context.Context, a *graph.Action, output io.Writer, progress RemoteProgress) RemoteResult {
	r.mu.Lock()
	r.running++
	r.maxSeen = max(r.maxSeen, r.running)
	r.ran = append(r.ran, a.Owner)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if r.fallback[a.Owner] {
		return RemoteResult{Fallback: true}
	}
	cmd := exec.CommandContext(ctx, a.Argv[0], a.Argv[1:]...)
	cmd.Dir, cmd.Env = r.root, a.Env
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Run(); err != nil {
		return RemoteResult{ExitCode: cmd.ProcessState.ExitCode(), Err: err}
	}
	return RemoteResult{ExitCode: 0}
}

// TestRemoteActionsTakeNoTokens: with one token held by a slow local
// action, remote actions still run, several at once; an action the remote
// service fails runs here; a remote action that fails fails the build
// with its output.
func TestRemoteActionsTakeNoTokens(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	local := sh("//:local", "sleep 0.5; touch out/local", nil, []string{"out/local"})
	var actions []*graph.Action
	actions = append(actions, local)
	for _, n := range []string{"r1", "r2", "r3", "fb"} {
		a := sh("//:"+n, "sleep 0.2; echo "+n+" > out/"+n, nil, []string{"out/" + n})
		a.Mnemonic = "Remote"
		actions = append(actions, a)
	}
	bad := sh("//:bad", "echo broken; exit 3", nil, []string{"out/bad"})
	bad.Mnemonic = "Remote"
	actions = append(actions, bad)

	g, err := graph.New(actions, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	remote := &inProcessRemote{root: root, fallback: map[string]bool{"//:fb": true}}
	rec := newRecorder(t)
	pool := NewSemaphore(1)
	goals := []int{0, 1, 2, 3, 4, 5}
	start := time.Now()
	sum, err := Run(context.Background(), g, goals, Options{Root: root, KeepGoing: true, Cache: newMemCache(),
		Tokens: pool, Observer: rec, Sandbox: sandbox.ModeOff, Remote: remote, RemoteJobs: 8})
	if err == nil {
		t.Fatal("the build succeeded although //:bad failed remotely")
	}
	if n := len(pool.(*semaphore).ch); n != 0 {
		t.Errorf("%d tokens still held after Run returned", n)
	}
	if sum.Ran != 5 || sum.Failed != 1 {
		t.Errorf("summary %+v, want 5 ran and 1 failed", sum)
	}
	if remote.maxSeen < 3 {
		t.Errorf("at most %d remote actions ran at once under -j1; remote actions must not wait for tokens", remote.maxSeen)
	}
	// (maxSeen proves it without a time bound, which a loaded machine
	// makes flaky.)
	t.Logf("build took %v", time.Since(start))
	for _, n := range []string{"local", "r1", "r2", "r3", "fb"} {
		if !exists(filepath.Join(root, "out", n)) {
			t.Errorf("out/%s missing", n)
		}
	}
	for owner, wantRemote := range map[string]bool{"//:r1": true, "//:fb": false, "//:local": false, "//:bad": true} {
		if got := rec.results[owner].Remote; got != wantRemote {
			t.Errorf("%s: Result.Remote = %v, want %v", owner, got, wantRemote)
		}
	}
	if r := rec.results["//:bad"]; r.Status != StatusFailed || string(r.Output) != "broken\n" || r.ExitCode != 3 || r.Err == nil {
		t.Errorf("//:bad: %+v; want failed with its output and exit status 3", r)
	}
	starts := 0
	for _, ev := range rec.events {
		if ev == "start //:fb" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("//:fb started %d times, want once (the fallback is the same run)", starts)
	}
}

// TestFailedTestStopsNothing: without -k a failed action stops the build,
// but a failed test is a verdict: what does not depend on it still runs.
func TestFailedTestStopsNothing(t *testing.T) {
	for _, isTest := range []bool{true, false} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "out"), 0o755)
		failing := sh("//:t", "exit 1", nil, []string{"out/t"})
		failing.Test = isTest
		b := sh("//:b", "sleep 0.3; touch out/b", nil, []string{"out/b"})
		a := sh("//:a", "touch out/a", []string{"out/b"}, []string{"out/a"})
		sum, _, err := build(t, context.Background(), root, []*graph.Action{failing, b, a}, 2, false, newMemCache())
		if err == nil {
			t.Fatal("the build succeeded with a failed action")
		}
		if ran := exists(filepath.Join(root, "out/a")); ran != isTest {
			t.Errorf("Test=%v: the later action ran=%v (summary %+v)", isTest, ran, sum)
		}
	}
}
