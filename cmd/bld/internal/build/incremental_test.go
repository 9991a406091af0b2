package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bld/exec/executor"
	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/exec/status"
	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/snapshot"
)

// incrWorkspace is the workspace of TestIncremental: a .star file with a
// macro and a rule passing a provider, loaded by a and b (not c); d
// depends on b and c, b on a; c globs its sources; e declares an output
// file that a names by its label; m is manual.
var incrWorkspace = map[string]string{
	"WORKSPACE.star": "",
	"tools/defs.star": `MsgInfo = provider(fields = ["msg"])
def _say_impl(ctx):
    msg = ctx.attr.msg
    for d in ctx.attr.deps:
        msg += "+" + d[MsgInfo].msg
    out = ctx.actions.declare_file(ctx.label.name + ".msg")
    ctx.actions.write(out, msg + "\n")
    return [DefaultInfo(files = depset([out])), MsgInfo(msg = msg)]
say = rule(implementation = _say_impl, attrs = {"msg": attr.string(), "deps": attr.label_list()})
def shout(name, msg):
    native.genrule(name = name, outs = [name + ".txt"], cmd = "echo " + msg + " > $@")
`,
	"a/BUILD.star": `load("//tools:defs.star", "say", "shout")
shout("a1", "hi")
say(name = "a2", msg = "a")
genrule(name = "a3", srcs = [":a1", "a.in", "//e:e1.txt"], outs = ["a3.txt"], cmd = "cat $(SRCS) > $@")
`,
	"a/a.in": "a\n",
	"b/BUILD.star": `load("//tools:defs.star", "say")
say(name = "b1", msg = "b", deps = ["//a:a2"])
genrule(name = "b2", srcs = ["//a:a3"], outs = ["b2.txt"], cmd = "cp $< $@")
`,
	"c/BUILD.star": `genrule(name = "c1", srcs = glob(["*.in"]), outs = ["c1.txt"], cmd = "cat $(SRCS) > $@")
`,
	"c/x.in": "x\n",
	"d/BUILD.star": `load("//tools:defs.star", "say")
say(name = "d1", msg = "d", deps = ["//b:b1"])
genrule(name = "d2", srcs = ["//b:b2", "//c:c1"], outs = ["d2.txt"], cmd = "cat $(SRCS) > $@")
`,
	"e/BUILD.star": `genrule(name = "e1", outs = ["e1.txt"], cmd = "echo e > $@")
`,
	"e/sub/BUILD.star": `genrule(name = "f", outs = ["f.txt"], cmd = "echo f > $@")
`,
	"m/BUILD.star": `genrule(name = "m1", srcs = ["//d:d2"], outs = ["m1.txt"], cmd = "cp $< $@", tags = ["manual"])
`,
}

func writeWorkspace(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIncremental edits a workspace step by step; after each step an
// analysis that reuses the snapshot must give exactly the action graph and
// goals of a complete analysis, and the snapshot it saves must index the
// same targets as a complete analysis's; the phase says how many packages
// were analyzed again.
//
// It runs with one worker (analysis one target at a time) and with four
// (Prepare analyzes the targets in parallel): either way, a complete
// analysis saves an index (replaying its records gives back its actions
// and goals) and the later steps are incremental.
func TestIncremental(t *testing.T) {
	for _, procs := range []int{1, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			// analysis.New's workers are GOMAXPROCS.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			testIncremental(t)
		})
	}
}

