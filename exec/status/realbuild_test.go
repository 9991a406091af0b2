package status

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/jobserver"
	"bld/exec/sandbox"
)

// restoringCache is an executor.Cache that answers "restored" for the
// actions of //lib and "must run" for the others, and stores nothing.
type restoringCache struct{}

func (restoringCache) Check(ctx context.Context, a *graph.Action) (executor.Check, error) {
	if strings.HasPrefix(a.Owner, "//lib:") {
		return executor.Check{UpToDate: true, Restored: true, Key: a.Owner}, nil
	}
	return executor.Check{Key: a.Owner, Reason: "no previous result"}, nil
}
func (restoringCache) Store(context.Context, *graph.Action, string, []byte) error { return nil }
func (restoringCache) Close() error                                               { return nil }

// realBuild runs a small build for its --timings report: two actions of
// //lib restored from the cache; gen, then three compiles that depend on
// it (five at -j 3: two wait for a token, more while make holds some); a
// jobserver-aware make of 6 recipes of 0.2 s (when make is installed)
// that takes the pool's extra tokens; and a link of all of them. It
// samples the CPUs and the pool as bld build --timings does.
func realBuild(t *testing.T) *Timings {
	t.Helper()
	root := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin"}
	shAction := func(owner, mnemonic, script string, inputs []string, out string) *graph.Action {
		return &graph.Action{Owner: owner, Mnemonic: mnemonic, Argv: []string{"sh", "-c", script + "; echo x > " + out},
			Env: env, Inputs: inputs, Outputs: []string{out}}
	}
	actions := []*graph.Action{
		shAction("//lib:a", "CcArchive", "true", nil, "bld-out/lib/a.a"),
		shAction("//lib:b", "CcArchive", "true", nil, "bld-out/lib/b.a"),
		shAction("//app:version", "Genrule", "sleep 0.15", nil, "bld-out/app/v.c"),
	}
	objs := []string{"bld-out/lib/a.a", "bld-out/lib/b.a"}
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		o := "bld-out/app/c" + n + ".o"
		actions = append(actions, shAction("//app:app", "CcCompile", "sleep 0.2", []string{"bld-out/app/v.c"}, o))
		objs = append(objs, o)
	}
	if makePath, err := exec.LookPath("make"); err == nil {
		mk := filepath.Join(root, "recipes.mk")
		if err := os.WriteFile(mk, []byte("all: r1 r2 r3 r4 r5 r6\nr%:\n\t@sleep 0.2\n.PHONY: all\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m := &graph.Action{Owner: "//ext:make", Mnemonic: "Make", Argv: []string{"sh", "-c", makePath + " -s -f " + mk + " && echo x > bld-out/ext/made"},
			Env: env, Inputs: []string{"bld-out/lib/a.a"}, Outputs: []string{"bld-out/ext/made"}, Jobserver: true, NoSandbox: true}
		actions = append(actions, m)
		objs = append(objs, "bld-out/ext/made")
	} else {
		t.Logf("no make: the report has no jobserver-aware action")
	}
	actions = append(actions, shAction("//app:app", "CcLink", "true", objs, "bld-out/app/app"))
	g, err := graph.New(actions, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	goals := make([]int, len(actions))
	for i := range goals {
		goals[i] = i
	}
	pool, err := jobserver.NewServer(3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	timeline := &Timeline{}
	start := time.Now()
	stop := Sample(context.Background(), 20*time.Millisecond, pool.InUse)
	_, err = executor.Run(context.Background(), g, goals, executor.Options{Root: root, Cache: restoringCache{}, Tokens: pool,
		Observer: timeline, Sandbox: sandbox.ModeOff})
	usage := stop()
	if err != nil {
		t.Fatal(err)
	}
	planned, plannedAt := timeline.Plan()
	return &Timings{Title: "//...", Start: start, Elapsed: time.Since(start), Jobs: 3, Results: timeline.Results(),
		Planned: planned, PlannedAt: plannedAt, Usage: usage,
		Phases: []Phase{{Name: "execution", Start: start, End: time.Now()}}}
}

// The report of a real build: every action ends up ready and run, some
// waited for a token, the pool was sampled up to its size (make took the
// extra tokens), and the CPU use was sampled (on Linux).
func TestTimingsOfARealBuild(t *testing.T) {
	tm := realBuild(t)
	d := tm.data()
	last := d.States[len(d.States)-1]
	if last[1] != 0 || last[2] != 0 || last[3] != 0 {
		t.Errorf("at the end: %v running, ready, waiting; want none", last[1:])
	}
	// Five compiles of 0.2 s become ready at once under 3 tokens: two at
	// least wait ~0.2 s for one, whatever make takes.
	waited := 0
	for _, r := range tm.Results {
		if r.Action.Mnemonic == "CcCompile" && r.Start.Sub(r.Ready) >= 100*time.Millisecond {
			waited++
		}
	}
	readyShown := slices.ContainsFunc(d.States, func(p [4]float64) bool { return p[2] >= 2 })
	if waited < 2 || !readyShown {
		t.Errorf("%d compiles waited >= 100 ms for a token, want >= 2; ready shown: %v; states %v", waited, readyShown, d.States)
	}
	most := 0.0
	for _, p := range d.Tokens {
		most = max(most, p[1])
	}
	_, hasMake := exec.LookPath("make")
	if d.Pool != 3 || hasMake == nil && most != 3 || most > 3 {
		t.Errorf("pool %d, at most %v tokens in use; want 3 and 3", d.Pool, most)
	}
	// make's extra tokens: more tokens in use than actions running.
	extra := 0.0
	for _, tok := range d.Tokens {
		running := 0.0
		for _, p := range d.States {
			if p[0] <= tok[0] {
				running = p[1]
			}
		}
		extra = max(extra, tok[1]-running)
	}
	t.Logf("%d state points, %d token samples (at most %v in use, %v beyond the actions running), %d CPU samples",
		len(d.States), len(d.Tokens), most, extra, len(d.CPU))
	if hasMake == nil && extra < 1 {
		t.Errorf("the samples never saw make's extra tokens: %v", d.Tokens)
	}
	if _, err := os.Stat("/proc/stat"); err == nil && (d.CPUs < 1 || len(d.CPU) == 0 || d.CPUNote != "") {
		t.Errorf("CPU use: %d cpus, %d samples, note %q", d.CPUs, len(d.CPU), d.CPUNote)
	}
	for _, p := range d.CPU {
		if p[1] < 0 || p[1] > 1 {
			t.Errorf("CPU sample %v outside 0..1", p)
		}
	}
}
