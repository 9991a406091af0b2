package main

import (
	"bld/cmd/bld/internal/build"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/status"
	"bld/exec/store"
	"bld/starlark/analysis"
)

var testCommand = &command{
	summary: `build targets and run the tests among them

Builds what the patterns name, as bld build does, and runs each test target
(cc_test, sh_test, or any rule with test = True) in parallel under the same
-j, each in the sandbox, with a timeout from its size or timeout attribute
(small 60 s, medium 300 s, large 900 s, enormous 3600 s). A test passes
when it exits 0; a pass is cached by everything the test reads (its
program, data, args, environment), so an unchanged test is not run again.
Each test gets TEST_TMPDIR (private, emptied), TEST_SRCDIR (its runfiles:
its data files at their workspace paths, the working directory), HOME
(TEST_TMPDIR) and TEST_TARGET. Each test's log and a JUnit test.xml are
written to bld-out/<pkg>/<name>.test/.

Exit status: 0 all tests passed; 3 a test failed or timed out (the build
succeeded); 1 the build failed; 4 the patterns name no test.

flags: those of bld build, and
  --test_output MODE   errors (default): the output of failed tests;
                       all: of every test that ran; summary: none (it is
                       in each test's test.log)
  --test_arg ARG       an argument for every test, after its own args;
                       repeatable
  --test_env NAME[=VALUE]
                       a variable for every test (bld's value, or VALUE);
                       repeatable; it enters the runs' keys
  --test_filter F      given to tests as TESTBRIDGE_TEST_ONLY
  --cache_test_results yes|no
                       no: run tests even when a pass is cached
  --runs_per_test N    run each test N times (a test with passing and
                       failing runs is FLAKY)
  --test_timeout S     every test's timeout, in seconds (default: by its
                       size or timeout attribute)`,
	usage: "bld test [bld build's flags] [--test_output errors|all|summary] [--test_arg ARG] [--test_env NAME[=VALUE]] [--test_filter F] [--cache_test_results yes|no] [--runs_per_test N] [--test_timeout S] PATTERN...",
	run:   runTest,
}

func runTest(ctx context.Context, env *environment, args []string) error {
	var (
		output, filter, cacheResults string
		testArgs, testEnv            stringsFlag
		runs, timeoutSecs            int
	)
	opts := &analysis.TestOptions{}
	results := &testResults{}
	ext := &buildExtension{
		command:  "test",
		observer: results,
		addFlags: func(fs *flag.FlagSet) func() error {
			fs.StringVar(&output, "test_output", "errors", "")
			fs.Var(&testArgs, "test_arg", "")
			fs.Var(&testEnv, "test_env", "")
			fs.StringVar(&filter, "test_filter", "", "")
			fs.StringVar(&cacheResults, "cache_test_results", "yes", "")
			fs.IntVar(&runs, "runs_per_test", 1, "")
			fs.IntVar(&timeoutSecs, "test_timeout", 0, "")
			return func() error {
				switch output {
				case "errors", "all", "summary":
				default:
					return usageError(fmt.Sprintf("--test_output=%s: want errors, all or summary", output))
				}
				switch cacheResults {
				case "yes", "auto", "no":
				default:
					return usageError(fmt.Sprintf("--cache_test_results=%s: want yes or no", cacheResults))
				}
				if runs < 1 {
					return usageError(fmt.Sprintf("--runs_per_test=%d: want at least 1", runs))
				}
				vars, err := actionEnv(env, testEnv)
				if err != nil {
					return err
				}
				// Only the variables --test_env names, with their values.
				for _, kv := range vars {
					name, _, _ := strings.Cut(kv, "=")
					for _, want := range testEnv {
						if n, _, _ := strings.Cut(want, "="); n == name {
							opts.Env = append(opts.Env, kv)
						}
					}
				}
				if timeoutSecs < 0 {
					return usageError(fmt.Sprintf("--test_timeout=%d: want seconds, at least 1", timeoutSecs))
				}
				opts.Timeout = time.Duration(timeoutSecs) * time.Second
				opts.Args, opts.Filter, opts.Runs = testArgs, filter, runs
				opts.NoCache = cacheResults == "no"
				opts.ShowOutput = output == "all"
				opts.HideFailures = output == "summary"
				return nil
			}
		},
	}
	ext.tests = opts
	res, err := doBuild(ctx, env, args, ext)
	if res == nil || ctx.Err() != nil {
		return err // the build stopped before running anything
	}
	tests := results.byTest(res.plan)
	if len(tests) == 0 {
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stderr, "bld: no test targets among the patterns (cc_test, sh_test, or a rule with test = True)")
		return exitCode(exitNoTests)
	}
	summary := printTestSummary(env.stderr, tests)
	for _, t := range tests {
		if werr := t.writeFiles(res.root); werr != nil {
			fmt.Fprintf(env.stderr, "bld: warning: writing the log of %s: %v\n", t.label, werr)
		}
	}
	switch {
	case results.otherFailed():
		return errReported // the build failed: its errors are shown
	case summary.failed > 0:
		return exitCode(exitTestsFailed)
	case err != nil:
		return err
	}
	return nil
}

// testResults collects the results of test runs (an executor.Observer).
type testResults struct {
	mu        sync.Mutex
	runs      map[string][]executor.Result // by label
	otherFail int                          // failed actions that are not test runs
}

