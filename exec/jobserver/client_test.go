package jobserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a jobserver client ("bld under make") when
// JOBSERVER_TEST_HELPER is set; see helperMain.
func TestMain(m *testing.M) {
	if mode := os.Getenv("JOBSERVER_TEST_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain plays bld run by make. Modes:
//   - probe: report what FromEnv finds.
//   - client: join the parent's jobserver, run HELPER_UNITS units of 0.3 s
//     (each holding a token, logged to HELPER_LOG), and, when HELPER_MAKE
//     names a makefile, one jobserver-aware make action over it; after
//     HELPER_INTERRUPT (a duration) send itself SIGINT, like Ctrl-C.
func helperMain(mode string) int {
	p, ok, err := FromEnv(os.Environ())
	switch {
	case err != nil:
		fmt.Printf("warning: %v\n", err)
		return 0
	case !ok:
		fmt.Println("no jobserver")
		return 0
	}
	fmt.Println("joined")
	if mode == "probe" {
		p.Close()
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	interrupt, err := time.ParseDuration(os.Getenv("HELPER_INTERRUPT"))
	hold := 300 * time.Millisecond
	if err == nil {
		time.AfterFunc(interrupt, func() { syscall.Kill(os.Getpid(), syscall.SIGINT) })
		hold = time.Minute // still holding tokens when Ctrl-C comes
	}
	log := os.Getenv("HELPER_LOG")
	units, _ := strconv.Atoi(os.Getenv("HELPER_UNITS"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	fail := func(err error) {
		mu.Lock()
		if failed == nil {
			failed = err
		}
		mu.Unlock()
	}
	for range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Acquire(ctx); err != nil {
				fail(err)
				return
			}
			defer p.Release()
			logUnit(log, true)
			time.Sleep(hold)
			logUnit(log, false)
		}()
	}
	makeDone := make(chan struct{})
	if mk := os.Getenv("HELPER_MAKE"); mk != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(makeDone)
			// Killed with its process group on Ctrl-C, as the executor
			// does.
			cmd := exec.CommandContext(ctx, "make", "-s", "-f", mk, "LOG="+log)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			out, err := runOutput(ctx, p, cmd)
			if err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("make: %v\n%s", err, out))
			}
		}()
	} else {
		close(makeDone)
	}
	if hold == time.Minute {
		// bld's Ctrl-C path: its actions are killed; then it gives back
		// every token at once and exits.
		<-ctx.Done()
		st := p.Stats()
		<-makeDone
		p.Close()
		fmt.Printf("interrupted holding %d tokens from the parent, %d lent to the make action\n", st.Held, st.Lent)
		return 1
	}
	wg.Wait()
	p.Close()
	if failed != nil {
		fmt.Println("failed:", failed)
		return 1
	}
	return 0
}

func runOutput(ctx context.Context, p *Pool, cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := runAction(ctx, p, cmd, true)
	return out.Bytes(), err
}

