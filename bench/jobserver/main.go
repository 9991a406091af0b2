// Command jobserver measures the token policies of exec/jobserver
// (PreferActions, the default, and Fair) on workloads of real processes:
// plain actions (sh running sleep) and jobserver-aware actions (GNU make,
// no -j, over recipes that sleep), scheduled the way bld's executor does
// it: ready actions by critical-path priority, one Acquire pending at a
// time, a jobserver-aware action attached to the pool.
//
// Usage (from the repository root):
//
//	go run ./bench/jobserver                 # both workloads, 5 runs each policy
//	go run ./bench/jobserver -runs 3 -j 4 -workload critical-make
//
// For each workload it alternates the policies run by run and prints the
// median makespan, the median time the jobserver-aware action ended, the
// peak number of jobs at once (never above -j) and every sample. Results
// and the chosen default are in docs/jobserver.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"bld/exec/jobserver"
)

// action is one node of a workload: a plain command of dur, or (recipes >
// 0) a make over recipes recipes of dur each, with the jobserver.
type action struct {
	name    string
	dur     time.Duration
	recipes int
	deps    []int
}

type workload struct {
	name, about string
	actions     []action
}

func workloads() []workload {
	var wls []workload

	// A jobserver-aware make whose output a chain of actions needs, beside
	// many independent actions: the make is on the critical path.
	w := workload{name: "critical-make", about: "make (16 x 0.15 s) -> chain of 3 x 0.3 s; 12 independent actions of 0.3 s"}
	w.actions = append(w.actions, action{name: "make", dur: 150 * time.Millisecond, recipes: 16})
	for i := range 3 {
		w.actions = append(w.actions, action{name: fmt.Sprintf("chain%d", i), dur: 300 * time.Millisecond, deps: []int{len(w.actions) - 1}})
	}
	for i := range 12 {
		w.actions = append(w.actions, action{name: fmt.Sprintf("leaf%d", i), dur: 300 * time.Millisecond})
	}
	wls = append(wls, w)

	// Chains of actions on the critical path, more ready actions than
	// tokens, and a jobserver-aware make that nothing needs: a filler.
	w = workload{name: "critical-actions", about: "2 chains of 6 x 0.3 s; 4 independent actions of 0.3 s; make (16 x 0.15 s) that nothing needs"}
	for c := range 2 {
		for i := range 6 {
			a := action{name: fmt.Sprintf("chain%d_%d", c, i), dur: 300 * time.Millisecond}
			if i > 0 {
				a.deps = []int{len(w.actions) - 1}
			}
			w.actions = append(w.actions, a)
		}
	}
	for i := range 4 {
		w.actions = append(w.actions, action{name: fmt.Sprintf("leaf%d", i), dur: 300 * time.Millisecond})
	}
	w.actions = append(w.actions, action{name: "make", dur: 150 * time.Millisecond, recipes: 16})
	wls = append(wls, w)
	return wls
}

// priorities: the length of the longest chain of dependents, as bld's
// executor computes it (1 for an action nothing needs).
func priorities(acts []action) []int {
	prio := make([]int, len(acts))
	for i := len(acts) - 1; i >= 0; i-- {
		if prio[i] == 0 {
			prio[i] = 1
		}
		for _, d := range acts[i].deps {
			prio[d] = max(prio[d], prio[i]+1)
		}
	}
	return prio
}

type outcome struct {
	makespan, makeEnd time.Duration
	peak              int
}

// run executes the workload once on a fresh pool of n tokens.
func run(wl workload, n int, pol jobserver.Policy, dir string) (outcome, error) {
	pool, err := jobserver.NewServer(n, dir)
	if err != nil {
		return outcome{}, err
	}
	defer pool.Close()
	pool.SetPolicy(pol)
	log := filepath.Join(dir, "log")
	os.Remove(log)
	mk := filepath.Join(dir, "recipes.mk")

	acts := wl.actions
	prio := priorities(acts)
	pending := make([]int, len(acts))
	dependents := make([][]int, len(acts))
	for i, a := range acts {
		pending[i] = len(a.deps)
		for _, d := range a.deps {
			dependents[d] = append(dependents[d], i)
		}
	}
	var ready []int
	push := func(id int) {
		ready = append(ready, id)
		sort.SliceStable(ready, func(i, j int) bool { return prio[ready[i]] > prio[ready[j]] })
	}
	for i := range acts {
		if pending[i] == 0 {
			push(i)
		}
	}
	type ev struct {
		token bool
		id    int
		err   error
		at    time.Time
	}
	events := make(chan ev, len(acts)+1)
	start := time.Now()
	var out outcome
	acquiring, running, done := false, 0, 0
	var firstErr error
	for done < len(acts) {
		if !acquiring && len(ready) > 0 {
			acquiring = true
			go func() { events <- ev{token: true, err: pool.Acquire(context.Background())} }()
		}
		e := <-events
		if e.token {
			acquiring = false
			if e.err != nil {
				return out, e.err
			}
			id := ready[0]
			ready = ready[1:]
			running++
			go func() {
				err := execute(pool, acts[id], log, mk)
				pool.Release()
				events <- ev{id: id, err: err, at: time.Now()}
			}()
			continue
		}
		running--
		done++
		if e.err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", acts[e.id].name, e.err)
		}
		if acts[e.id].recipes > 0 {
			out.makeEnd = e.at.Sub(start)
		}
		for _, d := range dependents[e.id] {
			if pending[d]--; pending[d] == 0 {
				push(d)
			}
		}
	}
	out.makespan = time.Since(start)
	if firstErr != nil {
		return out, firstErr
	}
	if s := pool.Stats(); s.InPipe != n-1 || s.Restored != 0 {
		return out, fmt.Errorf("pool not at rest after the run: %+v", s)
	}
	out.peak, err = peak(log)
	return out, err
}

