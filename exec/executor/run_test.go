package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

func TestParallelismHonoured(t *testing.T) {
	t.Parallel()
	root, side := t.TempDir(), t.TempDir()
	// Each action registers itself in running/, records how many actions
	// it sees running, lingers, and leaves. (In side, outside the
	// workspace: the sandbox lets actions write there.)
	var actions []*graph.Action
	for i := range 8 {
		// Named by i, not $$: in a pid namespace every action's sh is pid 2.
		actions = append(actions, sh(fmt.Sprintf("//p:a%d", i),
			fmt.Sprintf(`cd `+side+` && mkdir -p running && touch running/%[1]d && ls running | wc -l >> peaks.%[1]d && sleep 0.4 && rm running/%[1]d && cd - >/dev/null && touch "$0"`, i),
			nil, []string{fmt.Sprintf("bld-out/a%d", i)}))
		actions[i].Argv = append(actions[i].Argv, actions[i].Outputs[0])
	}
	sum, _, err := build(t, context.Background(), root, actions, 2, false, newMemCache())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != 8 {
		t.Errorf("ran %d actions, want 8", sum.Ran)
	}
	peak := 0
	files, _ := filepath.Glob(filepath.Join(side, "peaks.*"))
	for _, f := range files {
		n, err := strconv.Atoi(strings.TrimSpace(readFile(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, n)
	}
	if peak != 2 {
		t.Errorf("peak concurrency with -j2 = %d, want 2", peak)
	}
}

func TestDependencyOrder(t *testing.T) {
	t.Parallel()
	root, side := t.TempDir(), t.TempDir()
	// gen -> (left, right) -> join; each appends its name to side/log
	// after checking its inputs exist.
	step := func(name string, inputs []string) *graph.Action {
		script := "for f in " + strings.Join(append([]string{"/dev/null"}, inputs...), " ") +
			`; do test -e "$f" || { echo "missing $f"; exit 1; }; done; echo ` + name + ` >> ` + side + `/log; echo ` + name + ` > bld-out/` + name
		return sh("//p:"+name, script, inputs, []string{"bld-out/" + name})
	}
	actions := []*graph.Action{
		step("join", []string{"bld-out/left", "bld-out/right"}),
		step("right", []string{"bld-out/gen"}),
		step("left", []string{"bld-out/gen"}),
		step("gen", nil),
	}
	if _, _, err := build(t, context.Background(), root, actions, 2, false, newMemCache()); err != nil {
		t.Fatal(err)
	}
	log := strings.Fields(readFile(t, filepath.Join(side, "log")))
	pos := map[string]int{}
	for i, name := range log {
		pos[name] = i
	}
	if len(log) != 4 || pos["gen"] != 0 || pos["join"] != 3 {
		t.Errorf("actions ran in order %v; want gen first and join last", log)
	}
}

// Actions whose outputs the cache restored are counted and reported as
// restored, not as up to date.
func TestRestoredCounted(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cache := newMemCache()
	actions := []*graph.Action{
		sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
		sh("//p:b", "cat bld-out/a > bld-out/b", []string{"bld-out/a"}, []string{"bld-out/b"}),
	}
	if _, _, err := build(t, context.Background(), root, actions, 2, false, cache); err != nil {
		t.Fatal(err)
	}
	cache.restoring = true
	sum, rec, err := build(t, context.Background(), root, actions, 2, false, cache)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Summary{Total: 2, Restored: 2}, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	for _, owner := range []string{"//p:a", "//p:b"} {
		if got := rec.results[owner].Status; got != StatusRestored {
			t.Errorf("%s: status %q, want %q", owner, got, StatusRestored)
		}
	}
}

func TestUpToDateSecondBuild(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cache := newMemCache()
	actions := []*graph.Action{
		sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
		{Owner: "//p:w", Mnemonic: "Write", More: &graph.More{Content: []byte("#!/bin/sh\necho hi\n")}, Executable: true, Outputs: []string{"bld-out/sub/w.sh"}},
		{Owner: "//p:n", Mnemonic: "Write", More: &graph.More{Content: []byte("plain")}, Outputs: []string{"bld-out/n.txt"}},
	}
	sum, rec, err := build(t, context.Background(), root, actions, 2, false, cache)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Summary{Total: 3, Ran: 3}, sum); diff != "" {
		t.Errorf("first build summary (-want +got):\n%s", diff)
	}
	if got := rec.results["//p:w"].Reason; got != "no previous result" {
		t.Errorf("reason of a write action that ran = %q", got)
	}
	fi, err := os.Stat(filepath.Join(root, "bld-out/sub/w.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("executable written file: %v, %v; want mode 0755", fi.Mode(), err)
	}
	fi, err = os.Stat(filepath.Join(root, "bld-out/n.txt"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("plain written file: %v, %v; want mode 0644", fi.Mode(), err)
	}
	if got := readFile(t, filepath.Join(root, "bld-out/n.txt")); got != "plain" {
		t.Errorf("written content = %q", got)
	}
	sum, rec, err = build(t, context.Background(), root, actions, 2, false, cache)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Summary{Total: 3, UpToDate: 3}, sum); diff != "" {
		t.Errorf("second build summary (-want +got):\n%s", diff)
	}
	for _, e := range rec.events {
		if strings.HasPrefix(e, "start ") {
			t.Errorf("second build started an action: %s", e)
		}
	}
}

func TestNoCacheAlwaysRuns(t *testing.T) {
	t.Parallel()
	root, side := t.TempDir(), t.TempDir()
	cache := newMemCache()
	a := sh("//p:stamp", "echo x >> "+side+"/count; touch bld-out/stamp", nil, []string{"bld-out/stamp"})
	a.NoCache = true
	for range 2 {
		if _, _, err := build(t, context.Background(), root, []*graph.Action{a}, 1, false, cache); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, filepath.Join(side, "count")); got != "x\nx\n" {
		t.Errorf("NoCache action ran %q, want twice", got)
	}
	if cache.checks != 0 {
		t.Errorf("NoCache action was checked %d times", cache.checks)
	}
}

func TestFailureStopsNewStarts(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	actions := []*graph.Action{sh("//p:bad", "echo broken; exit 3", nil, []string{"bld-out/bad"})}
	for i := range 20 {
		out := fmt.Sprintf("bld-out/ok%d", i)
		actions = append(actions, sh("//p:ok"+strconv.Itoa(i), "sleep 0.05; touch "+out, nil, []string{out}))
	}
	sum, rec, err := build(t, context.Background(), root, actions, 1, false, newMemCache())
	if err == nil || !strings.Contains(err.Error(), "1 action failed") {
		t.Fatalf("err = %v, want one that says 1 action failed", err)
	}
	if sum.Failed != 1 || sum.Skipped == 0 {
		t.Errorf("summary %+v: want 1 failed and some skipped", sum)
	}
	i := slices.Index(rec.events, "failed //p:bad")
	for _, e := range rec.events[i+1:] {
		if strings.HasPrefix(e, "start ") {
			t.Errorf("%s after the failure", e)
		}
	}
	r := rec.results["//p:bad"]
	if r.ExitCode != 3 || string(r.Output) != "broken\n" || r.Err == nil || !strings.Contains(r.Err.Error(), "status 3") {
		t.Errorf("failed result: exit %d, output %q, err %v", r.ExitCode, r.Output, r.Err)
	}
}

func TestKeepGoing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	actions := []*graph.Action{
		sh("//p:bad", "exit 1", nil, []string{"bld-out/bad"}),
		sh("//p:after", "touch bld-out/after", []string{"bld-out/bad"}, []string{"bld-out/after"}),
		sh("//p:i1", "sleep 0.1; touch bld-out/i1", nil, []string{"bld-out/i1"}),
		sh("//p:i2", "sleep 0.1; touch bld-out/i2", nil, []string{"bld-out/i2"}),
		sh("//p:i3", "touch bld-out/i3", []string{"bld-out/i2"}, []string{"bld-out/i3"}),
	}
	sum, _, err := build(t, context.Background(), root, actions, 1, true, newMemCache())
	if err == nil || !strings.Contains(err.Error(), "1 action failed") {
		t.Errorf("err = %v, want one that says 1 action failed", err)
	}
	if diff := cmp.Diff(Summary{Total: 5, Ran: 3, Failed: 1, Skipped: 1}, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if exists(filepath.Join(root, "bld-out/after")) {
		t.Error("the dependent of a failed action ran")
	}
}

func TestMissingOutputDetected(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stale := filepath.Join(root, "bld-out/x/y.o")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("old"), 0o644)
	cache := newMemCache()
	_, rec, err := build(t, context.Background(), root,
		[]*graph.Action{sh("//x:y", "true", nil, []string{"bld-out/x/y.o"})}, 1, false, cache)
	if err == nil {
		t.Fatal("build succeeded")
	}
	r := rec.results["//x:y"]
	want := "action exited 0 but did not write its declared output bld-out/x/y.o"
	if r.Status != StatusFailed || r.Err == nil || r.Err.Error() != want {
		t.Errorf("result %s, %v; want failed with %q", r.Status, r.Err, want)
	}
	if exists(stale) {
		t.Error("stale output survived")
	}
	if len(cache.stored) != 0 {
		t.Error("failed action was stored in the cache")
	}
}

func TestFailureRemovesWrittenOutputs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	_, _, err := build(t, context.Background(), root,
		[]*graph.Action{sh("//p:half", "echo partial > bld-out/a; exit 1", nil, []string{"bld-out/a", "bld-out/b"})}, 1, false, newMemCache())
	if err == nil {
		t.Fatal("build succeeded")
	}
	if exists(filepath.Join(root, "bld-out/a")) {
		t.Error("a failed action's output survived")
	}
}

