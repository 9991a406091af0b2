package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Output of actions, successful and restored too, is headed by the action;
// two actions with one progress message are told apart by their target;
// -s prints each command as it starts; a failed build ends with the list of
// what failed. Not a terminal here, so no colour.
func TestOutputHeadersAndSubcommands(t *testing.T) {
	gen := `genrule(name = "x", srcs = ["where.c"], outs = ["x.o"], message = "Compiling src/where.c",
    cmd = "echo 'tool says hi'; cp $< $@")
`
	w := newWorkspace(t, map[string]string{
		"a/BUILD.star": gen,
		"a/where.c":    "a\n",
		"b/BUILD.star": gen + `genrule(name = "bad", outs = ["bad.txt"], cmd = "echo broken >&2; exit 3")
`,
		"b/where.c": "b\n",
	})
	r := w.mustBuild("build", "-j1", "-s", "//a:x", "//b:x")
	wantContains(t, r.stderr,
		"Compiling src/where.c (//a:x)\n",
		"Compiling src/where.c (//b:x)\n",
		"From //a:x (Genrule): Compiling src/where.c (//a:x):\ntool says hi\n",
		"From //b:x (Genrule): Compiling src/where.c (//b:x):\ntool says hi\n",
		"SUBCOMMAND: //a:x (Genrule): Compiling src/where.c (//a:x)\n/bin/sh -e -c 'echo '\\''tool says hi'\\''; cp a/where.c bld-out/a/x.o'\n")
	if strings.Contains(r.stderr, "\x1b[1m") || strings.Contains(r.stderr, "\x1b[32m") {
		t.Errorf("colour escapes when stderr is not a terminal:\n%q", r.stderr)
	}

	// Restored from the cache: the output is shown again, headed as such,
	// and nothing runs, so no subcommand.
	w.mustBuild("clean")
	r = w.mustBuild("build", "-s", "//a:x")
	wantContains(t, r.stderr, "From //a:x (Genrule, restored): Compiling src/where.c:\ntool says hi\n")
	if strings.Contains(r.stderr, "SUBCOMMAND") {
		t.Errorf("a restored action printed a subcommand:\n%s", r.stderr)
	}

	r = w.bld("build", "-k", "//b:all")
	if r.code != 1 {
		t.Fatalf("want a failed build, got:\n%s", r)
	}
	wantContains(t, r.stderr, "FAILED: //b:bad (Genrule)\n", "broken\n",
		"bld: 1 action failed:\n  //b:bad (Genrule): Generating bld-out/b/bad.txt\nbld: 2 actions:")
}

func TestUseColor(t *testing.T) {
	for _, tc := range []struct {
		terminal bool
		vars     []string
		want     bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, []string{"NO_COLOR=1"}, false},
		{true, []string{"NO_COLOR="}, true}, // set but empty: no-color.org says colour
	} {
		env := &environment{isTerminal: tc.terminal, vars: tc.vars}
		if got := useColor(env); got != tc.want {
			t.Errorf("useColor(terminal=%v, %q) = %v, want %v", tc.terminal, tc.vars, got, tc.want)
		}
	}
}

