package analysis

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/workspace"
)

// TestMnemonic is the mnemonic of the actions that run tests.
const TestMnemonic = "TestRunner"

// TestOptions are what bld test's flags say about test runs.
type TestOptions struct {
	// Args go after the target's own args (--test_arg).
	Args []string
	// Env are "NAME=VALUE" entries added to the test's environment
	// (--test_env); they enter the run's key.
	Env []string
	// Filter, if not empty, is given to the test as TESTBRIDGE_TEST_ONLY
	// (--test_filter), for test frameworks that read it.
	Filter string
	// NoCache runs tests even when a passing result is cached
	// (--cache_test_results=no).
	NoCache bool
	// Runs is how many times each test runs (--runs_per_test); 0 means 1.
	Runs int
	// ShowOutput prints the output of passing tests too
	// (--test_output=all); HideFailures not even that of failing ones
	// (--test_output=summary).
	ShowOutput, HideFailures bool
	// Timeout, when positive, is every test's timeout (--test_timeout).
	Timeout time.Duration
}

// Key lists what distinguishes the options for the analysis snapshot.
func (o TestOptions) Key() []string {
	key := []string{fmt.Sprintf("test runs=%d nocache=%v show=%v hide=%v filter=%q timeout=%s", o.Runs, o.NoCache, o.ShowOutput, o.HideFailures, o.Filter, o.Timeout)}
	for _, a := range o.Args {
		key = append(key, "test_arg="+a)
	}
	for _, e := range o.Env {
		key = append(key, "test_env="+e)
	}
	return key
}

// testTimeouts are Bazel's timeouts by the timeout attribute, and by size
// when it is empty.
var testTimeouts = map[string]time.Duration{
	"short": 60 * time.Second, "moderate": 300 * time.Second, "long": 900 * time.Second, "eternal": 3600 * time.Second,
}
var sizeTimeouts = map[string]string{"small": "short", "medium": "moderate", "large": "long", "enormous": "eternal"}

// testScript runs a test in its action: $1 is the stamp to write when it
// passes, the rest the test's argv. The test runs in the exec root (its
// runfiles, data included, at their workspace paths), with a private,
// emptied TEST_TMPDIR, which is removed afterwards (files a test leaves
// anywhere else in the exec root are dropped with it).
const testScript = `stamp=$1; shift
export TEST_SRCDIR="$PWD" TEST_TMPDIR="$PWD/$stamp.tmp"
export HOME="$TEST_TMPDIR"
rm -rf "$TEST_TMPDIR" && mkdir -p "$TEST_TMPDIR" || exit 1
"$@"
status=$?
rm -rf "$TEST_TMPDIR"
[ "$status" -eq 0 ] && : > "$stamp"
exit "$status"
`

// ArgsOf returns the args attribute of an executable target, expanded
// (Configured.Args).
func ArgsOf(c *Configured) []string { return c.Args }

// SuiteTests returns the tests a test_suite target c names: its tests
// attribute, or, when that is empty, every test target of its package
// not tagged manual, in label order. ok is false if c is no test_suite.
func (a *Analyzer) SuiteTests(ctx context.Context, c *Configured) (tests []label.Label, ok bool, err error) {
	t := c.Target
	if !isBuiltinRule(t, "test_suite") {
		return nil, false, nil
	}
	if named := loading.LabelsOf(t.Attr("tests")); len(named) > 0 {
		return named, true, nil
	}
	pkg, err := a.loader.LoadPackage(ctx, t.Label.Pkg)
	if err != nil {
		return nil, true, err
	}
	for _, name := range pkg.TargetNames() {
		if tt := pkg.Targets[name]; tt.Rule.Test && !tt.Manual() {
			tests = append(tests, tt.Label)
		}
	}
	return tests, true, nil
}

// IsTest reports whether c is a test target (a rule with test = True).
func IsTest(c *Configured) bool {
	return c.Target != nil && c.Target.Rule.Test
}

// TestActions adds to the graph the actions that run the test c, one per
// run, and returns their outputs. Each writes a stamp,
// bld-out/<pkg>/<name>.test/run_<n>.passed, when the test exits 0: a
// passing run is cached by everything the test reads (its program, its
// data, args and environment) like any action, and a failing one is not.
// The test's output is the action's output (shown when it fails, kept with
// a cached pass).
func (a *Analyzer) TestActions(c *Configured, opts TestOptions) ([]string, error) {
	t := c.Target
	if c.Executable == nil {
		return nil, fmt.Errorf("%s: test %s has no executable", t.Pos, t.Label)
	}
	exe := c.Executable.Path
	argv0 := exe
	if !strings.Contains(argv0, "/") {
		argv0 = "./" + argv0
	}
	inputs := []string{exe}
	for _, l := range loading.LabelsOf(t.Attr("data")) {
		dep, ok := a.configured(l)
		if !ok {
			return nil, fmt.Errorf("%s: test %s: data %s was not analyzed", t.Pos, t.Label, l)
		}
		for _, f := range dep.Files {
			inputs = append(inputs, f.Path)
		}
		if dep.Executable != nil {
			inputs = append(inputs, dep.Executable.Path)
		}
	}
	args := append(append([]string{}, c.Args...), opts.Args...)
	timeout := stringValue(t.Attr("timeout"))
	if timeout == "" {
		timeout = sizeTimeouts[stringValue(t.Attr("size"))]
	}
	env := append([]string{}, a.actionEnv...)
	env = append(env, "TEST_TARGET="+t.Label.String(), "TEST_WORKSPACE=")
	if opts.Filter != "" {
		env = append(env, "TESTBRIDGE_TEST_ONLY="+opts.Filter)
	}
	env = mergeEnv(env, opts.Env)
	runs := max(opts.Runs, 1)
	dir := path.Join(workspace.OutputDir, t.Label.Pkg, t.Label.Name+".test")
	var outs []string
	for run := 1; run <= runs; run++ {
		stamp := path.Join(dir, fmt.Sprintf("run_%d.passed", run))
		desc := "Testing " + t.Label.String()
		if runs > 1 {
			desc += fmt.Sprintf(" (run %d of %d)", run, runs)
		}
		act := &graph.Action{
			Owner:        t.Label.String(),
			Mnemonic:     TestMnemonic,
			Description:  desc,
			Argv:         append([]string{"/bin/sh", "-c", testScript, "bld-test", stamp, argv0}, args...),
			Env:          env,
			Inputs:       uniqueSorted(inputs),
			Outputs:      []string{stamp},
			NoCache:      opts.NoCache,
			More:         &graph.More{Timeout: cmp.Or(opts.Timeout, testTimeouts[timeout])},
			QuietOutput:  !opts.ShowOutput,
			QuietFailure: opts.HideFailures,
			Test:         true,
		}
		for _, tag := range t.Tags {
			applyRequirement(act, tag)
		}
		act.Edit().ExecProperties = a.config.execProperties(t.ExecProperties)
		if err := a.addAction(act); err != nil {
			return nil, fmt.Errorf("%s: test %s: %v", t.Pos, t.Label, err)
		}
		outs = append(outs, stamp)
	}
	return outs, nil
}

func stringValue(v starlark.Value) string {
	s, _ := v.(starlark.String)
	return string(s)
}

// mergeEnv returns env with extra's entries set (replacing those of the
// same name), sorted by name.
func mergeEnv(env, extra []string) []string {
	m := map[string]string{}
	for _, kv := range append(append([]string{}, env...), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return uniqueSorted(out)
}

func uniqueSorted(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
