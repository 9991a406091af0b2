package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

func lbl(pkg, name string) label.Label { return label.Label{Pkg: pkg, Name: name} }

// Changes ties each changed read to the packages that made it and adds
// the packages that depend on them; what it cannot tie to a package means
// analyzing everything.
func TestChanges(t *testing.T) {
	files := map[string]string{
		"WORKSPACE.star": "",
		"defs.star":      "x = 1\n",
		"a/BUILD.star":   "",
		"a/a.c":          "",
		"b/BUILD.star":   "",
		"b/sub/x.h":      "",
		"c/BUILD.star":   "",
		"d/BUILD.star":   "",
		"other.star":     "",
	}
	type change struct {
		name                string
		edit                func(root string)
		changed, dirty      []string
		labels              []string
		full                bool
		env                 map[string]string
		noIndex, wantNoDiff bool
	}
	tests := []change{
		{name: "nothing", edit: func(string) {}, wantNoDiff: true},
		{name: "BUILD.star of a leaf", edit: write("d/BUILD.star", "# x\n"), changed: []string{"d"}, dirty: []string{"d"}, labels: []string{"//d:d"}},
		{name: "BUILD.star others depend on", edit: write("a/BUILD.star", "# x\n"), changed: []string{"a"}, dirty: []string{"a", "b", "c"}, labels: []string{"//a:a", "//b:b", "//c:c"}},
		{name: ".star file loaded by two", edit: write("defs.star", "x = 2\n"), changed: []string{"a", "c"}, dirty: []string{"a", "b", "c"}},
		{name: "glob", edit: write("a/new.c", ""), changed: []string{"a"}, dirty: []string{"a", "b", "c"}},
		{name: "source file disappears", edit: remove("b/sub/x.h"), changed: []string{"b"}, dirty: []string{"b", "c"}, labels: []string{"//b:b", "//b:other", "//c:c"}},
		{name: "package search", edit: write("e/BUILD.star", ""), full: true},
		{name: "file of no package", edit: write("other.star", "y = 1\n"), full: true},
		{name: "environment", edit: func(string) {}, env: map[string]string{"V": "2"}, full: true},
		{name: "no index", edit: write("d/BUILD.star", "# y\n"), noIndex: true, full: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range files {
				write(name, content)(root)
			}
			v := workspace.NewView(root)
			for _, f := range []string{"WORKSPACE.star", "defs.star", "a/BUILD.star", "b/BUILD.star", "c/BUILD.star", "d/BUILD.star", "other.star"} {
				v.ReadFile(f)
			}
			v.Glob("a", []string{"*.c"}, nil)
			v.IsFile("b/sub/x.h")
			v.Packages("")
			s := &Snapshot{Reads: v.Reads(), Env: map[string]EnvValue{"V": {Value: "1", Set: true}}, Index: NewIndex(
				[]Package{
					{Path: "a", Files: []string{"a/BUILD.star", "defs.star"}},
					{Path: "b", Files: []string{"b/BUILD.star"}},
					{Path: "c", Files: []string{"c/BUILD.star", "defs.star"}},
					{Path: "d", Files: []string{"d/BUILD.star"}},
				},
				// b depends on a, c on b; d on nothing. WORKSPACE.star and
				// other.star belong to no package.
				[]Target{
					{Label: lbl("a", "a")},
					{Label: lbl("b", "b"), Children: []label.Label{lbl("a", "a")}, Deps: []string{"a"}},
					{Label: lbl("c", "c"), Children: []label.Label{lbl("b", "b")}, Deps: []string{"b"}},
					{Label: lbl("d", "d")},
					// Of package b too, but no child of b's: not
					// dirty when a changes.
					{Label: lbl("b", "other")},
				}, nil,
			)}
			if s.Index == nil {
				t.Fatal("NewIndex = nil")
			}
			if tt.noIndex {
				s.Index = nil
			}
			tt.edit(root)
			env := map[string]string{"V": "1"}
			if tt.env != nil {
				env = tt.env
			}
			c := s.Changes(root, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if c.None() != tt.wantNoDiff {
				t.Errorf("None = %v", c.None())
			}
			if (c.Full != "") != tt.full {
				t.Errorf("Full = %q, want full: %v", c.Full, tt.full)
			}
			if tt.full {
				return
			}
			if diff := cmp.Diff(tt.changed, c.Changed); diff != "" {
				t.Errorf("Changed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dirty, c.Dirty); diff != "" {
				t.Errorf("Dirty (-want +got):\n%s", diff)
			}
			if tt.labels != nil {
				var got []string
				for l := range c.DirtyLabels {
					got = append(got, l.String())
				}
				slices.Sort(got)
				if diff := cmp.Diff(tt.labels, got); diff != "" {
					t.Errorf("DirtyLabels (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func write(name, content string) func(root string) {
	return func(root string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
}

func remove(name string) func(root string) {
	return func(root string) { os.Remove(filepath.Join(root, filepath.FromSlash(name))) }
}

// Assemble replays analysis order: children first, each label once, goals
// of the roots in root order.
func TestAssemble(t *testing.T) {
	act := func(owner string) *graph.Action {
		return &graph.Action{Owner: owner, Outputs: []string{"bld-out/" + owner}}
	}
	a1, a2, b1, c1, d1 := act("a1"), act("a2"), act("b1"), act("c1"), act("d1")
	analyses := map[label.Label]*Analyzed{
		lbl("p", "a"):     {Children: []label.Label{lbl("q", "b"), lbl("p", "c")}, Actions: []*graph.Action{a1, a2}, Goals: []string{"ga"}},
		lbl("q", "b"):     {Children: []label.Label{lbl("p", "c"), lbl("p", "src.c")}, Packages: []string{"r"}, Actions: []*graph.Action{b1}},
		lbl("p", "c"):     {Actions: []*graph.Action{c1}, Goals: []string{"gc"}},
		lbl("p", "src.c"): {},
		lbl("p", "d"):     {Children: []label.Label{lbl("p", "c")}, Actions: []*graph.Action{d1}, Goals: []string{"gd"}},
	}
	actions, goals, targets, err := Assemble([]label.Label{lbl("p", "a"), lbl("p", "c"), lbl("p", "d")}, func(l label.Label) (*Analyzed, error) {
		return analyses[l], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*graph.Action{c1, b1, a1, a2, d1}, actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ga", "gc", "gd"}, goals); diff != "" {
		t.Errorf("goals (-want +got):\n%s", diff)
	}
	want := []Target{
		{Label: lbl("p", "c"), Actions: 1, Goals: []string{"gc"}},
		{Label: lbl("p", "src.c")},
		{Label: lbl("q", "b"), Children: []label.Label{lbl("p", "c"), lbl("p", "src.c")}, Deps: []string{"p", "r"}, Actions: 1},
		{Label: lbl("p", "a"), Children: []label.Label{lbl("q", "b"), lbl("p", "c")}, Deps: []string{"q"}, Actions: 2, Goals: []string{"ga"}},
		{Label: lbl("p", "d"), Children: []label.Label{lbl("p", "c")}, Actions: 1, Goals: []string{"gd"}},
	}
	if diff := cmp.Diff(want, targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	pkgs := []Package{{Path: "p", Roots: []string{"a", "c", "d"}}, {Path: "q"}, {Path: "r"}}
	x := NewIndex(pkgs, targets, goals)
	if x == nil {
		t.Fatal("NewIndex = nil")
	}
	s := &Snapshot{Actions: actions, Goals: goals, Index: x}
	if diff := cmp.Diff(targets, s.Targets()); diff != "" {
		t.Errorf("Targets (-NewIndex's +got):\n%s", diff)
	}
	if NewIndex(pkgs[:1], targets, goals) != nil {
		t.Error("NewIndex without package q: not nil")
	}
	if NewIndex(pkgs, targets[1:], goals) != nil {
		t.Error("NewIndex without child //p:c: not nil")
	}
	if NewIndex(pkgs, targets, goals[1:]) != nil {
		t.Error("NewIndex with goals that are not the roots': not nil")
	}
	for l, a := range s.Reuse() {
		if diff := cmp.Diff(analyses[l].Actions, a.Actions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Reuse: actions of %s (-want +got):\n%s", l, diff)
		}
	}
}

// A decoded index that does not fit the actions is dropped.
func TestLoadDropsBadIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "analysis")
	s := &Snapshot{Key: "k", Reads: &workspace.Reads{}, Actions: []*graph.Action{{Owner: "//:a", Outputs: []string{"bld-out/a"}}},
		Index: NewIndex([]Package{{Path: ""}}, []Target{{Label: lbl("", "a"), Actions: 2}}, nil)}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, "k")
	if err != nil || got == nil {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if got.Index != nil {
		t.Errorf("an index counting 2 actions of 1 was kept")
	}
}

// NewIndex refuses goals on a target that is not a root, and a root that
// is not a target; an IndexBuilder given the targets in order makes the
// index NewIndex makes, and refuses the same.
func TestIndexRoots(t *testing.T) {
	act := func(owner string) *graph.Action {
		return &graph.Action{Owner: owner, Outputs: []string{"bld-out/" + owner}}
	}
	analyses := map[label.Label]*Analyzed{
		lbl("p", "a"): {Children: []label.Label{lbl("p", "b"), lbl("p", "c")}, Actions: []*graph.Action{act("a")}, Goals: []string{"ga"}},
		lbl("p", "b"): {Children: []label.Label{lbl("p", "c")}, Actions: []*graph.Action{act("b1"), act("b2")}, Goals: []string{"gb"}},
		lbl("p", "c"): {Actions: []*graph.Action{act("c")}, Goals: []string{"gc"}},
	}
	get := func(l label.Label) (*Analyzed, error) { return analyses[l], nil }
	// b is a root visited first as a's child; c is no root: its goals do
	// not count.
	roots := []label.Label{lbl("p", "a"), lbl("p", "b")}
	_, wantGoals, wantTargets, err := Assemble(roots, get)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ga", "gb"}, wantGoals); diff != "" {
		t.Errorf("goals (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name  string
		roots []string
		ok    bool
	}{
		{"the roots", []string{"a", "b"}, true},
		{"goals of b, not a root", []string{"a"}, false},
		{"a root that is not a target", []string{"a", "b", "z"}, false},
	} {
		packages := []Package{{Path: "p", Roots: tc.roots}}
		x := NewIndex(packages, wantTargets, wantGoals)
		if (x != nil) != tc.ok {
			t.Errorf("%s: NewIndex = %v, want an index: %v", tc.name, x, tc.ok)
		}
		b := NewIndexBuilder(1)
		place := map[label.Label]int32{}
		for i, tg := range wantTargets {
			var children []int32
			for _, c := range tg.Children {
				children = append(children, place[c])
			}
			b.Add(tg.Label, tg.Actions, children, nil, tg.Env)
			place[tg.Label] = int32(i)
		}
		built := b.Index(packages, wantGoals, func(l label.Label) ([]string, bool) {
			for _, tg := range wantTargets {
				if tg.Label == l {
					return analyses[l].Goals, true
				}
			}
			return nil, false
		})
		if diff := cmp.Diff(x, built); diff != "" {
			t.Errorf("%s: IndexBuilder's index (-NewIndex's +built):\n%s", tc.name, diff)
		}
	}
}

// An IndexBuilder numbers packages as it first sees them and by path
// only in Index: targets of packages seen out of path order, reading
// other packages (through children and pkgs), give NewIndex's index; a
// package seen that is not among those given refuses the index.
func TestIndexBuilderPackagesSeenOutOfOrder(t *testing.T) {
	packages := []Package{{Path: "a", Roots: []string{"t"}}, {Path: "m"}, {Path: "z", Roots: []string{"t"}}}
	// The order of commit: z's target first, then m's, which z's reads,
	// then a's, whose child is m's and which reads z besides.
	targets := []Target{
		{Label: lbl("z", "t"), Actions: 1, Goals: []string{"gz"}},
		{Label: lbl("m", "t"), Actions: 2, Deps: []string{"z"}},
		{Label: lbl("a", "t"), Actions: 1, Children: []label.Label{lbl("m", "t"), lbl("z", "t")}, Deps: []string{"m", "z"}, Goals: []string{"ga"}},
	}
	goals := []string{"ga", "gz"}
	want := NewIndex(packages, targets, goals)
	if want == nil {
		t.Fatal("NewIndex = nil")
	}
	build := func(packages []Package) *Index {
		b := NewIndexBuilder(1)
		place := map[label.Label]int32{}
		for i, tg := range targets {
			var children []int32
			for _, c := range tg.Children {
				children = append(children, place[c])
			}
			b.Add(tg.Label, tg.Actions, children, tg.Deps, tg.Env)
			place[tg.Label] = int32(i)
		}
		return b.Index(packages, goals, func(l label.Label) ([]string, bool) {
			for _, tg := range targets {
				if tg.Label == l {
					return tg.Goals, true
				}
			}
			return nil, false
		})
	}
	if diff := cmp.Diff(want, build(packages)); diff != "" {
		t.Errorf("IndexBuilder's index (-NewIndex's +built):\n%s", diff)
	}
	if len(want.Deps) < 3 {
		t.Errorf("the index has %d package reads; the test lost its point", len(want.Deps))
	}
	if x := build([]Package{packages[0], packages[2]}); x != nil {
		t.Errorf("IndexBuilder without package m seen: index %v, want nil", x)
	}
}

func TestKeptSourcesExist(t *testing.T) {
	for _, tt := range []struct {
		diff *workspace.Diff
		want bool
	}{
		{nil, true},
		{&workspace.Diff{}, true},
		{&workspace.Diff{Exists: map[string]bool{"p/new.in": true}, Files: map[string]string{"p/BUILD.star": ""}}, true},
		{&workspace.Diff{Exists: map[string]bool{"p/new.in": true, "p/a.in": false}}, false},
	} {
		if got := (&Changes{Diff: tt.diff}).KeptSourcesExist(); got != tt.want {
			t.Errorf("KeptSourcesExist with diff %+v = %v, want %v", tt.diff, got, tt.want)
		}
	}
}
