//go:build linux

package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bld/exec/graph"
)

// aheadStart prepares a in m and sends its command to m's zygote in token
// group group, queued when ahead is not nil; its output into a pipe.
func aheadStart(t *testing.T, ctx context.Context, m *Manager, a *graph.Action, group uint64, ahead *Ahead) (*Started, *os.File) {
	t.Helper()
	os.MkdirAll(filepath.Join(m.root, "bld-out"), 0o755)
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xr.Remove() })
	xr.DeferInputList()
	cmd, err := xr.Command(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil, group, ahead)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("the zygote did not take the command: %v", err)
	}
	return s, r
}

// aheadManager is namespaceManager, skipping where commands get no pid
// namespace (nothing is queued then).
func aheadManager(t *testing.T) *Manager {
	t.Helper()
	m := namespaceManager(t, t.TempDir())
	if !m.Queues() {
		t.Skip("no pid namespaces here: nothing is queued")
	}
	return m
}

// readWithin reads r until EOF or for d at most, and returns what it read
// and whether it reached EOF.
func readWithin(t *testing.T, r *os.File, d time.Duration) (string, bool) {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(d))
	var out []byte
	buf := make([]byte, 256)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return string(out), false
		}
		if err != nil {
			return string(out), true
		}
	}
}

var aheadEnv = []string{"PATH=/usr/bin:/bin"}

// A queued command starts when a command of its group ends with status 0,
// not before, and the ended command's 'x' names it: the token passed.
func TestAheadPassedOnSuccess(t *testing.T) {
	m := aheadManager(t)
	ctx := context.Background()
	g := m.NewGroup()
	first, r1 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "sleep 0.4; echo first"}, Env: aheadEnv}, g, nil)
	h := NewAhead(7)
	next, r2 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "echo next"}, Env: aheadEnv}, g, h)
	if out, eof := readWithin(t, r2, 200*time.Millisecond); out != "" || eof {
		t.Fatalf("the queued command ran while the first one ran: output %q, EOF %v", out, eof)
	}
	if out := readAll(t, r1); out != "first\n" {
		t.Errorf("first: output %q", out)
	}
	if code, _, _, err := first.Wait(); code != 0 || err != nil {
		t.Fatalf("first: exit %d, %v", code, err)
	}
	if first.PassedTo() != h {
		t.Errorf("first's token passed to %v, want the queued command's", first.PassedTo())
	}
	if out, eof := readWithin(t, r2, 5*time.Second); out != "next\n" || !eof {
		t.Errorf("next: output %q, EOF %v", out, eof)
	}
	r2.Close()
	if code, _, _, err := next.Wait(); code != 0 || err != nil {
		t.Fatalf("next: exit %d, %v", code, err)
	}
	if next.PassedTo() != nil {
		t.Errorf("next passed its token to %v: nothing was queued", next.PassedTo())
	}
	if h.TakeExtra() {
		t.Error("an extra token, none given")
	}
	if !h.Done() {
		t.Error("the queued command holds no token after it ran")
	}
}

// A command that fails hands no token on; the queued command waits, and a
// withdrawal takes it back: it never runs, and Wait says ErrWithdrawn.
func TestAheadFailureWithdraw(t *testing.T) {
	m := aheadManager(t)
	ctx := context.Background()
	g := m.NewGroup()
	bad, r1 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "exit 3"}, Env: aheadEnv}, g, nil)
	h := NewAhead(1)
	next, r2 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "echo ran"}, Env: aheadEnv}, g, h)
	readAll(t, r1)
	if code, _, _, err := bad.Wait(); code != 3 || err != nil {
		t.Fatalf("bad: exit %d, %v", code, err)
	}
	if bad.PassedTo() != nil {
		t.Fatal("a failed command passed its token on")
	}
	if out, eof := readWithin(t, r2, 300*time.Millisecond); out != "" || eof {
		t.Fatalf("the queued command ran after a failure: output %q, EOF %v", out, eof)
	}
	h.Withdraw()
	if h.Give() {
		t.Error("Give took a token after the withdrawal")
	}
	if _, _, _, err := next.Wait(); !errors.Is(err, ErrWithdrawn) {
		t.Errorf("Wait: %v, want ErrWithdrawn", err)
	}
	if out := readAll(t, r2); out != "" {
		t.Errorf("the withdrawn command wrote %q", out)
	}
	if h.Done() {
		t.Error("the withdrawn command holds a token")
	}
}

// A command of another group hands its token to nobody in this one; a
// token given starts the queued command (and a later pass is none: it is
// no longer queued).
func TestAheadGroupsAndGive(t *testing.T) {
	m := aheadManager(t)
	ctx := context.Background()
	other, r1 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"true"}, Env: aheadEnv}, m.NewGroup(), nil)
	g := m.NewGroup()
	h := NewAhead(2)
	next, r2 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "echo given"}, Env: aheadEnv}, g, h)
	readAll(t, r1)
	if code, _, _, err := other.Wait(); code != 0 || err != nil || other.PassedTo() != nil {
		t.Fatalf("other group's command: exit %d, %v, passed to %v", code, err, other.PassedTo())
	}
	if out, eof := readWithin(t, r2, 300*time.Millisecond); out != "" || eof {
		t.Fatalf("another group's token started the queued command: output %q", out)
	}
	if !h.Give() {
		t.Fatal("Give: not taken")
	}
	if out, eof := readWithin(t, r2, 5*time.Second); out != "given\n" || !eof {
		t.Errorf("output %q, EOF %v", out, eof)
	}
	r2.Close()
	if code, _, _, err := next.Wait(); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	h.Withdraw() // too late: it ran
	if !h.Done() || h.TakeExtra() {
		t.Error("the command given a token does not hold exactly it")
	}
}

// The context's end (Ctrl-C) withdraws a queued command: it never runs,
// though a command of its group then ends with status 0.
func TestAheadCancelWithdraws(t *testing.T) {
	m := aheadManager(t)
	g := m.NewGroup()
	first, r1 := aheadStart(t, context.Background(), m, &graph.Action{Argv: []string{"sh", "-c", "sleep 0.3"}, Env: aheadEnv}, g, nil)
	ctx, cancel := context.WithCancel(context.Background())
	h := NewAhead(3)
	next, r2 := aheadStart(t, ctx, m, &graph.Action{Argv: []string{"sh", "-c", "echo ran"}, Env: aheadEnv}, g, h)
	cancel()
	if _, _, _, err := next.Wait(); !errors.Is(err, ErrWithdrawn) {
		t.Errorf("Wait: %v, want ErrWithdrawn", err)
	}
	readAll(t, r1)
	if code, _, _, err := first.Wait(); code != 0 || err != nil || first.PassedTo() != nil {
		t.Errorf("first: exit %d, %v, passed to %v", code, err, first.PassedTo())
	}
	if out := readAll(t, r2); out != "" {
		t.Errorf("the withdrawn command wrote %q", out)
	}
}
