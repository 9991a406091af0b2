package jobserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runAction does what the executor does for one action: take a token,
// attach the jobserver when aware, run cmd, detach, give the token back.
func runAction(ctx context.Context, p *Pool, cmd *exec.Cmd, aware bool) error {
	if err := p.Acquire(ctx); err != nil {
		return err
	}
	defer p.Release()
	if aware {
		detach, err := p.AttachJobserver(cmd, cmd.Args, "")
		if err != nil {
			return err
		}
		defer detach()
	}
	return cmd.Run()
}

// need returns the path of tool, and fails the test when it is not
// installed: these tests are about the real tools (.ci/run installs them).
func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed; this test needs the real tool (see .ci/run)", tool)
	}
	return path
}

// recipeMakefile is a Makefile of n recipes that each log their start and
// end ("S ns" and "E ns" lines) to $(LOG) around a sleep of $(SLEEP)
// seconds.
func recipeMakefile(t *testing.T, dir string, n int) string {
	t.Helper()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("r%d", i))
	}
	mk := fmt.Sprintf(`SLEEP ?= 0.3
R := %s
all: $(R)
$(R):
	@echo "S $$(date +%%s%%N)" >> $(LOG); sleep $(SLEEP); echo "E $$(date +%%s%%N)" >> $(LOG)
.PHONY: all $(R)
`, strings.Join(names, " "))
	path := filepath.Join(dir, fmt.Sprintf("recipes%d.mk", n))
	if err := os.WriteFile(path, []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// logUnit appends a start or end line to log, as the recipes do.
func logUnit(log string, start bool) error {
	f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	c := "E"
	if start {
		c = "S"
	}
	_, err = fmt.Fprintf(f, "%s %d\n", c, time.Now().UnixNano())
	return err
}

// peak reads logs of S/E lines and returns the largest number of units
// running at once and the number of units. Ends sort before starts at the
// same instant. A log line is written after a unit started and before it
// ended, so the measured peak never exceeds the real one by more than the
// clock's resolution.
func peak(t *testing.T, logs ...string) (maxRunning, units int) {
	t.Helper()
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	starts, ends := 0, 0
	for _, log := range logs {
		f, err := os.Open(log)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			kind, num, ok := strings.Cut(sc.Text(), " ")
			at, err := strconv.ParseInt(num, 10, 64)
			if !ok || err != nil {
				t.Fatalf("%s: bad line %q", log, sc.Text())
			}
			if kind == "S" {
				starts++
				evs = append(evs, ev{at, 1})
			} else {
				ends++
				evs = append(evs, ev{at, -1})
			}
		}
		f.Close()
	}
	if starts != ends {
		t.Errorf("logs have %d starts and %d ends", starts, ends)
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta
	})
	cur := 0
	for _, e := range evs {
		cur += e.delta
		maxRunning = max(maxRunning, cur)
	}
	return maxRunning, starts
}

// checkAtRest fails unless the server pool holds all its tokens: n-1
// bytes in the fifo, none held, the implicit one free. Restores may still
// be pending for a moment after children died, so it waits a little.
func checkAtRest(t *testing.T, p *Pool) Stats {
	t.Helper()
	var s Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = p.Stats()
		if s.InPipe == s.Total-1 && s.Held == 0 && s.ImplicitFree && s.Attached == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool not at rest: %+v, want %d bytes in the pipe", s, s.Total-1)
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runAll runs fn(i) for i in [0,n) concurrently and returns the errors.
func runAll(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}