func testIncremental(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, incrWorkspace)
	l := Layout{Root: root}
	os.MkdirAll(l.StateDir(), 0o755)
	full := filepath.Join(t.TempDir(), "full-snapshot")
	// whole goes through the same analyses as l.AnalysisSnapshot(), its
	// snapshots encoded whole rather than patched.
	whole := filepath.Join(t.TempDir(), "whole-snapshot")
	patches := 0

	tests := []struct {
		name     string
		patterns []string
		edit     func()
		phase    string // "" for an error
		errLike  string
	}{
		{name: "first", phase: "analysis", edit: func() {}},
		{name: "nothing changed", phase: "analysis snapshot", edit: func() {}},
		{name: "comment in a package others depend on", phase: "analysis (incremental: 2 of 7 packages, 3 of 13 labels)",
			edit: func() { appendFile(t, root, "c/BUILD.star", "# a comment\n") }},
		{name: "provider value changed", phase: "analysis (incremental: 3 of 7 packages",
			edit: func() { replaceIn(t, root, "a/BUILD.star", `msg = "a"`, `msg = "A"`) }},
		{name: "command changed", phase: "analysis (incremental: 2 of 7 packages",
			edit: func() { replaceIn(t, root, "c/BUILD.star", "cat $(SRCS)", "cat $(SRCS) $(SRCS)") }},
		{name: "glob matches another file", phase: "analysis (incremental: 2 of 7 packages",
			edit: func() { writeWorkspace(t, root, map[string]string{"c/y.in": "y\n"}) }},
		{name: "target added", phase: "analysis (incremental: 3 of 7 packages",
			edit: func() { appendFile(t, root, "a/BUILD.star", "say(name = \"a4\", msg = \"new\", deps = [\":a2\"])\n") }},
		{name: ".star file loaded by two of three packages", phase: "analysis (incremental: 3 of 7 packages",
			edit: func() { replaceIn(t, root, "tools/defs.star", `"+" + d[MsgInfo].msg`, `"/" + d[MsgInfo].msg`) }},
		{name: "package with no dependents", phase: "analysis (incremental: 1 of 7 packages",
			edit: func() { replaceIn(t, root, "d/BUILD.star", `msg = "d"`, `msg = "dd"`) }},
		{name: "new dependency on a package analyzed before", phase: "analysis (incremental: 1 of 7 packages",
			edit: func() { replaceIn(t, root, "d/BUILD.star", `deps = ["//b:b1"]`, `deps = ["//b:b1", "//a:a4"]`) }},
		{name: "dependency on the manual package", phase: "analysis (incremental: 4 of 7 packages",
			edit: func() {
				appendFile(t, root, "e/BUILD.star", `genrule(name = "e2", srcs = ["//m:m1"], outs = ["e2.txt"], cmd = "cp $< $@")`+"\n")
			}},
		{name: "dependency removed", phase: "analysis (incremental: 5 of 7 packages",
			edit: func() { replaceIn(t, root, "a/BUILD.star", `"//e:e1.txt"`, ``) }},
		{name: "manual package changed", phase: "analysis (incremental: 2 of 7 packages",
			edit: func() { replaceIn(t, root, "m/BUILD.star", "cp $<", "cat $<") }},
		{name: "analysis error", errLike: "no target or file",
			edit: func() { replaceIn(t, root, "c/BUILD.star", `glob(["*.in"])`, `glob(["*.in"]) + ["nothere.in"]`) }},
		{name: "error fixed", phase: "analysis (incremental: 4 of 7 packages",
			edit: func() {
				replaceIn(t, root, "c/BUILD.star", `glob(["*.in"]) + ["nothere.in"]`, `glob(["*.in"], exclude = ["none"])`)
			}},
		{name: "source file disappears", errLike: "no target or file",
			edit: func() { os.Remove(filepath.Join(root, "a/a.in")) }},
		{name: "source file back", phase: "analysis snapshot",
			edit: func() {
				writeWorkspace(t, root, map[string]string{"a/a.in": "other content: not a read of analysis\n"})
			}},
		{name: "output in conflict with another package's", errLike: "is a directory of output",
			edit: func() {
				appendFile(t, root, "e/BUILD.star", `genrule(name = "e3", outs = ["sub"], cmd = "echo > $@")`+"\n")
			}},
		{name: "conflict resolved", phase: "analysis (incremental: 1 of 7 packages",
			edit: func() { replaceIn(t, root, "e/BUILD.star", `outs = ["sub"]`, `outs = ["sub2"]`) }},
		{name: "package deleted", phase: "analysis", edit: func() {
			os.Remove(filepath.Join(root, "m/BUILD.star"))
			replaceIn(t, root, "e/BUILD.star", `"//m:m1"`, `"//c:c1"`)
		}},
		{name: "package added", phase: "analysis", edit: func() {
			writeWorkspace(t, root, map[string]string{"f/BUILD.star": `genrule(name = "f1", srcs = ["//c:c1"], outs = ["f1.txt"], cmd = "cp $< $@")` + "\n"})
		}},
		{name: "after a complete analysis", phase: "analysis (incremental: 4 of 7 packages",
			edit: func() { appendFile(t, root, "c/BUILD.star", "# another comment\n") }},
		{name: "other patterns", patterns: []string{"//d:d2", "//a:all"}, phase: "analysis", edit: func() {}},
		{name: "a package below the patterns' changes", patterns: []string{"//d:d2", "//a:all"}, phase: "analysis (incremental: 2 of 4 packages",
			edit: func() { appendFile(t, root, "c/BUILD.star", "# a third comment\n") }},
		{name: "a package the patterns name changes", patterns: []string{"//d:d2", "//a:all"}, phase: "analysis (incremental: 3 of 4 packages",
			edit: func() {
				appendFile(t, root, "a/BUILD.star", `genrule(name = "a5", outs = ["a5.txt"], cmd = "echo > $@", tags = ["manual"])`+"\n")
			}},
		{name: "visibility through a package_group", phase: "analysis", edit: func() {
			writeWorkspace(t, root, map[string]string{"v/BUILD.star": `package_group(name = "grp", packages = ["//b"])` + "\n"})
			replaceIn(t, root, "a/BUILD.star", `say(name = "a2", msg = "A")`, `say(name = "a2", msg = "A", visibility = ["//v:grp"])`)
		}},
		{name: "the package_group no longer admits b", errLike: "not visible",
			edit: func() { replaceIn(t, root, "v/BUILD.star", `"//b"`, `"//c"`) }},
		{name: "the package_group admits b again", phase: "analysis (incremental: 3 of 8 packages, 3 of 18 labels)",
			edit: func() { replaceIn(t, root, "v/BUILD.star", `"//c"]`, `"//c", "//b"]`) }},
		{name: "an empty package", phase: "analysis",
			edit: func() { writeWorkspace(t, root, map[string]string{"x/BUILD.star": "# nothing yet\n"}) }},
		{name: "a target in the empty package", phase: "analysis (incremental: 1 of 9 packages, 0 of 18 labels)",
			edit: func() {
				appendFile(t, root, "x/BUILD.star", `genrule(name = "x1", outs = ["x1.txt"], cmd = "echo > $@")`+"\n")
			}},
	}
	for _, tt := range tests {
		tt.edit()
		patterns := tt.patterns
		if patterns == nil {
			patterns = []string{"//..."}
		}
		got, phases, err := analyzeForTest(t, root, patterns, l.AnalysisSnapshot())
		want, _, wantErr := analyzeForTest(t, root, patterns, "")
		if _, _, err := analyzeWith(t, root, patterns, whole, true); (err == nil) != (wantErr == nil) {
			t.Fatalf("%s: with whole snapshots: %v; complete analysis: %v", tt.name, err, wantErr)
		}
		// A patched snapshot loads as the whole one.
		if _, err := os.Stat(whole); err == nil {
			// (Encoded whole, the same snapshot gives the same bytes.)
			a, _ := os.ReadFile(whole)
			b, _ := os.ReadFile(l.AnalysisSnapshot())
			if !bytes.Equal(a, b) {
				patches++
			}
			if diff := cmp.Diff(loadAny(t, whole), loadAny(t, l.AnalysisSnapshot())); diff != "" {
				t.Errorf("%s: the patched snapshot differs from the whole one (-whole +patched):\n%s", tt.name, diff)
			}
		}
		if tt.phase == "analysis" {
			// A complete analysis: the save-time replay of its records
			// must have succeeded, or no later build is incremental.
			if s := loadAny(t, l.AnalysisSnapshot()); s.Index == nil {
				t.Fatalf("%s: a complete analysis saved no index", tt.name)
			}
		}
		if tt.phase == "" {
			if err == nil || wantErr == nil || !strings.Contains(err.Error(), tt.errLike) {
				t.Fatalf("%s: error %v, complete analysis's %v; want one like %q", tt.name, err, wantErr, tt.errLike)
			}
			if err.Error() != wantErr.Error() {
				t.Errorf("%s: error %q, a complete analysis's %q", tt.name, err, wantErr)
			}
			continue
		}
		if err != nil || wantErr != nil {
			t.Fatalf("%s: %v; complete analysis: %v", tt.name, err, wantErr)
		}
		if len(phases) == 0 || !phaseIs(phases[len(phases)-1], tt.phase) {
			t.Errorf("%s: phases %q, want last %q", tt.name, phases, tt.phase)
		}
		if diff := cmp.Diff(want.Graph.Actions, got.Graph.Actions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: actions differ from a complete analysis's (-complete +incremental):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(goalPaths(want), goalPaths(got)); diff != "" {
			t.Errorf("%s: goals differ from a complete analysis's (-complete +incremental):\n%s", tt.name, diff)
		}
		if tt.phase != "analysis" {
			checkPlanStats(t, tt.name, root, got)
		}
		// The snapshot saved indexes the targets as a complete
		// analysis's does.
		os.Remove(full)
		if _, _, err := analyzeForTest(t, root, patterns, full); err != nil {
			t.Fatal(err)
		}
		saved, fresh := loadAny(t, l.AnalysisSnapshot()), loadAny(t, full)
		if saved.Index == nil || fresh.Index == nil {
			t.Fatalf("%s: no index (incremental %v, complete %v)", tt.name, saved.Index != nil, fresh.Index != nil)
		}
		if diff := cmp.Diff(fresh.Targets(), saved.Targets(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: index targets differ (-complete +incremental):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(fresh.Actions, saved.Actions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: saved actions differ (-complete +incremental):\n%s", tt.name, diff)
		}
	}
	if patches == 0 {
		t.Error("no snapshot was saved as a patch")
	}
}

// phaseIs reports whether phase is want, or begins with want for an
// incremental analysis ("analysis (incremental: 2 of 7 packages", then the
// labels).
func phaseIs(phase, want string) bool {
	if strings.Contains(want, "incremental") && !strings.HasSuffix(want, ")") {
		return strings.HasPrefix(phase, want+",")
	}
	return phase == want
}

func goalPaths(p *Plan) []string {
	var out []string
	for _, id := range p.Goals {
		out = append(out, p.Graph.Actions[id].Outputs...)
	}
	return out
}

func analyzeForTest(t *testing.T, root string, patterns []string, snapPath string) (*Plan, []string, error) {
	t.Helper()
	return analyzeWith(t, root, patterns, snapPath, false)
}

// analyzeWith is analyzeForTest; with whole, an incremental analysis
// encodes its snapshot whole rather than as a patch.
func analyzeWith(t *testing.T, root string, patterns []string, snapPath string, whole bool) (*Plan, []string, error) {
	t.Helper()
	var ps []label.Pattern
	for _, s := range patterns {
		p, err := label.ParsePattern(s, "")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	var ph Phases
	p, err := Analyze(context.Background(), Request{
		Loader:   loading.New(loading.Options{Root: root, Builtins: rules.Files}),
		Config:   analysis.Config{},
		Base:     []string{"PATH=/usr/bin:/bin"},
		Patterns: ps,
		Lookup:   func(string) (string, bool) { return "", false },
		SnapPath: snapPath,
		Phases:   &ph,
		Identity: "test",
		Stderr:   io.Discard,

		wholeSnapshots: whole,
	})
	var names []string
	for _, p := range ph.List {
		names = append(names, p.Name)
	}
	return p, names, err
}

// loadAny loads the snapshot at path whatever its key.
func loadAny(t *testing.T, path string) *snapshot.Snapshot {
	t.Helper()
	s, err := snapshot.LoadAny(path)
	if err != nil || s == nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return s
}

func appendFile(t *testing.T, root, name, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, root, name, old, new string) {
	t.Helper()
	p := filepath.Join(root, name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

var _ = graph.Action{}

// checkPlanStats checks that a plan from a snapshot, reused or patched,
// hands the build the stats its staleness check took: a/a.in (an input
// since the first analysis) among them, each as the file is, and no
// output of the graph.
func checkPlanStats(t *testing.T, name, root string, p *Plan) {
	t.Helper()
	if _, ok := p.Stats.Lookup("a/a.in"); !ok {
		t.Errorf("%s: the plan's stats (%d) do not hold a/a.in", name, p.Stats.Len())
	}
	for _, a := range p.Graph.Actions {
		for _, in := range a.AllInputs() {
			st, ok := p.Stats.Lookup(in)
			if _, isOut := p.Graph.Producer(in); isOut && ok {
				t.Errorf("%s: the plan's stats hold the output %s", name, in)
			}
			if !ok {
				continue
			}
			fi, err := os.Stat(filepath.Join(root, in))
			if err != nil || filestat.Of(fi) != st {
				t.Errorf("%s: the plan's stat of %s is %+v, the file's %+v (%v)", name, in, st, fi, err)
			}
		}
	}
}

// TestIncrementalSaveLater checks an incremental analysis that saves its
// snapshot later (Request.SaveLater) while the plan's actions run (under
// -race: the executor and the save share the actions and the snapshot it
// started from): the file is byte for byte the one saved at once, and the
// next build reuses it. A build killed before its save (the save never
// runs) leaves the snapshot before its edit: the next build finds the edit
// and plans what the workspace says now, never the killed build's plan nor
// the one before it.
func TestIncrementalSaveLater(t *testing.T) {
	files := map[string]string{"WORKSPACE.star": ""}
	for i := range 4 {
		files[fmt.Sprintf("p%d/BUILD.star", i)] = fmt.Sprintf(`genrule(name = "g", outs = ["g.txt"], cmd = "echo %d > $@")`+"\n", i)
	}
	pattern, err := label.ParsePattern("//...", "")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		plan   *Plan
		phases []string
	}
	analyze := func(root string, later bool) result {
		t.Helper()
		l := Layout{Root: root}
		var ph Phases
		p, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.Phases = &ph
			r.SaveLater = later
		}))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ph.List {
			names = append(names, p.Name)
		}
		return result{p, names}
	}
	execute := func(root string, p *Plan) {
		t.Helper()
		l := Layout{Root: root}
		out, err := Execute(context.Background(), p, ExecOptions{
			Layout: l, CacheDir: filepath.Join(root, "cache"), Tokens: executor.NewSemaphore(2),
			Observer: status.Multi(),
		})
		if err != nil || out.RunErr != nil {
			t.Fatalf("executing: %v, %v", err, out.RunErr)
		}
		if err := p.WaitSaved(); err != nil {
			t.Fatalf("WaitSaved: %v", err)
		}
	}
	incremental := func(phases []string) bool {
		return len(phases) == 1 && strings.HasPrefix(phases[0], "analysis (incremental: 1 of 4 packages")
	}
	// Two copies of the workspace: one saves at once, one later.
	now, later := t.TempDir(), t.TempDir()
	for _, root := range []string{now, later} {
		writeWorkspace(t, root, files)
		os.MkdirAll(Layout{Root: root}.StateDir(), 0o755)
		r := analyze(root, root == later)
		execute(root, r.plan)
	}
	// A comment, then a command changed: each an incremental analysis
	// whose snapshot is a patch.
	for _, edit := range []string{
		files["p1/BUILD.star"] + "# a comment\n",
		`genrule(name = "g", outs = ["g.txt"], cmd = "echo one > $@")` + "\n",
	} {
		var saved [][]byte
		for _, root := range []string{now, later} {
			writeWorkspace(t, root, map[string]string{"p1/BUILD.star": edit})
			r := analyze(root, root == later)
			if !incremental(r.phases) {
				t.Fatalf("after an edit of p1: phases %v, want an incremental analysis of p1", r.phases)
			}
			if root == now {
				if err := r.plan.WaitSaved(); err != nil {
					t.Fatalf("WaitSaved without SaveLater: %v", err)
				}
			} else {
				execute(root, r.plan)
			}
			data, err := os.ReadFile(Layout{Root: root}.AnalysisSnapshot())
			if err != nil {
				t.Fatal(err)
			}
			saved = append(saved, data)
		}
		if !bytes.Equal(saved[0], saved[1]) {
			t.Fatalf("after an edit of p1, the snapshot saved while the actions ran differs from the one saved before them")
		}
		if r := analyze(later, true); len(r.phases) != 1 || r.phases[0] != "analysis snapshot" {
			t.Errorf("the build after the edit: phases %v, want the snapshot", r.phases)
		}
	}
	// Killed before its save: the analysis of an edit whose save never
	// starts (no Execute, no WaitSaved).
	before, err := os.ReadFile(Layout{Root: later}.AnalysisSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	writeWorkspace(t, later, map[string]string{"p1/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo two > $@")` + "\n"})
	if r := analyze(later, true); !incremental(r.phases) {
		t.Fatalf("after an edit of p1: phases %v, want an incremental analysis of p1", r.phases)
	}
	if after, err := os.ReadFile(Layout{Root: later}.AnalysisSnapshot()); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the snapshot changed before its save was let go (%v)", err)
	}
	writeWorkspace(t, later, map[string]string{"p1/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo three > $@")` + "\n"})
	r := analyze(later, true)
	if !incremental(r.phases) {
		t.Errorf("after a build killed before its save: phases %v, want an incremental analysis of p1", r.phases)
	}
	var cmds []string
	for _, a := range r.plan.Graph.Actions {
		cmds = append(cmds, a.Argv[len(a.Argv)-1])
	}
	if got := strings.Join(cmds, "\n"); !strings.Contains(got, "echo three") || strings.Contains(got, "echo two") || strings.Contains(got, "echo one") {
		t.Errorf("after a build killed before its save: commands %q, want p1's echo three", cmds)
	}
	execute(later, r.plan)
	if r := analyze(later, true); len(r.phases) != 1 || r.phases[0] != "analysis snapshot" {
		t.Errorf("the build after: phases %v, want the snapshot", r.phases)
	}
}

