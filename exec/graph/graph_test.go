package graph

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func act(owner string, inputs, outputs []string) *Action {
	return &Action{Owner: owner, Mnemonic: "Test", Argv: []string{"true"}, Inputs: inputs, Outputs: outputs}
}

func sources(paths ...string) SourceChecker {
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	return func(p string) bool { return set[p] }
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		actions []*Action
		src     SourceChecker
		want    []string // substrings of the error, in order
		cycle   bool
	}{
		{
			name: "duplicate output names both owners",
			actions: []*Action{
				act("//a:x", nil, []string{"bld-out/a/x.o"}),
				act("//b:y", nil, []string{"bld-out/a/x.o"}),
			},
			want: []string{"output bld-out/a/x.o is declared by two actions", "//a:x", "//b:y"},
		},
		{
			name: "missing input",
			actions: []*Action{
				act("//a:x", []string{"a/x.c", "a/gone.c"}, []string{"bld-out/a/x.o"}),
			},
			src:  sources("a/x.c"),
			want: []string{"missing input file a/gone.c, needed by //a:x"},
		},
		{
			name: "no outputs",
			actions: []*Action{
				act("//a:x", nil, nil),
			},
			want: []string{"//a:x: action Test declares no outputs"},
		},
		{
			name: "cycle printed as a chain",
			actions: []*Action{
				act("//c:a", []string{"bld-out/b"}, []string{"bld-out/a"}),
				act("//c:b", []string{"bld-out/c"}, []string{"bld-out/b"}),
				act("//c:c", []string{"bld-out/a"}, []string{"bld-out/c"}),
			},
			want: []string{
				"dependency cycle among actions:",
				"//c:a (Test bld-out/a)",
				" -> //c:b (Test bld-out/b)",
				" -> //c:c (Test bld-out/c)",
			},
			cycle: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.actions, tt.src)
			if err == nil {
				t.Fatalf("New succeeded with %d actions; want an error", len(g.Actions))
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
			if got := errors.Is(err, ErrCycle); got != tt.cycle {
				t.Errorf("errors.Is(err, ErrCycle) = %v, want %v", got, tt.cycle)
			}
		})
	}
}

func TestNewReportsAllProblems(t *testing.T) {
	_, err := New([]*Action{
		act("//a:x", []string{"nope.c"}, []string{"o"}),
		act("//a:y", nil, []string{"o"}),
	}, sources())
	var ge *Error
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if len(ge.Problems) != 2 {
		t.Errorf("got %d problems, want 2: %q", len(ge.Problems), ge.Problems)
	}
}

func TestNewValid(t *testing.T) {
	// gen -> hdr; a.o and b.o read hdr; link reads a.o and b.o (and a.o twice
	// through two inputs of the same producer).
	actions := []*Action{
		act("//p:gen", nil, []string{"bld-out/p/gen.h"}),
		act("//p:a", []string{"bld-out/p/gen.h", "p/a.c"}, []string{"bld-out/p/a.o"}),
		act("//p:b", []string{"bld-out/p/gen.h", "p/b.c"}, []string{"bld-out/p/b.o"}),
		act("//p:bin", []string{"bld-out/p/a.o", "bld-out/p/b.o"}, []string{"bld-out/p/bin", "bld-out/p/bin.map"}),
		act("//p:strip", []string{"bld-out/p/bin", "bld-out/p/bin.map"}, []string{"bld-out/p/bin.stripped"}),
	}
	g, err := New(actions, sources("p/a.c", "p/b.c"))
	if err != nil {
		t.Fatal(err)
	}
	wantDeps := [][]int{nil, {0}, {0}, {1, 2}, {3}}
	wantDependents := [][]int{{1, 2}, {3}, {3}, {4}, nil}
	if diff := cmp.Diff(wantDeps, g.Deps); diff != "" {
		t.Errorf("Deps mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDependents, g.Dependents); diff != "" {
		t.Errorf("Dependents mismatch (-want +got):\n%s", diff)
	}
	for path, want := range map[string]int{"bld-out/p/bin.map": 3, "bld-out/p/a.o": 1} {
		if id, ok := g.Producer(path); !ok || id != want {
			t.Errorf("Producer(%s) = %d, %v; want %d, true", path, id, ok, want)
		}
	}
	if _, ok := g.Producer("p/a.c"); ok {
		t.Errorf("Producer(p/a.c) found a producer for a source file")
	}
}

func TestNewNilSourceChecker(t *testing.T) {
	if _, err := New([]*Action{act("//a:x", []string{"whatever.c"}, []string{"o"})}, nil); err != nil {
		t.Errorf("New with nil SourceChecker: %v", err)
	}
}