// A build records how long each action that ran took in
// bld-out/.bld/build_log; a build that restores or finds everything up to
// date leaves the durations as they were.
func TestBuildLogRecordsDurations(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": `genrule(name = "slow", outs = ["slow.txt"], cmd = "sleep 0.3; echo > $@")
genrule(name = "quick", outs = ["quick.txt"], cmd = "echo > $@")
`,
	})
	w.mustBuild("build", "//p:all")
	log := w.read("bld-out/.bld/build_log")
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "# bld build log v1") {
		t.Fatalf("build log:\n%s", log)
	}
	durations := map[string]int{}
	for _, l := range lines[1:] {
		var us int
		var out string
		if _, err := fmt.Sscanf(l, "%d\t%s", &us, &out); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		durations[out] = us
	}
	if d := durations["bld-out/p/slow.txt"]; d < 300_000 || d > 10_000_000 {
		t.Errorf("slow action recorded as %dµs, want about 300000", d)
	}
	if d, ok := durations["bld-out/p/quick.txt"]; !ok || d >= durations["bld-out/p/slow.txt"] {
		t.Errorf("quick action recorded as %dµs (%v)", d, ok)
	}
	// Up to date: nothing ran, the log is not rewritten.
	w.mustBuild("build", "//p:all")
	if got := w.read("bld-out/.bld/build_log"); got != log {
		t.Errorf("a no-op build changed the build log:\n%s", got)
	}
}

// --trace writes a Chrome trace: JSON with the trace-event fields, the
// loading, analysis and execution phases, and one complete event per
// action of the build, up-to-date ones included.
func TestTraceFile(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": `genrule(name = "a", outs = ["a.txt"], cmd = "echo a > $@")
genrule(name = "b", srcs = [":a"], outs = ["b.txt"], cmd = "cat $< > $@")
genrule(name = "c", outs = ["c.txt"], cmd = "echo c > $@")
`,
	})
	type traceEvent struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Ts   *float64       `json:"ts"`
		Dur  float64        `json:"dur"`
		Pid  *int           `json:"pid"`
		Tid  *int           `json:"tid"`
		Args map[string]any `json:"args"`
	}
	check := func(wantPhases []string, wantStatus string) {
		t.Helper()
		var doc struct {
			TraceEvents []traceEvent `json:"traceEvents"`
		}
		if err := json.Unmarshal([]byte(w.read("out/trace.json")), &doc); err != nil {
			t.Fatalf("trace is not JSON: %v", err)
		}
		var phases []string
		actions := map[string]int{}
		for _, e := range doc.TraceEvents {
			if e.Name == "" || e.Ph == "" || e.Ts == nil || e.Pid == nil || e.Tid == nil {
				t.Errorf("event lacks a trace-event field: %+v", e)
			}
			if e.Ph != "X" {
				continue
			}
			if e.Cat == "phase" {
				phases = append(phases, e.Name)
				continue
			}
			if e.Cat != "Genrule" || e.Args["status"] != wantStatus {
				t.Errorf("action event %+v, want a Genrule %s", e, wantStatus)
			}
			actions[e.Args["label"].(string)]++
		}
		if diff := cmp.Diff(wantPhases, phases); diff != "" {
			t.Errorf("phases (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"//p:a": 1, "//p:b": 1, "//p:c": 1}, actions); diff != "" {
			t.Errorf("events per action (-want +got):\n%s", diff)
		}
	}
	w.write("out/", "")
	w.mustBuild("build", "--trace", "out/trace.json", "//p:all")
	check([]string{"starting", "loading", "analysis", "waiting for the workspace lock", "execution"}, "ran")
	w.mustBuild("build", "--trace=out/trace.json", "//p:all")
	check([]string{"starting", "analysis snapshot", "waiting for the workspace lock", "execution"}, "cached")
	if r := w.bld("build", "--trace", "no/such/dir/t.json", "//p:all"); r.code != 2 || !strings.Contains(r.stderr, "--trace") {
		t.Errorf("a trace that cannot be written: want exit 2 naming --trace, got %s", r)
	}

	// --nobuild after an edit: the phases of its analysis, and no action.
	w.write("p/BUILD.star", w.read("p/BUILD.star")+"# edited\n")
	w.mustBuild("build", "--nobuild", "--trace", "out/nobuild.json", "//p:all")
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal([]byte(w.read("out/nobuild.json")), &doc); err != nil {
		t.Fatalf("--nobuild's trace is not JSON: %v", err)
	}
	var phases []string
	for _, e := range doc.TraceEvents {
		switch {
		case e.Ph == "X" && e.Cat == "phase":
			phases = append(phases, e.Name)
		case e.Ph == "X":
			t.Errorf("--nobuild's trace has an action: %+v", e)
		}
	}
	if diff := cmp.Diff([]string{"starting", "analysis (incremental: 1 of 1 packages, 3 of 3 labels)"}, phases); diff != "" {
		t.Errorf("--nobuild's phases (-want +got):\n%s", diff)
	}
}

// --timings writes bld-out/timings.html, whose tables count the actions of
// the build by mnemonic and by target; restored actions count as such.
func TestTimingsReport(t *testing.T) {
	w := newWorkspace(t, aqueryFiles)
	r := w.mustBuild("build", "--timings", "-j", "2", "//app")
	wantContains(t, r.stderr, "bld: timings: "+w.path("bld-out/timings.html")+"\n")
	page := w.read("bld-out/timings.html")
	// The charts' data: the actions' states over time, the pool of 2
	// sampled (when the execution started and ended, at least), and the
	// CPUs' use where /proc/stat is.
	m := regexp.MustCompile(`const D = (.*);\n`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the report has no data")
	}
	var d struct {
		States  [][4]float64
		Pool    int
		Tokens  [][2]float64
		CPUs    int
		CPUNote string
	}
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("the report's data: %v", err)
	}
	if len(d.States) == 0 || d.States[len(d.States)-1] != [4]float64{d.States[len(d.States)-1][0]} || d.Pool != 2 || len(d.Tokens) < 2 {
		t.Errorf("report data: states %v (want some, all done at the end), pool %d (want 2), %d token samples (want 2 or more)", d.States, d.Pool, len(d.Tokens))
	}
	if _, err := os.Stat("/proc/stat"); err == nil && (d.CPUs < 1 || d.CPUNote != "") {
		t.Errorf("report data: %d CPUs, note %q; want the CPU use", d.CPUs, d.CPUNote)
	}
	wantMatch(t, page,
		`<td>CcCompile</td><td>3</td><td>3</td><td>0</td>`,
		`<td>CcLink</td><td>1</td><td>1</td><td>0</td>`,
		`<td>//app:app</td><td>3</td><td>3</td><td>0</td>`,
		`<td>//lib:greet</td><td>2</td><td>2</td><td>0</td>`,
		`<canvas id="gantt">`)
	w.mustBuild("clean")
	w.mustBuild("build", "--timings", "//app")
	wantMatch(t, w.read("bld-out/timings.html"), `<td>CcCompile</td><td>3</td><td>0</td><td>3</td>`)
}

