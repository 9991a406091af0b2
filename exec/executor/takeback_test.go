package executor

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// stuckRemote is a RemoteRunner whose service never starts the actions
// named in stuck (they stay queued until the build takes them back or
// gives up), and runs the others after saying they started.
type stuckRemote struct {
	inProcessRemote
	stuck map[string]bool
}

func (r *stuckRemote) Run(ctx context.Context, a *graph.Action, output io.Writer, progress RemoteProgress) RemoteResult {
	if r.stuck[a.Owner] {
		<-ctx.Done()
		return RemoteResult{ExitCode: -1, Err: ctx.Err()}
	}
	progress.Started()
	time.Sleep(300 * time.Millisecond) // longer than TakeBackAfter: started, so never taken
	if !progress.Answered() {
		return RemoteResult{ExitCode: -1, Fallback: true}
	}
	return r.inProcessRemote.Run(ctx, a, output, progress)
}

// TestTakeBackQueuedRemoteActions: with TakeBackAfter, actions the remote
// service leaves queued run here once a token is free; an action the
// service started is not taken back however long it takes; nothing is
// taken back without TakeBackAfter (the queued actions then wait, and the
// build is cancelled).
func TestTakeBackQueuedRemoteActions(t *testing.T) {
	for _, takeBack := range []time.Duration{50 * time.Millisecond, 0} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "out"), 0o755); err != nil {
			t.Fatal(err)
		}
		var actions []*graph.Action
		for _, n := range []string{"q1", "q2", "started"} {
			a := sh("//:"+n, "echo "+n+" > out/"+n, nil, []string{"out/" + n})
			a.Mnemonic = "Remote"
			actions = append(actions, a)
		}
		g, err := graph.New(actions, func(string) bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		remote := &stuckRemote{inProcessRemote: inProcessRemote{root: root}, stuck: map[string]bool{"//:q1": true, "//:q2": true}}
		rec := newRecorder(t)
		pool := NewSemaphore(2)
		wait := 5 * time.Second
		if takeBack == 0 {
			wait = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		sum, err := Run(ctx, g, []int{0, 1, 2}, Options{Root: root, Cache: newMemCache(), Tokens: pool, Observer: rec,
			Sandbox: sandbox.ModeOff, Remote: remote, TakeBackAfter: takeBack})
		cancel()
		if n := len(pool.(*semaphore).ch); n != 0 {
			t.Errorf("TakeBackAfter %v: %d tokens still held after Run returned", takeBack, n)
		}
		if takeBack == 0 {
			if err == nil || sum.TakenBack != 0 {
				t.Errorf("without TakeBackAfter: err %v, summary %+v; want the queued actions to wait until cancelled", err, sum)
			}
			continue
		}
		if err != nil {
			t.Fatalf("TakeBackAfter %v: %v", takeBack, err)
		}
		if sum.TakenBack != 2 || sum.Ran != 3 {
			t.Errorf("summary %+v, want 3 ran, 2 of them taken back", sum)
		}
		for owner, wantRemote := range map[string]bool{"//:q1": false, "//:q2": false, "//:started": true} {
			if r := rec.results[owner]; r.Remote != wantRemote || r.Status != StatusRan {
				t.Errorf("%s: status %s, Remote %v; want ran, Remote %v", owner, r.Status, r.Remote, wantRemote)
			}
		}
		for _, n := range []string{"q1", "q2", "started"} {
			if !exists(filepath.Join(root, "out", n)) {
				t.Errorf("out/%s missing", n)
			}
		}
	}
}

// TestRemoteClaim: an action is taken back only while the service has
// neither started nor answered it, and only once; an answer after it was
// taken is refused.
func TestRemoteClaim(t *testing.T) {
	now := time.Now()
	newClaim := func() *remoteClaim {
		_, cancel := context.WithCancelCause(context.Background())
		return &remoteClaim{since: now.Add(-time.Second), cancel: cancel}
	}
	c := newClaim()
	if c.take(now, 2*time.Second) {
		t.Error("taken before it was eligible")
	}
	if !c.take(now, 500*time.Millisecond) || c.take(now, 500*time.Millisecond) {
		t.Error("an eligible claim must be taken exactly once")
	}
	if c.Answered() {
		t.Error("a taken claim accepted the service's answer")
	}
	c = newClaim()
	c.Started()
	if c.take(now, 0) {
		t.Error("a started action was taken back")
	}
	c = newClaim()
	if !c.Answered() || c.take(now, 0) {
		t.Error("an answered action was taken back")
	}
}