func TestCommandEnvironment(t *testing.T) {
	t.Setenv("BLD_TEST_LEAK", "leaked") // not Parallel: Setenv
	root := t.TempDir()
	bin := filepath.Join(root, "tools")
	os.MkdirAll(bin, 0o755)
	// A tool found only in the action's PATH, which records how it was run.
	os.WriteFile(filepath.Join(bin, "mytool"), []byte("#!/bin/sh\n/usr/bin/env > bld-out/env\n/bin/pwd -P > bld-out/pwd\necho \"$0\" > bld-out/argv0\nread line; echo \"stdin=[$line]\" >> bld-out/env\n"), 0o755)
	a := &graph.Action{Owner: "//p:env", Mnemonic: "Env", Argv: []string{"mytool"},
		Env: []string{"FOO=bar", "PATH=tools"}, Outputs: []string{"bld-out/argv0", "bld-out/env", "bld-out/pwd"},
		NoSandbox: true}
	if _, rec, err := build(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache()); err != nil {
		t.Fatal(err, string(rec.results["//p:env"].Output))
	}
	env := strings.Fields(readFile(t, filepath.Join(root, "bld-out/env")))
	slices.Sort(env)
	// sh may export PWD of its own; nothing of bld's environment may appear.
	env = slices.DeleteFunc(env, func(s string) bool { return strings.HasPrefix(s, "PWD=") })
	if diff := cmp.Diff([]string{"FOO=bar", "PATH=tools", "stdin=[]"}, env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	wantRoot, _ := filepath.EvalSymlinks(root)
	if got := strings.TrimSpace(readFile(t, filepath.Join(root, "bld-out/pwd"))); got != wantRoot {
		t.Errorf("working directory %q, want %q", got, wantRoot)
	}
}

func TestCommandNotInActionPath(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	a := &graph.Action{Owner: "//p:x", Mnemonic: "X", Argv: []string{"sh", "-c", "true"},
		Env: []string{"PATH=/nonexistent"}, Outputs: []string{"bld-out/x"}}
	_, rec, err := build(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache())
	if err == nil {
		t.Fatal("build succeeded although sh is not in the action's PATH")
	}
	// The namespace helper says it on the command's output.
	r := rec.results["//p:x"]
	if r.Err == nil || !strings.Contains(r.Err.Error()+string(r.Output), "command sh not found") {
		t.Errorf("err = %v, output %q", r.Err, r.Output)
	}
}

func TestOutputInterleavedAsWritten(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	_, rec, err := build(t, context.Background(), root,
		[]*graph.Action{sh("//p:o", "echo one; echo two >&2; echo three; touch bld-out/o", nil, []string{"bld-out/o"})}, 1, false, newMemCache())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rec.results["//p:o"].Output); got != "one\ntwo\nthree\n" {
		t.Errorf("output = %q", got)
	}
}

