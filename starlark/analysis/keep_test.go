package analysis

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/rules"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// TestWhatAnAnalysisKeeps checks what an analysis keeps of each target to
// its end: the providers a target returned, but not a DefaultInfo that its
// files and executable say all of (made again when asked for), and no
// channel for an entry that no goroutine waited for.
func TestWhatAnAnalysisKeeps(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"WORKSPACE.star": "",
		"p/a.txt":        "a",
		"p/defs.star": `P = provider(fields = ["x"])
def _p(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(output = out, content = "x")
    return [P(x = 1), DefaultInfo(files = [out])]
withp = rule(implementation = _p)
def _nonexe(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.write(output = out, content = "x")
    return [DefaultInfo(files = [out], executable = None)]
nonexe = rule(implementation = _nonexe)
`,
		"p/BUILD.star": `load(":defs.star", "nonexe", "withp")
genrule(name = "gen", srcs = ["a.txt"], outs = ["gen.txt"], cmd = "cat $< > $@")
withp(name = "withp")
nonexe(name = "nonexe")
genrule(name = "top", srcs = [":gen", "gen.txt", ":withp", ":nonexe"], outs = ["top.txt"], cmd = "cat $(SRCS) > $@")
`,
	}
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type kept struct {
		Providers []string // kept in Providers
		Implicit  bool     // DefaultInfo made when asked for
		Waiters   bool
	}
	want := map[string]kept{
		"//p:a.txt":   {Implicit: true},
		"//p:gen":     {Implicit: true},
		"//p:gen.txt": {Implicit: true},
		"//p:withp":   {Providers: []string{"P"}, Implicit: true},
		"//p:nonexe":  {Providers: []string{"DefaultInfo"}}, // executable = None is not what files say
		"//p:top":     {Implicit: true},
	}
	for _, workers := range []int{1, 2} {
		loader := loading.New(loading.Options{Root: root, Builtins: rules.Files})
		a := New(loader, Config{}, []string{"PATH=/usr/bin:/bin"}, nil)
		a.SetWorkers(workers)
		top := label.Label{Pkg: "p", Name: "top"}
		a.Prepare(context.Background(), []label.Label{top})
		if _, err := a.Analyze(context.Background(), top); err != nil {
			t.Fatal(err)
		}
		got := map[string]kept{}
		for l, e := range a.st.entries {
			if e.c == nil {
				t.Fatalf("%s: not analyzed", l)
			}
			var k kept
			for p := range e.c.Providers {
				k.Providers = append(k.Providers, p.Name())
			}
			sort.Strings(k.Providers)
			k.Implicit = e.c.implicitDefault
			k.Waiters = e.waiters != nil && workers == 1
			got[l.String()] = k
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("workers %d: what the analysis keeps (-want +got):\n%s", workers, diff)
		}
	}
}