func (r *testResults) Planned([]*graph.Action)    {}
func (r *testResults) Started(int, *graph.Action) {}
func (r *testResults) Finished(res executor.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.Action.Mnemonic != analysis.TestMnemonic {
		if res.Status == executor.StatusFailed {
			r.otherFail++
		}
		return
	}
	if r.runs == nil {
		r.runs = map[string][]executor.Result{}
	}
	r.runs[res.Action.Owner] = append(r.runs[res.Action.Owner], res)
}

func (r *testResults) otherFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.otherFail > 0
}

// A testOutcome is what became of one test target.
type testOutcome struct {
	label   string
	status  string // PASSED, FAILED, FLAKY, TIMEOUT, NO STATUS
	cached  bool
	elapsed time.Duration
	runs    []executor.Result
}

// byTest returns the outcome of every test the plan runs, sorted by label;
// a test whose runs never happened (the build failed first) has NO STATUS.
func (r *testResults) byTest(plan *build.Plan) []*testOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	planned := map[string]int{}
	for _, id := range plan.Goals {
		if a := plan.Graph.Actions[id]; a.Mnemonic == analysis.TestMnemonic {
			planned[a.Owner]++
		}
	}
	var out []*testOutcome
	for label := range planned {
		runs := r.runs[label]
		sort.Slice(runs, func(i, j int) bool { return runs[i].Action.Outputs[0] < runs[j].Action.Outputs[0] })
		t := &testOutcome{label: label, runs: runs, status: "NO STATUS", cached: len(runs) > 0}
		passed, failed, timedOut := 0, 0, 0
		for _, run := range runs {
			t.elapsed += run.End.Sub(run.Start)
			switch {
			case run.Status == executor.StatusFailed && errors.Is(run.Err, executor.ErrTimedOut):
				timedOut++
			case run.Status == executor.StatusFailed:
				failed++
			default:
				passed++
			}
			if run.Status == executor.StatusRan || run.Status == executor.StatusFailed {
				t.cached = false
			}
		}
		switch {
		case len(runs) < planned[label]:
		case passed > 0 && failed+timedOut > 0:
			t.status = "FLAKY"
		case timedOut > 0:
			t.status = "TIMEOUT"
		case failed > 0:
			t.status = "FAILED"
		default:
			t.status = "PASSED"
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].label < out[j].label })
	return out
}

type testSummary struct{ passed, failed int }

// printTestSummary prints one line per test, Bazel's way, and the totals.
func printTestSummary(w io.Writer, tests []*testOutcome) testSummary {
	var s testSummary
	width := 0
	for _, t := range tests {
		width = max(width, len(t.label))
	}
	for _, t := range tests {
		status := t.status
		if t.cached && status == "PASSED" {
			status += " (cached)"
		}
		runs := ""
		if len(t.runs) > 1 {
			runs = fmt.Sprintf(", %d runs", len(t.runs))
		}
		fmt.Fprintf(w, "%-*s  %s in %.1fs%s\n", width, t.label, status, t.elapsed.Seconds(), runs)
		if t.status == "PASSED" {
			s.passed++
		} else {
			s.failed++
		}
	}
	if s.failed == 0 {
		fmt.Fprintf(w, "bld: %s passed\n", status.Plural(s.passed, "test"))
	} else {
		fmt.Fprintf(w, "bld: %d of %s did not pass\n", s.failed, status.Plural(len(tests), "test"))
	}
	return s
}

// writeFiles writes the test's test.log (the output of its runs; kept
// from the last run when a cached pass printed nothing new) and a JUnit
// test.xml, in bld-out/<pkg>/<name>.test/.
func (t *testOutcome) writeFiles(root string) error {
	if len(t.runs) == 0 {
		return nil
	}
	dir := filepath.Join(root, filepath.Dir(filepath.FromSlash(t.runs[0].Action.Outputs[0])))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var log strings.Builder
	for i, run := range t.runs {
		if len(t.runs) > 1 {
			fmt.Fprintf(&log, "=== run %d: %s\n", i+1, run.Status)
		}
		log.Write(run.Output)
	}
	if !t.cached || log.Len() > 0 {
		if err := store.WriteFileAtomic(filepath.Join(dir, "test.log"), []byte(log.String()), 0o644); err != nil {
			return err
		}
	}
	data, err := junitXML(t)
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, "test.xml"), data, 0o644)
}

// junitXML renders the outcome in the JUnit XML that CI systems read: one
// testsuite per target, one testcase per run.
func junitXML(t *testOutcome) ([]byte, error) {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	suite := testsuite{Name: t.label, Tests: len(t.runs), Time: fmt.Sprintf("%.3f", t.elapsed.Seconds())}
	for i, run := range t.runs {
		c := testcase{Name: fmt.Sprintf("%s run %d", t.label, i+1), ClassName: t.label,
			Time: fmt.Sprintf("%.3f", run.End.Sub(run.Start).Seconds()), SystemOut: strings.ToValidUTF8(string(run.Output), "?")}
		if run.Status == executor.StatusFailed {
			suite.Failures++
			msg := "failed"
			if run.Err != nil {
				msg = run.Err.Error()
			}
			c.Failure = &failure{Message: msg}
		}
		suite.Cases = append(suite.Cases, c)
	}
	data, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(data, '\n')...), nil
}