// TestNewPatchedPlan: a patched graph checks the sources of the actions
// replaced, never of those kept (their sources exist, KeptSourcesExist),
// and reports a missing one as NewPlan does.
func TestNewPatchedPlan(t *testing.T) {
	act := func(owner, out string, inputs ...string) *graph.Action {
		return &graph.Action{Owner: owner, Mnemonic: "Genrule", Argv: []string{"true"}, Inputs: inputs, Outputs: []string{out}}
	}
	kept := []*graph.Action{
		act("//p:a", "bld-out/p/a.txt", "p/a.in"),
		act("//p:b", "bld-out/p/b.txt", "p/b.in", "bld-out/p/a.txt"),
		act("//q:c", "bld-out/q/c.txt", "q/c.in"),
	}
	goals := []string{"bld-out/p/b.txt", "bld-out/q/c.txt"}
	var asked []string
	exists := map[string]bool{"p/a.in": true, "p/b.in": true, "p/b2.in": true}
	isFile := func(p string) bool { asked = append(asked, p); return exists[p] }

	base, err := NewPlan(kept, goals, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := &snapshot.Snapshot{Actions: kept, Goals: goals, Links: base.links()}

	// b replaced by one reading another source: only that is asked about
	// (q/c.in, kept, would be missing); the links do not hold for it.
	actions := slices.Clone(kept)
	actions[1] = act("//p:b", "bld-out/p/b.txt", "p/b2.in", "bld-out/p/a.txt")
	plan, err := newPatchedPlan(actions, goals, snap, isFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"p/b2.in"}) {
		t.Errorf("asked about %q, want only the replaced action's source p/b2.in", asked)
	}
	if !slices.Equal(plan.Graph.Deps[1], []int{0}) || !slices.Equal(plan.Goals, []int{1, 2}) {
		t.Errorf("deps of b %v, goals %v", plan.Graph.Deps[1], plan.Goals)
	}

	// b replaced by one with another command, reading and writing what
	// it did: the graph is made from the snapshot's links (the goals
	// kept there, here made to differ from what NewPlan finds, are the
	// plan's), and b's sources are still checked.
	asked = nil
	actions[1] = act("//p:b", "bld-out/p/b.txt", "p/b.in", "bld-out/p/a.txt")
	actions[1].Argv = []string{"false"}
	linked := *snap
	linked.Links = &snapshot.Links{Edges: snap.Links.Edges, Goals: []int32{2}}
	plan, err = newPatchedPlan(actions, goals, &linked, isFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"p/b.in"}) || !slices.Equal(plan.Graph.Deps[1], []int{0}) || !slices.Equal(plan.Goals, []int{2}) {
		t.Errorf("from the links: asked about %q, deps of b %v, goals %v; want p/b.in, [0], [2]", asked, plan.Graph.Deps[1], plan.Goals)
	}
	// Edges that do not fit the actions (b's input said to be c's
	// output) are not used: NewPlan links by path.
	linked.Links = &snapshot.Links{Edges: []int32{-1, -1, 2, -1}, Goals: []int32{2}}
	if plan, err = newPatchedPlan(actions, goals, &linked, isFile); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Graph.Deps[1], []int{0}) || !slices.Equal(plan.Goals, []int{1, 2}) {
		t.Errorf("from links that do not fit: deps of b %v, goals %v; want [0], [1 2]", plan.Graph.Deps[1], plan.Goals)
	}

	// The replaced action's source is missing: NewPlan's error.
	actions[1] = act("//p:b", "bld-out/p/b.txt", "p/gone.in", "bld-out/p/a.txt")
	_, err = newPatchedPlan(actions, goals, snap, isFile)
	if err == nil || !strings.Contains(err.Error(), "missing input file p/gone.in, needed by //p:b") {
		t.Errorf("got %v, want the missing input p/gone.in reported", err)
	}
}