// Cancelling a Run kills each running command's whole process group, in the
// sandbox (the zygote's) and without one (--sandbox=off: the reaper's wait).
func TestCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	for i, mode := range []sandbox.Mode{sandbox.ModeAuto, sandbox.ModeOff} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			cancelKillsProcessGroup(t, mode, i)
		})
	}
}

func cancelKillsProcessGroup(t *testing.T, mode sandbox.Mode, i int) {
	root, side := t.TempDir(), t.TempDir()
	// sh (the child) starts sleep (the grandchild), says so, waits. The
	// grandchild is found by its command line: in a pid namespace, $! is
	// not its pid on the host.
	arg := fmt.Sprintf("30.%d%d", os.Getpid(), i)
	a := sh("//p:slow", "sleep "+arg+" & echo started > "+side+"/pid; wait", nil, []string{"bld-out/slow"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for !exists(filepath.Join(side, "pid")) || len(strings.TrimSpace(readFileQuiet(filepath.Join(side, "pid")))) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	begin := time.Now()
	sum, _, err := buildSandboxed(t, ctx, root, []*graph.Action{a}, 1, false, newMemCache(), mode)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want one wrapping context.Canceled", err)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("Run took %v after cancellation", d)
	}
	if sum.Ran != 0 {
		t.Errorf("summary %+v", sum)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := pidsRunning("sleep", arg)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild (pids %v) still alive after the build was cancelled", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidsRunning returns the live processes whose command line is argv.
func pidsRunning(argv ...string) []int {
	want := strings.Join(argv, "\x00") + "\x00"
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(d, "cmdline")); err == nil && string(data) == want && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readFileQuiet(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// alive reports whether pid is a live process: kill(pid, 0) succeeds and it
// is not a zombie waiting for an init that does not reap.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 && s[i+2] == 'Z' {
		return false
	}
	return true
}

// TestWorkersEndWithRun checks that the goroutines Run reuses for commands
// and token requests (goWork) are gone when Run returns, on success and
// when an action fails and stops the build. Not parallel: no other test's
// Run may have workers alive meanwhile.
func TestWorkersEndWithRun(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			root := t.TempDir()
			var actions []*graph.Action
			for i := range 12 {
				cmd := `echo x > "$0"`
				if fail && i == 5 {
					cmd = "exit 3"
				}
				a := sh(fmt.Sprintf("//p:w%d", i), cmd, nil, []string{fmt.Sprintf("bld-out/w%d", i)})
				a.Argv = append(a.Argv, a.Outputs[0])
				actions = append(actions, a)
			}
			sum, _, err := buildSandboxed(t, context.Background(), root, actions, 2, false, newMemCache(), sandbox.ModeOff)
			if (err != nil) != fail {
				t.Fatalf("err = %v, want an error: %v", err, fail)
			}
			if !fail && sum.Ran != 12 {
				t.Errorf("ran %d actions, want 12", sum.Ran)
			}
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			if strings.Contains(stacks, "(*scheduler).goWork") {
				t.Errorf("a worker outlived Run:\n%s", stacks)
			}
		})
	}
}

