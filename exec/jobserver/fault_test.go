package jobserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitStarts waits until log has at least n start lines.
func waitStarts(t *testing.T, log string, n int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(log)
		if got := strings.Count(string(b), "S "); got >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: fewer than %d starts", log, n)
	return 0
}

// closeLog appends an end line stamped at for every start without one:
// the recipes of a killed make never log their end.
func closeLog(t *testing.T, log string, at time.Time) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	open := strings.Count(string(b), "S ") - strings.Count(string(b), "E ")
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range open {
		fmt.Fprintf(f, "E %d\n", at.UnixNano())
	}
}

// An action whose make is killed with SIGKILL (its whole process group,
// as the executor does) while make holds extra tokens, and while another
// jobserver-aware make is still running: the pool restores the lost
// tokens once the other one has ended, never runs more than n at once,
// and ends with n-1 bytes in the fifo.
func TestKilledChildTokensRestored(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	long := filepath.Join(dir, "long.mk")
	if err := os.WriteFile(long, []byte(strings.Replace(
		string(must(os.ReadFile(recipeMakefile(t, dir, 2)))), "SLEEP ?= 0.3", "SLEEP ?= 30", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	short := recipeMakefile(t, dir, 12)
	p, err := NewServer(4, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// A: a make with two long recipes, so it holds its own token and one
	// extra; B: a make with 12 short recipes, sharing what is left.
	logA, logB := filepath.Join(dir, "logA"), filepath.Join(dir, "logB")
	pidFile := filepath.Join(dir, "pidA")
	a := exec.Command("sh", "-c", `echo $$ > "$1"; exec "$2" -f "$3" LOG="$4"`, "sh", pidFile, makePath, long, logA)
	a.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b := exec.Command(makePath, "-f", short, "LOG="+logB)
	var outA, outB bytes.Buffer
	a.Stdout, a.Stderr = &outA, &outA
	b.Stdout, b.Stderr = &outB, &outB

	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- runAction(context.Background(), p, a, true) }()
	waitStarts(t, logA, 2)
	go func() { doneB <- runAction(context.Background(), p, b, true) }()
	waitStarts(t, logB, 1)
	pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	<-doneA
	if s := p.Stats(); s.Restored != 0 || s.Attached != 1 {
		t.Errorf("while B runs the pool must not count: %+v", s)
	}
	if err := <-doneB; err != nil {
		t.Errorf("make B failed: %v\n%s", err, outB.String())
	}
	closeLog(t, logA, killedAt)
	s := checkAtRest(t, p)
	got, units := peak(t, logA, logB)
	t.Logf("A killed holding 1 extra token while B ran; B done %v later; restored %d; %d units, peak %d",
		time.Since(killedAt).Round(time.Millisecond), s.Restored, units, got)
	if s.Restored != 1 {
		t.Errorf("restored %d tokens, want 1 (the extra token A held)", s.Restored)
	}
	if got > 4 {
		t.Errorf("peak %d, want at most 4", got)
	}
}

// A make whose recipe fails gives its tokens back itself: nothing to
// restore.
func TestFailingActionReturnsTokens(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	mk := filepath.Join(dir, "fail.mk")
	os.WriteFile(mk, []byte("all: a b c d\na b c:\n\t@sleep 0.3\nd:\n\t@sleep 0.1; exit 3\n"), 0o644)
	p, err := NewServer(3, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cmd := exec.Command(makePath, "-f", mk)
	out, err := runOutput(context.Background(), p, cmd)
	if err == nil {
		t.Fatalf("make should fail:\n%s", out)
	}
	if s := checkAtRest(t, p); s.Restored != 0 || s.Drained != 0 {
		t.Errorf("pool had to fix the count: %+v", s)
	}
}

// A child that writes more tokens than it read cannot grow the pool.
func TestSurplusDrained(t *testing.T) {
	p, err := NewServer(2, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cmd := exec.Command("sh", "-c", `printf '+++' >&4`)
	if err := runAction(context.Background(), p, cmd, true); err != nil {
		t.Fatal(err)
	}
	if s := checkAtRest(t, p); s.Drained != 3 {
		t.Errorf("drained %d, want 3", s.Drained)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}
