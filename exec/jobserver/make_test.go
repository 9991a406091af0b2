package jobserver

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Four actions each run make (no -j) over 8 recipes of 0.3 s under a pool
// of 2: at most 2 recipes run at once, and the tokens are shared, so the
// build takes about 32*0.3/2 = 4.8 s, not the 9.6 s of a serial run.
func TestMake43SharesTokens(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	mk := recipeMakefile(t, dir, 8)
	p, err := NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	var logs []string
	outs := make([]bytes.Buffer, 4)
	start := time.Now()
	errs := runAll(4, func(i int) error {
		log := filepath.Join(dir, fmt.Sprintf("log%d", i))
		cmd := exec.Command(makePath, "-f", mk, "LOG="+log)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		return runAction(context.Background(), p, cmd, true)
	})
	elapsed := time.Since(start)
	for i := range 4 {
		logs = append(logs, filepath.Join(dir, fmt.Sprintf("log%d", i)))
		if errs[i] != nil {
			t.Errorf("make %d: %v\n%s", i, errs[i], outs[i].String())
		}
		if strings.Contains(outs[i].String(), "warning") {
			t.Errorf("make %d warned:\n%s", i, outs[i].String())
		}
	}
	got, units := peak(t, logs...)
	t.Logf("4 makes x 8 recipes x 0.3 s, pool of 2: peak %d, %v (serial 9.6 s, ideal 4.8 s)", got, elapsed)
	if units != 32 {
		t.Errorf("%d recipes ran, want 32", units)
	}
	if got > 2 {
		t.Errorf("peak %d recipes at once, want at most 2", got)
	}
	if got < 2 {
		t.Errorf("peak %d recipes at once: the second token was never used", got)
	}
	// No bound on elapsed: the peak above proves both tokens were used,
	// and a loaded machine makes any time bound flaky (speed belongs in
	// bench/jobserver).
	checkAtRest(t, p)
}

// One make action alone takes the pool's extra tokens: with 3 tokens its
// 9 recipes run 3 at a time.
func TestMake43UsesExtraTokens(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	mk := recipeMakefile(t, dir, 9)
	p, err := NewServer(3, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	log := filepath.Join(dir, "log")
	var out bytes.Buffer
	cmd := exec.Command(makePath, "-f", mk, "LOG="+log)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := runAction(context.Background(), p, cmd, true); err != nil {
		t.Fatalf("make: %v\n%s", err, out.String())
	}
	elapsed := time.Since(start)
	got, units := peak(t, log)
	t.Logf("1 make x 9 recipes x 0.3 s, pool of 3: peak %d, %v (serial 2.7 s)", got, elapsed)
	if units != 9 || got != 3 {
		t.Errorf("ran %d recipes, peak %d; want 9 recipes, peak 3", units, got)
	}
	if s := checkAtRest(t, p); s.Restored != 0 {
		t.Errorf("pool restored %d tokens; make should have returned them", s.Restored)
	}
}

// Without AttachJobserver a make action sees no jobserver and runs its
// recipes one at a time, even though tokens are free.
func TestNotAwareSeesNoJobserver(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	mk := recipeMakefile(t, dir, 3)
	p, err := NewServer(3, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	log := filepath.Join(dir, "log")
	cmd := exec.Command(makePath, "-f", mk, "LOG="+log, "SLEEP=0.2")
	cmd.Env = Scrub(append(cmd.Environ(), "MAKEFLAGS=-j4"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runAction(context.Background(), p, cmd, false); err != nil {
		t.Fatalf("make: %v\n%s", err, out.String())
	}
	if got, _ := peak(t, log); got != 1 {
		t.Errorf("peak %d, want 1", got)
	}
}