// A failed command without --keep_going starts no new command: not even
// with the token it gives back (the build stops before the token returns).
// Each command says when it ran, from within; the failed one, when it
// ended.
func TestFailureStartsNoCommandAfterIt(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		root := t.TempDir()
		actions := []*graph.Action{sh("//p:bad", "date +%s%N; exit 3", nil, []string{"bld-out/bad"})}
		for i := range 10 {
			out := fmt.Sprintf("bld-out/ok%d", i)
			actions = append(actions, sh("//p:ok"+strconv.Itoa(i), "date +%s%N > "+out+"; sleep 0.01", nil, []string{out}))
		}
		_, rec, err := build(t, context.Background(), root, actions, 1, false, newMemCache())
		if err == nil {
			t.Fatal("the build succeeded")
		}
		var failedAt int64
		if _, err := fmt.Sscan(string(rec.results["//p:bad"].Output), &failedAt); err != nil {
			t.Fatalf("bad's output %q: %v", rec.results["//p:bad"].Output, err)
		}
		for i := range 10 {
			b, err := os.ReadFile(filepath.Join(root, fmt.Sprintf("bld-out/ok%d", i)))
			if err != nil {
				continue // it did not run
			}
			var at int64
			if _, err := fmt.Sscan(string(b), &at); err != nil {
				t.Fatalf("ok%d: %q: %v", i, b, err)
			}
			if at > failedAt {
				t.Errorf("round %d: ok%d started %v after the failed command ended", round, i, time.Duration(at-failedAt))
			}
		}
	}
}