// Compiles of one library that all include a header with a warning (not a
// partitioned unit, real gcc): the warning is printed once, by the first,
// and the build ends with it and the number of compiles that printed it; a
// source's own warning is printed as it is. Restored from the cache, the
// output is merged the same way.
func TestDiagnosticsOnceAcrossCompiles(t *testing.T) {
	files := map[string]string{
		"p/h.h": "#ifndef H_H\n#define H_H\nstatic inline int h(void) { int unused_in_header; return 1; }\n#endif\n",
		"p/BUILD.star": `cc_library(name = "lib", srcs = ["a.c", "b.c", "c.c", "d.c"], hdrs = ["h.h"], copts = ["-Wall"])
`,
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		files["p/"+name+".c"] = fmt.Sprintf("#include \"h.h\"\nint %s(void) { return h(); }\n", name)
	}
	files["p/c.c"] = "#include \"h.h\"\nint c(void) {\n  int unused_in_c;\n  return h();\n}\n"
	w := newWorkspace(t, files)
	check := func(r result, restored string) {
		t.Helper()
		out := r.output()
		if n := strings.Count(out, "int unused_in_header;"); n != 1 {
			t.Errorf("%sthe header's warning is printed %d times, want once:\n%s", restored, n, out)
		}
		if n := strings.Count(out, "unused variable 'unused_in_c'"); n != 1 {
			t.Errorf("%sc.c's own warning is printed %d times, want once:\n%s", restored, n, out)
		}
		wantMatch(t, out,
			`From //p:lib \(CcCompile`+restored+`\): Compiling p/c\.c:\np/c\.c: In function 'c':\np/c\.c:3:7: warning: unused variable 'unused_in_c'`,
			`\nbld: 1 diagnostic printed once, repeated by other actions:\n  p/h\.h:3:\d+: warning: unused variable 'unused_in_header' \[-Wunused-variable\] \(4 actions\)\nbld: \d+ actions: `)
	}
	check(w.mustBuild("build", "-j2", "//p:lib"), "")
	w.mustBuild("clean")
	check(w.mustBuild("build", "-j2", "//p:lib"), ", restored")

	// A failing compile keeps its own error; the header's warning, which
	// every compile prints again after the header's edit, is still printed
	// once, wherever it came first.
	w.write("p/h.h", "#ifndef H_H\n#define H_H\nstatic inline int h(void) { int unused_in_header; return 2; }\n#endif\n")
	w.write("p/e.c", "#include \"h.h\"\nint e(void) { return h() + undeclared_in_e; }\n")
	w.write("p/BUILD.star", `cc_library(name = "lib", srcs = ["a.c", "b.c", "c.c", "d.c", "e.c"], hdrs = ["h.h"], copts = ["-Wall"])
`)
	r := w.bld("build", "-k", "-j2", "//p:lib")
	if r.code != 1 {
		t.Fatalf("want a failed build, got:\n%s", r)
	}
	if n := strings.Count(r.output(), "int unused_in_header;"); n != 1 {
		t.Errorf("the header's warning is printed %d times, want once:\n%s", n, r.output())
	}
	wantMatch(t, r.output(),
		`FAILED: //p:lib \(CcCompile\)\n[^\n]*gcc[^\n]*\nerror: [^\n]*\n(?:[^\n]*\n)*?p/e\.c:2:\d+: error: 'undeclared_in_e' undeclared`,
		`\(5 actions\)\nbld: 1 action failed:\n  //p:lib \(CcCompile\): Compiling p/e\.c\n`)
}