// execute runs one action: a plain command, or a make with the jobserver.
func execute(pool *jobserver.Pool, a action, log, mk string) error {
	secs := strconv.FormatFloat(a.dur.Seconds(), 'f', 3, 64)
	if a.recipes == 0 {
		cmd := exec.Command("sh", "-c", `echo "S $(date +%s%N)" >> "$1"; sleep "$2"; echo "E $(date +%s%N)" >> "$1"`, "sh", log, secs)
		cmd.Env = jobserver.Scrub(os.Environ())
		return cmd.Run()
	}
	var names []string
	for i := range a.recipes {
		names = append(names, fmt.Sprintf("r%d", i))
	}
	text := fmt.Sprintf("R := %s\nall: $(R)\n$(R):\n\t@echo \"S $$(date +%%s%%N)\" >> %s; sleep %s; echo \"E $$(date +%%s%%N)\" >> %s\n.PHONY: all $(R)\n",
		strings.Join(names, " "), log, secs, log)
	if err := os.WriteFile(mk, []byte(text), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("make", "-s", "-f", mk)
	cmd.Env = jobserver.Scrub(os.Environ())
	detach, err := pool.AttachJobserver(cmd, cmd.Args, "")
	if err != nil {
		return err
	}
	defer detach()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// peak reads "S ns" / "E ns" lines and returns the most jobs at once.
func peak(log string) (int, error) {
	f, err := os.Open(log)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type mark struct {
		at    int64
		delta int
	}
	var marks []mark
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, num, _ := strings.Cut(sc.Text(), " ")
		at, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad log line %q", sc.Text())
		}
		d := 1
		if kind == "E" {
			d = -1
		}
		marks = append(marks, mark{at, d})
	}
	sort.Slice(marks, func(i, j int) bool {
		if marks[i].at != marks[j].at {
			return marks[i].at < marks[j].at
		}
		return marks[i].delta < marks[j].delta
	})
	cur, top := 0, 0
	for _, m := range marks {
		cur += m.delta
		top = max(top, cur)
	}
	return top, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func main() {
	runs := flag.Int("runs", 5, "runs of each policy per workload")
	jobs := flag.Int("j", 4, "tokens in the pool")
	only := flag.String("workload", "", "run only this workload")
	flag.Parse()
	if _, err := exec.LookPath("make"); err != nil {
		fmt.Fprintln(os.Stderr, "bench/jobserver needs GNU make")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "bld-bench-jobserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer os.RemoveAll(dir)
	policies := []struct {
		name string
		pol  jobserver.Policy
	}{{"PreferActions", jobserver.PreferActions}, {"Fair", jobserver.Fair}}

	fmt.Printf("| workload (-j %d) | policy | makespan (median) | make action ends (median) | peak jobs |\n|---|---|---|---|---|\n", *jobs)
	var samples []string
	for _, wl := range workloads() {
		if *only != "" && wl.name != *only {
			continue
		}
		spans := map[string][]time.Duration{}
		ends := map[string][]time.Duration{}
		peaks := map[string]int{}
		for r := range *runs {
			for k := range policies {
				p := policies[(k+r)%2] // alternate which goes first
				o, err := run(wl, *jobs, p.pol, dir)
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s, %s: %v\n", wl.name, p.name, err)
					os.Exit(1)
				}
				spans[p.name] = append(spans[p.name], o.makespan)
				ends[p.name] = append(ends[p.name], o.makeEnd)
				peaks[p.name] = max(peaks[p.name], o.peak)
				samples = append(samples, fmt.Sprintf("%s %s run %d: makespan %.2f s, make ends %.2f s, peak %d",
					wl.name, p.name, r+1, o.makespan.Seconds(), o.makeEnd.Seconds(), o.peak))
			}
		}
		for _, p := range policies {
			fmt.Printf("| %s: %s | %s | %.2f s | %.2f s | %d |\n", wl.name, wl.about, p.name,
				median(spans[p.name]).Seconds(), median(ends[p.name]).Seconds(), peaks[p.name])
		}
	}
	fmt.Println()
	for _, s := range samples {
		fmt.Println(s)
	}
}