// endedObserver checks, for Options.CommandEnded, that each command's end
// is told once, after the action started and before it finished.
type endedObserver struct {
	t                        *testing.T
	mu                       sync.Mutex
	started, ended, finished map[int]bool
}

func (o *endedObserver) Planned([]*graph.Action) {}

func (o *endedObserver) Started(id int, a *graph.Action) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started[id] = true
}

func (o *endedObserver) Finished(r Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(r.Action.Argv) > 0 && r.Status != StatusCached && !o.ended[r.ID] {
		o.t.Errorf("%s finished (%s) before its command's end was told", r.Action.Owner, r.Status)
	}
	o.finished[r.ID] = true
}

func (o *endedObserver) commandEnded(id int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started[id] || o.finished[id] || o.ended[id] {
		o.t.Errorf("command %d ended: started %v, finished %v, ended before %v", id, o.started[id], o.finished[id], o.ended[id])
	}
	o.ended[id] = true
}

// Options.CommandEnded is told of each command that ran here, failed ones
// included, between the action's start and its finish; not of actions up
// to date.
func TestCommandEndedTold(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	actions := []*graph.Action{
		sh("//p:a", "echo a > bld-out/a", nil, []string{"bld-out/a"}),
		sh("//p:b", "cat bld-out/a > bld-out/b", []string{"bld-out/a"}, []string{"bld-out/b"}),
		sh("//p:c", "exit 3", nil, []string{"bld-out/c"}),
		sh("//p:d", "echo d > bld-out/d", nil, []string{"bld-out/d"}),
	}
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := newMemCache()
	for _, want := range []map[int]bool{{0: true, 1: true, 2: true, 3: true}, {2: true}} {
		o := &endedObserver{t: t, started: map[int]bool{}, ended: map[int]bool{}, finished: map[int]bool{}}
		Run(context.Background(), g, []int{0, 1, 2, 3}, Options{Root: root, KeepGoing: true, Cache: cache, Tokens: NewSemaphore(2),
			Observer: o, CommandEnded: o.commandEnded})
		if diff := cmp.Diff(want, o.ended); diff != "" {
			t.Errorf("commands told ended (-want +got):\n%s", diff)
		}
	}
}