// clientMakefile runs the helper as a recipe marked '+' (or not) beside
// four plain recipes that log like the helper's units.
func clientMakefile(t *testing.T, dir string, plus bool) string {
	t.Helper()
	mark := "+"
	if !plus {
		mark = ""
	}
	mk := fmt.Sprintf(`all: h o1 o2 o3 o4
h:
	%s@$(HELPER)
o1 o2 o3 o4:
	@echo "S $$(date +%%s%%N)" >> $(LOG); sleep 0.3; echo "E $$(date +%%s%%N)" >> $(LOG)
.PHONY: all h o1 o2 o3 o4
`, mark)
	path := filepath.Join(dir, "client.mk")
	if err := os.WriteFile(path, []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runParentMake runs make -j3 over clientMakefile with the helper in the
// given mode and extra environment.
func runParentMake(t *testing.T, dir string, plus bool, env ...string) (string, error) {
	t.Helper()
	makePath := need(t, "make")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mk := clientMakefile(t, dir, plus)
	cmd := exec.Command(makePath, "-j3", "-f", mk, "HELPER="+self, "LOG="+filepath.Join(dir, "log"))
	cmd.Env = append(Scrub(os.Environ()), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// bld as a client: make -j3 runs the helper, which runs 6 units and a
// make action of its own with 8 recipes, beside make's 4 plain recipes. At
// most 3 things run at once, and make finds all its tokens at exit.
func TestClientUnderMake(t *testing.T) {
	dir := t.TempDir()
	sub := recipeMakefile(t, dir, 8)
	start := time.Now()
	out, err := runParentMake(t, dir, true, "JOBSERVER_TEST_HELPER=client", "HELPER_UNITS=6",
		"HELPER_LOG="+filepath.Join(dir, "log"), "HELPER_MAKE="+sub)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	if !strings.Contains(out, "joined") {
		t.Errorf("helper did not join the jobserver:\n%s", out)
	}
	if strings.Contains(out, "INTERNAL") || strings.Contains(out, "warning") {
		t.Errorf("make complains:\n%s", out)
	}
	got, units := peak(t, filepath.Join(dir, "log"))
	t.Logf("make -j3 with bld inside: %d units, peak %d, %v (serial %.1f s)", units, got, elapsed, float64(units)*0.3)
	if units != 18 {
		t.Errorf("%d units ran, want 18", units)
	}
	if got > 3 {
		t.Errorf("peak %d, want at most 3", got)
	}
	if got < 3 {
		t.Errorf("peak %d: the parent's tokens were not all used", got)
	}
}

// Ctrl-C in bld while its units hold two of make's tokens and others wait
// for more: bld gives back every token it took and make still finds all
// of its tokens at exit.
func TestClientInterrupted(t *testing.T) {
	dir := t.TempDir()
	out, err := runParentMake(t, dir, true, "JOBSERVER_TEST_HELPER=client", "HELPER_UNITS=12",
		"HELPER_LOG="+filepath.Join(dir, "log"), "HELPER_INTERRUPT=1500ms")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("make should fail because the helper was interrupted; got %v\n%s", err, out)
	}
	if !strings.Contains(out, "interrupted holding 2 tokens") {
		t.Errorf("helper was not interrupted while holding 2 of make's tokens:\n%s", out)
	}
	if strings.Contains(out, "INTERNAL") {
		t.Errorf("make lost tokens:\n%s", out)
	}
}

// Ctrl-C in bld while its jobserver-aware make action runs two recipes:
// one on the action's token, one on a token of the parent that bld lent to
// its children's jobserver. The make dies holding that token; bld gives it
// back all the same, and make finds all of its tokens at exit.
func TestClientInterruptedChildHoldsTokens(t *testing.T) {
	dir := t.TempDir()
	sub := recipeMakefile(t, dir, 4)
	out, err := runParentMake(t, dir, true, "JOBSERVER_TEST_HELPER=client", "HELPER_UNITS=1",
		"HELPER_LOG="+filepath.Join(dir, "log"), "HELPER_MAKE="+sub, "SLEEP=30", "HELPER_INTERRUPT=1500ms")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("make should fail because the helper was interrupted; got %v\n%s", err, out)
	}
	if !strings.Contains(out, "1 lent to the make action") {
		t.Errorf("the make action did not hold a lent token when Ctrl-C came:\n%s", out)
	}
	if strings.Contains(out, "INTERNAL") {
		t.Errorf("make lost tokens:\n%s", out)
	}
}

// A recipe without '+' gets no descriptors from make 4.3: FromEnv warns
// and says how to fix it.
func TestClientWithoutPlusWarns(t *testing.T) {
	dir := t.TempDir()
	out, err := runParentMake(t, dir, false, "JOBSERVER_TEST_HELPER=probe")
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	if !strings.Contains(out, "warning: jobserver: MAKEFLAGS names the jobserver") || !strings.Contains(out, "'+'") {
		t.Errorf("want a warning naming '+', got:\n%s", out)
	}
}

func TestFromEnv(t *testing.T) {
	if _, ok, err := FromEnv([]string{"PATH=/bin", "MAKEFLAGS=-k"}); ok || err != nil {
		t.Errorf("no jobserver: got ok=%v err=%v", ok, err)
	}
	if _, ok, err := FromEnv([]string{"MAKEFLAGS=-j --jobserver-auth=990,991"}); ok || err == nil {
		t.Errorf("closed descriptors: got ok=%v err=%v, want a warning", ok, err)
	} else {
		t.Logf("warning: %v", err)
	}
	if _, ok, err := FromEnv([]string{"MAKEFLAGS=-j --jobserver-auth=fifo:/nonexistent/fifo"}); ok || err == nil {
		t.Errorf("missing fifo: got ok=%v err=%v, want a warning", ok, err)
	}
	if _, ok, err := FromEnv([]string{"MAKEFLAGS=-j --jobserver-auth=x"}); ok || err == nil {
		t.Errorf("bad auth: got ok=%v err=%v, want a warning", ok, err)
	}
}
