package build

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"weak"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/rules"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// A plan keeps the programs, args and files of the labels analyzed (what
// bld run and bld query read) only when no snapshot is kept: a plan from a
// snapshot has none, so no caller that keeps one may read them.
func TestPlanTargetsWithoutSnapshot(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")
sh_binary(name = "b", srcs = ["b.sh"], args = ["x"])
`,
		"p/b.sh": "#!/bin/sh\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := Layout{Root: root}
	os.MkdirAll(l.StateDir(), 0o755)
	pattern, err := label.ParsePattern("//p:all", "")
	if err != nil {
		t.Fatal(err)
	}
	type targets struct {
		Executables map[string]string
		Args        map[string][]string
		Files       map[string][]string
	}
	for _, tc := range []struct {
		name     string
		snapPath string
		want     targets
	}{
		{"no snapshot", "", targets{
			Executables: map[string]string{"//p:b": "bld-out/p/b"},
			Args:        map[string][]string{"//p:b": {"x"}},
			Files:       map[string][]string{"//p:b": {"bld-out/p/b"}, "//p:g": {"bld-out/p/g.txt"}},
		}},
		{"snapshot", l.AnalysisSnapshot(), targets{}},
	} {
		p, err := Analyze(context.Background(), Request{
			Loader:   loading.New(loading.Options{Root: root, Builtins: rules.Files}),
			Base:     []string{"PATH=/usr/bin:/bin"},
			Patterns: []label.Pattern{pattern},
			Lookup:   func(string) (string, bool) { return "", false },
			SnapPath: tc.snapPath,
			Identity: "test",
			Stderr:   io.Discard,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.Graph.Actions) != 2 {
			t.Errorf("%s: %d actions, want 2", tc.name, len(p.Graph.Actions))
		}
		if diff := cmp.Diff(tc.want, targets{p.Executables, p.Args, p.Files}); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
}

// actionsByOwner groups actions by owner, in order, whether or not a
// group is one run of actions.
func TestActionsByOwner(t *testing.T) {
	act := func(owner, out string) *graph.Action { return &graph.Action{Owner: owner, Outputs: []string{out}} }
	a1, a2, b1, a3, c1 := act("//:a", "1"), act("//:a", "2"), act("//:b", "3"), act("//:a", "4"), act("//:c", "5")
	for _, tc := range []struct {
		name    string
		actions []*graph.Action
		want    map[string][]*graph.Action
	}{
		{"none", nil, map[string][]*graph.Action{}},
		{"runs", []*graph.Action{a1, a2, b1, c1}, map[string][]*graph.Action{"//:a": {a1, a2}, "//:b": {b1}, "//:c": {c1}}},
		{"a split group", []*graph.Action{a1, a2, b1, a3, c1}, map[string][]*graph.Action{"//:a": {a1, a2, a3}, "//:b": {b1}, "//:c": {c1}}},
	} {
		actions := append([]*graph.Action(nil), tc.actions...)
		got := actionsByOwner(tc.actions)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(actions, tc.actions); diff != "" {
			t.Errorf("%s: the actions changed (-before +after):\n%s", tc.name, diff)
		}
	}
}

// A plan from a complete analysis keeps nothing of the analysis alive
// into execution (the loaded packages and targets, the analysis' results
// are garbage once Analyze returns, though the caller keeps the loader),
// and says it was analyzed, so that Execute collects that garbage first;
// a plan from the snapshot does not.
func TestPlanKeepsNoAnalysis(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   `genrule(name = "g", srcs = ["in.txt"], outs = ["g.txt"], cmd = "cat $< > $@")` + "\n",
		"p/in.txt":       "in\n",
	})
	l := Layout{Root: root}
	os.MkdirAll(l.StateDir(), 0o755)
	pattern, err := label.ParsePattern("//...", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		wantAnalyzed bool
	}{
		{"complete analysis", true},
		{"snapshot", false},
	} {
		ld := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		pkg, err := ld.LoadPackage(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		target := weak.Make(pkg.Targets["g"])
		loaded := weak.Make(pkg)
		pkg = nil
		p, err := Analyze(ctx, Request{
			Loader:   ld,
			Base:     []string{"PATH=/usr/bin:/bin"},
			Patterns: []label.Pattern{pattern},
			Lookup:   func(string) (string, bool) { return "", false },
			SnapPath: l.AnalysisSnapshot(),
			Identity: "test",
			Stderr:   io.Discard,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.analyzed != tc.wantAnalyzed {
			t.Errorf("%s: plan.analyzed = %v, want %v", tc.name, p.analyzed, tc.wantAnalyzed)
		}
		runtime.GC()
		// (A plan from the snapshot loads nothing: the loader keeps what
		// it was given.)
		if tc.wantAnalyzed && (target.Value() != nil || loaded.Value() != nil) {
			t.Errorf("%s: the loaded package or its target is still reachable after Analyze (target %v, package %v)", tc.name, target.Value() != nil, loaded.Value() != nil)
		}
		if len(p.Graph.Actions) != 1 {
			t.Errorf("%s: %d actions, want 1", tc.name, len(p.Graph.Actions))
		}
		runtime.KeepAlive(ld)
		runtime.KeepAlive(p)
	}
}
