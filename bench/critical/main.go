// Command critical writes the workspaces of bench/critical.sh, which times
// bld and ninja against the critical-path bound of a build, and computes
// that bound from what a tool measured.
//
//	go run ./bench/critical gen -shape chain-wide|shallow-slow -out DIR
//	go run ./bench/critical bound -shape S -j N (-events FILE | -ninja-log FILE)
//
// Shapes (every action sleeps; all in package b, outputs bld-out/b/<name>.txt):
//
//   - chain-wide: 12 independent actions of 0.3 s, then a chain of 12
//     actions of 0.3 s declared last. Bound at -j2: max(3.6 s, 7.2 s / 2).
//   - shallow-slow: 24 quick actions of 0.1 s, one action of 2 s declared
//     after them, and 3 chains of 5 actions of 0.1 s, deeper than the slow
//     one. Bound at -j2: max(2 s, 5.9 s / 2) = 2.95 s.
//
// bound prints "bound SECONDS path SECONDS work SECONDS": the bound is
// max(longest path, total work / j), both by the durations the tool itself
// measured in that build (start to end of each action in --events, or the
// newest entry of each output in .ninja_log).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type action struct {
	name string
	secs float64
	deps []int
}

func (a action) out() string { return "bld-out/b/" + a.name + ".txt" }

func shape(name string) ([]action, error) {
	var as []action
	add := func(n string, secs float64, deps ...int) int {
		as = append(as, action{name: n, secs: secs, deps: deps})
		return len(as) - 1
	}
	switch name {
	case "chain-wide":
		for i := range 12 {
			add(fmt.Sprintf("w%02d", i), 0.3)
		}
		prev := -1
		for i := range 12 {
			if prev < 0 {
				prev = add(fmt.Sprintf("c%02d", i), 0.3)
			} else {
				prev = add(fmt.Sprintf("c%02d", i), 0.3, prev)
			}
		}
	case "shallow-slow":
		for i := range 24 {
			add(fmt.Sprintf("q%02d", i), 0.1)
		}
		add("slow", 2)
		for c := range 3 {
			prev := add(fmt.Sprintf("k%d_0", c), 0.1)
			for i := 1; i < 5; i++ {
				prev = add(fmt.Sprintf("k%d_%d", c, i), 0.1, prev)
			}
		}
	default:
		return nil, fmt.Errorf("unknown shape %q", name)
	}
	return as, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: critical gen|bound ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "bound":
		err = bound(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "critical:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	name := fs.String("shape", "", "chain-wide or shallow-slow")
	out := fs.String("out", "", "directory")
	fs.Parse(args)
	as, err := shape(*name)
	if err != nil {
		return err
	}
	var build, ninja strings.Builder
	ninja.WriteString("rule sh\n  command = $cmd\n\n")
	for _, a := range as {
		cmd := fmt.Sprintf("sleep %g; echo %s > $@", a.secs, a.name)
		var srcs, ins []string
		for _, d := range a.deps {
			srcs = append(srcs, strconv.Quote(":"+as[d].name))
			ins = append(ins, as[d].out())
		}
		fmt.Fprintf(&build, "genrule(name = %q, srcs = [%s], outs = [%q], cmd = %q)\n",
			a.name, strings.Join(srcs, ", "), a.name+".txt", cmd)
		fmt.Fprintf(&ninja, "build %s: sh %s\n  cmd = %s\n", a.out(), strings.Join(ins, " "),
			strings.ReplaceAll(cmd, "$@", a.out()))
	}
	if err := os.MkdirAll(filepath.Join(*out, "b"), 0o755); err != nil {
		return err
	}
	for name, content := range map[string]string{
		"WORKSPACE.star": "", "b/BUILD.star": build.String(), "build.ninja": ninja.String(),
	} {
		if err := os.WriteFile(filepath.Join(*out, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func bound(args []string) error {
	fs := flag.NewFlagSet("bound", flag.ExitOnError)
	name := fs.String("shape", "", "chain-wide or shallow-slow")
	jobs := fs.Int("j", 2, "jobs")
	events := fs.String("events", "", "a bld --events file")
	ninjaLog := fs.String("ninja-log", "", "a .ninja_log")
	fs.Parse(args)
	as, err := shape(*name)
	if err != nil {
		return err
	}
	dur := map[string]float64{} // output -> seconds
	switch {
	case *events != "":
		f, err := os.Open(*events)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e struct {
				Outputs    []string `json:"outputs"`
				Start, End float64
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return err
			}
			dur[e.Outputs[0]] = e.End - e.Start
		}
	case *ninjaLog != "":
		f, err := os.Open(*ninjaLog)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), "\t")
			if len(fields) != 5 {
				continue // the "# ninja log v5" header
			}
			start, err1 := strconv.Atoi(fields[0])
			end, err2 := strconv.Atoi(fields[1])
			if err1 != nil || err2 != nil {
				continue
			}
			dur[fields[3]] = float64(end-start) / 1000 // the newest line wins
		}
	default:
		return fmt.Errorf("bound needs -events or -ninja-log")
	}
	path := make([]float64, len(as)) // longest path ending at i
	var longest, work float64
	for i, a := range as { // dependencies come first
		d, ok := dur[a.out()]
		if !ok {
			return fmt.Errorf("no duration for %s", a.out())
		}
		before := 0.0
		for _, dep := range a.deps {
			before = max(before, path[dep])
		}
		path[i] = before + d
		longest = max(longest, path[i])
		work += d
	}
	fmt.Printf("bound %.3f path %.3f work %.3f\n", max(longest, work/float64(*jobs)), longest, work)
	return nil
}
