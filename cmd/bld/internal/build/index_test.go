package build

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// indexWorkspace is incrWorkspace with a target whose actions inherit a
// variable, one that reads another package's file, a label named twice,
// and a target of no actions.
var indexWorkspace = func() map[string]string {
	files := map[string]string{
		"v/BUILD.star": `load("//v:defs.star", "inherit")
inherit(name = "v1")
filegroup(name = "v2", srcs = ["//a:a.in", ":v1"])
genrule(name = "v3", srcs = [":v2", "//c:x.in"], tools = [":v2"], outs = ["v3.txt"], cmd = "cat $(SRCS) > $@")
`,
		"v/defs.star": `def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.run_shell(outputs = [out], command = "echo $HOME > " + out.path, env_inherit = ["HOME", "USER"])
    return [DefaultInfo(files = depset([out]))]
inherit = rule(implementation = _impl)
`,
	}
	for name, content := range incrWorkspace {
		files[name] = content
	}
	return files
}()

// TestNewIndexIsReplayIndex checks that the index made from the analysis'
// commit order is the one a replay of the analysis makes, for several
// patterns.
func TestNewIndexIsReplayIndex(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, indexWorkspace)
	for _, patterns := range [][]string{
		{"//..."},
		{"//d:d2"},
		{"//a:all", "//v/..."},
		{"//v:v3", "//b:b1"},
		{"//e/..."},
	} {
		var ps []label.Pattern
		for _, s := range patterns {
			p, err := label.ParsePattern(s, "")
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		ctx := context.Background()
		loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		labels, err := loader.ExpandKeepGoing(ctx, ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		an := analysis.New(loader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, []string{"HOME=/home/x"})
		an.Prepare(ctx, labels)
		var goals []string
		for _, l := range labels {
			c, err := an.Analyze(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			goals = append(goals, goalsOf(c)...)
		}
		actions := an.Actions()
		got := newIndex(ctx, loader, an, ps, labels, actions, goals, nil)
		want := replayIndex(ctx, loader, an, ps, labels, actions, goals)
		if got == nil || want == nil {
			t.Fatalf("%v: newIndex gave %v, the replay %v; want both", patterns, got != nil, want != nil)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: newIndex differs from the replay's (-replay +new):\n%s", patterns, diff)
		}
		// An analysis that releases packages as it goes gives the same
		// index, the released packages' entries made at their release.
		rloader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		rlabels, err := rloader.ExpandKeepGoing(ctx, ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		ran := analysis.New(rloader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, []string{"HOME=/home/x"})
		released := newReleasedIndex(rloader, ps)
		ran.ReleasePackages(released.add)
		ran.Prepare(ctx, rlabels)
		var rgoals []string
		for _, l := range rlabels {
			c, err := ran.Analyze(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			rgoals = append(rgoals, goalsOf(c)...)
		}
		if diff := cmp.Diff(got, newIndex(ctx, rloader, ran, ps, rlabels, ran.Actions(), rgoals, released)); diff != "" {
			t.Errorf("%v: the index of an analysis that releases packages differs (-keeping +releasing):\n%s", patterns, diff)
		}
		// Collected as the analysis goes (PrepareCollect), the results
		// give the same actions, goals and index.
		sloader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		slabels, err := sloader.ExpandKeepGoing(ctx, ps, nil)
		if err != nil {
			t.Fatal(err)
		}
		san := analysis.New(sloader, analysis.Config{}, []string{"PATH=/usr/bin:/bin"}, []string{"HOME=/home/x"})
		sreleased := newReleasedIndex(sloader, ps)
		san.ReleasePackages(sreleased.add)
		streamed := newStreamedIndex(len(slabels))
		rs := &rootResults{}
		n := san.PrepareCollect(ctx, slabels, analysis.Collector{
			Committed: streamed.committed(),
			Root:      func(i int, c *analysis.Configured) { rs.add(slabels[i], c) },
		})
		if n != len(slabels) {
			t.Fatalf("%v: PrepareCollect collected %d of %d labels", patterns, n, len(slabels))
		}
		if diff := cmp.Diff(actions, san.Actions()); diff != "" {
			t.Errorf("%v: actions collected as the analysis went (-Analyze's +collected):\n%s", patterns, diff)
		}
		if diff := cmp.Diff(goals, rs.goals); diff != "" {
			t.Errorf("%v: goals collected as the analysis went (-Analyze's +collected):\n%s", patterns, diff)
		}
		if diff := cmp.Diff(got, streamed.index(ctx, sloader, ps, slabels, rs, sreleased)); diff != "" {
			t.Errorf("%v: the index made as the analysis went differs (-newIndex +streamed):\n%s", patterns, diff)
		}
		if len(released.pkgs) == 0 && patterns[0] == "//..." {
			t.Errorf("%v: no package released; the test lost its point", patterns)
		}
		if len(got.Env) == 0 && patterns[0] == "//..." {
			t.Errorf("%v: no target inherits a variable; the test lost its point", patterns)
		}
		// Actions not in the analysis' order, or not all of them, are
		// refused.
		swapped := slices.Clone(actions)
		swapped[0], swapped[len(swapped)-1] = swapped[len(swapped)-1], swapped[0]
		if swapped[0].Owner != swapped[len(swapped)-1].Owner && newIndex(ctx, loader, an, ps, labels, swapped, goals, nil) != nil {
			t.Errorf("%v: newIndex of the first and last actions swapped is not nil", patterns)
		}
		if newIndex(ctx, loader, an, ps, labels, actions[:len(actions)-1], goals, nil) != nil {
			t.Errorf("%v: newIndex of all actions but the last is not nil", patterns)
		}
		if newIndex(ctx, loader, an, ps, labels, actions, append(goals, "bld-out/x"), nil) != nil {
			t.Errorf("%v: newIndex of one goal more is not nil", patterns)
		}
	}
}
