package graph

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

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

// TestNewEdges: an action's Deps are sorted and unique whatever the order
// of its inputs and whether they are Inputs or Discoverable, and appending
// to one action's Deps or Dependents leaves the others' alone (they share
// an array).
func TestNewEdges(t *testing.T) {
	top := act("//p:top", []string{"bld-out/c", "bld-out/b2", "bld-out/a"}, []string{"bld-out/top"})
	top.Edit().Discoverable = []string{"bld-out/b1", "p/h.h"}
	actions := []*Action{
		act("//p:a", nil, []string{"bld-out/a"}),
		act("//p:b", nil, []string{"bld-out/b1", "bld-out/b2"}),
		act("//p:c", []string{"bld-out/a"}, []string{"bld-out/c"}),
		top,
		act("//p:d", []string{"bld-out/a", "bld-out/c"}, []string{"bld-out/d"}),
	}
	g, err := New(actions, sources("p/h.h"))
	if err != nil {
		t.Fatal(err)
	}
	wantDeps := [][]int{nil, nil, {0}, {0, 1, 2}, {0, 2}}
	wantDependents := [][]int{{2, 3, 4}, {3}, {3, 4}, nil, nil}
	if diff := cmp.Diff(wantDeps, g.Deps); diff != "" {
		t.Errorf("Deps mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDependents, g.Dependents); diff != "" {
		t.Errorf("Dependents mismatch (-want +got):\n%s", diff)
	}
	_ = append(g.Deps[2], 99)
	_ = append(g.Dependents[0], 99)
	_ = append(g.Dependents[1], 99)
	if diff := cmp.Diff(wantDeps, g.Deps); diff != "" {
		t.Errorf("Deps changed by an append to one of them (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDependents, g.Dependents); diff != "" {
		t.Errorf("Dependents changed by an append to one of them (-want +got):\n%s", diff)
	}
}

// TestInputProducer checks that each input's producer, in AllInputs'
// order, is what Producer says of its path, and that an index past the
// inputs has none.
func TestInputProducer(t *testing.T) {
	top := act("//p:top", []string{"bld-out/c", "p/s.c", "bld-out/b2", "bld-out/a"}, []string{"bld-out/top"})
	top.Edit().Discoverable = []string{"bld-out/b1", "p/h.h"}
	actions := []*Action{
		act("//p:a", nil, []string{"bld-out/a"}),
		act("//p:b", []string{"p/s.c"}, []string{"bld-out/b1", "bld-out/b2"}),
		act("//p:c", []string{"bld-out/a"}, []string{"bld-out/c"}),
		top,
	}
	g, err := New(actions, sources("p/h.h", "p/s.c"))
	if err != nil {
		t.Fatal(err)
	}
	type producer struct {
		ID int
		OK bool
	}
	want := [][]producer{
		nil,
		{{0, false}},
		{{0, true}},
		{{2, true}, {0, false}, {1, true}, {0, true}, {1, true}, {0, false}},
	}
	for id, a := range actions {
		var got []producer
		for k, in := range a.AllInputs() {
			p, ok := g.InputProducer(id, k)
			got = append(got, producer{p, ok})
			if wp, wok := g.Producer(in); wok != ok || ok && wp != p {
				t.Errorf("action %d input %d (%s): InputProducer = %d, %v; Producer = %d, %v", id, k, in, p, ok, wp, wok)
			}
		}
		if diff := cmp.Diff(want[id], got); diff != "" {
			t.Errorf("action %d: producers mismatch (-want +got):\n%s", id, diff)
		}
		if _, ok := g.InputProducer(id, len(a.AllInputs())); ok {
			t.Errorf("action %d: InputProducer past its inputs has a producer", id)
		}
		if _, ok := g.InputProducer(id, -1); ok {
			t.Errorf("action %d: InputProducer(-1) has a producer", id)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	// bench/gen's layered shape: 100 layers of 1000, each action reading
	// two outputs of the layer before.
	const n = 100000
	actions := make([]*Action, n)
	for i := range actions {
		var in []string
		if i >= 1000 {
			in = []string{fmt.Sprintf("bld-out/t%d", i-1000), fmt.Sprintf("bld-out/t%d", i-999)}
		} else {
			in = []string{fmt.Sprintf("src/%d", i)}
		}
		actions[i] = act("//p:t", in, []string{fmt.Sprintf("bld-out/t%d", i)})
	}
	exists := func(string) bool { return true }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(actions, exists); err != nil {
			b.Fatal(err)
		}
	}
}

// layered100k returns bench/gen's layered shape at 100,000 actions (100
// layers of 1000, each action reading two outputs of the layer before),
// each input the very string of its producer's output, as a decoded
// snapshot has them.
func layered100k() []*Action {
	const n = 100000
	actions := make([]*Action, n)
	for i := range actions {
		var in []string
		if i >= 1000 {
			in = []string{actions[i-1000].Outputs[0], actions[i-999].Outputs[0]}
		} else {
			in = []string{fmt.Sprintf("src/%d", i)}
		}
		actions[i] = act("//p:t", in, []string{fmt.Sprintf("bld-out/t%d", i)})
	}
	return actions
}

func BenchmarkNewShared(b *testing.B) {
	actions := layered100k()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(actions, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromEdges(b *testing.B) {
	actions := layered100k()
	g, err := New(actions, nil)
	if err != nil {
		b.Fatal(err)
	}
	edges := g.Edges()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromEdges(actions, edges); err != nil {
			b.Fatal(err)
		}
	}
}

// TestActionSize checks that an Action fits the allocator's 176-byte size
// class: a build keeps one for every action (100,000 of them at the
// scale bld is measured at), so a field more, or a bool out of the flags'
// run, costs its size times that.
func TestActionSize(t *testing.T) {
	if got := unsafe.Sizeof(Action{}); got > 176 {
		t.Errorf("an Action takes %d bytes, want at most 176", got)
	}
}

// TestMore checks that an action without More reads the zero values, that
// Edit makes one, and that SetMore keeps none for the zero More.
func TestMore(t *testing.T) {
	a := &Action{Owner: "//p:a"}
	if a.Depfile() != "" || a.Timeout() != 0 || a.Content() != nil || a.Discoverable() != nil || a.ExecProperties() != nil ||
		a.Group() != "" || a.Hint() != "" || a.Pipeline() != "" || a.Stage() != "" || a.JobserverStyle() != "" || a.StageID() != "" {
		t.Errorf("an action without More reads %+v, want zero values", *a.more())
	}
	a.Edit().Stage = "train"
	a.Edit().Pipeline = "//p:pgo"
	if a.More == nil || a.Stage() != "train" || a.StageID() != "//p:pgo train" {
		t.Errorf("after Edit: More %+v, StageID %q", a.More, a.StageID())
	}
	if noMore.Stage != "" {
		t.Errorf("Edit wrote the shared empty More: %+v", noMore)
	}
	a.SetMore(More{})
	if a.More != nil {
		t.Errorf("SetMore(More{}) kept %+v, want nil", a.More)
	}
	a.SetMore(More{Content: []byte{}})
	if a.More == nil || a.Content() == nil {
		t.Errorf("SetMore with an empty, non-nil Content dropped it: %+v", a.More)
	}
}

// TestFieldsDigestCoversKey changes each field of an action in turn: one
// its key covers must change FieldsDigest (an action's key is a function
// of everything it reads and runs: a field left out would reuse the result
// of another command), one it does not must leave it. Every field of
// Action and More is in one list or the other, so a new field fails here
// until it is placed.
func TestFieldsDigestCoversKey(t *testing.T) {
	run := func() *Action {
		return &Action{
			Owner: "//p:a", Mnemonic: "Genrule", Description: "making a",
			Argv: []string{"sh", "-c", "cat $1"}, Env: []string{"A=1", "PATH=/bin"},
			Inputs: []string{"p/a.c", "p/b.h"}, Outputs: []string{"bld-out/p/a.o", "bld-out/p/a.d"},
			More: &More{Discoverable: []string{"p/c.h"}, Depfile: "bld-out/p/a.d",
				ExecProperties: map[string]string{"OSFamily": "linux", "pool": "big"},
				JobserverStyle: "fifo", Timeout: time.Second, Group: "g", Hint: "h", Pipeline: "//p:pgo", Stage: "train"},
		}
	}
	write := func() *Action {
		return &Action{Owner: "//p:w", Mnemonic: "FileWrite", Outputs: []string{"bld-out/p/w"},
			More: &More{Content: []byte("hello\n")}}
	}
	keyed := map[string]func(a *Action){
		"Argv":    func(a *Action) { a.Argv = []string{"sh", "-c", "cat $2"} },
		"Argv+":   func(a *Action) { a.Argv = append(a.Argv, "x") },
		"Argv/":   func(a *Action) { a.Argv = []string{"sh", "-c cat", "$1"} }, // same bytes, other split
		"Env":     func(a *Action) { a.Env = []string{"A=2", "PATH=/bin"} },
		"Inputs":  func(a *Action) { a.Inputs = []string{"p/a.c"} },
		"Outputs": func(a *Action) { a.Outputs = []string{"bld-out/p/a.o", "bld-out/p/b.d"} },
		"Content": func(a *Action) { a.Edit().Content = []byte("hello") },
		"Discoverable": func(a *Action) {
			a.Edit().Discoverable = []string{"p/c.h", "p/d.h"}
		},
		"Depfile":        func(a *Action) { a.Edit().Depfile = "" },
		"ExecProperties": func(a *Action) { a.Edit().ExecProperties = map[string]string{"OSFamily": "linux", "pool": "small"} },
		"Executable":     func(a *Action) { a.Executable = true }, // of a write action
		"InputsToDiscoverable": func(a *Action) {
			a.Inputs = []string{"p/a.c"}
			a.Edit().Discoverable = []string{"p/b.h", "p/c.h"}
		},
	}
	unkeyed := map[string]func(a *Action){
		"Owner": func(a *Action) { a.Owner = "//q:a" }, "Mnemonic": func(a *Action) { a.Mnemonic = "X" },
		"Description": func(a *Action) { a.Description = "" }, "Jobserver": func(a *Action) { a.Jobserver = true },
		// NoSandbox is in the cache's part of the key (exec/cache's
		// descDigest), as are the tool and its programs.
		"NoSandbox": func(a *Action) { a.NoSandbox = true },
		"NoCache":   func(a *Action) { a.NoCache = true }, "Test": func(a *Action) { a.Test = true },
		"QuietOutput": func(a *Action) { a.QuietOutput = true }, "QuietFailure": func(a *Action) { a.QuietFailure = true },
		"AllowDaemon": func(a *Action) { a.AllowDaemon = true }, "NoRemoteExec": func(a *Action) { a.NoRemoteExec = true },
		"NoRemoteCache": func(a *Action) { a.NoRemoteCache = true }, "Serial": func(a *Action) { a.Serial = true },
		"JobserverStyle": func(a *Action) { a.Edit().JobserverStyle = "pipe" },
		"Timeout":        func(a *Action) { a.Edit().Timeout = time.Minute },
		"Group":          func(a *Action) { a.Edit().Group = "" }, "Hint": func(a *Action) { a.Edit().Hint = "" },
		"Pipeline": func(a *Action) { a.Edit().Pipeline = "" }, "Stage": func(a *Action) { a.Edit().Stage = "" },
	}
	for name, change := range keyed {
		base := run
		if name == "Content" || name == "Executable" {
			base = write
		}
		a, b := base(), base()
		change(b)
		if a.FieldsDigest() == b.FieldsDigest() {
			t.Errorf("changing %s left FieldsDigest unchanged", name)
		}
	}
	for name, change := range unkeyed {
		a, b := run(), run()
		change(b)
		if a.FieldsDigest() != b.FieldsDigest() {
			t.Errorf("changing %s, which the key does not cover here, changed FieldsDigest", name)
		}
	}
	if run().FieldsDigest() != run().FieldsDigest() || write().FieldsDigest() != write().FieldsDigest() {
		t.Error("FieldsDigest differs between equal actions")
	}
	// A write action and a command are never confused.
	if (&Action{Outputs: []string{"o"}}).FieldsDigest() == (&Action{Argv: []string{"true"}, Outputs: []string{"o"}}).FieldsDigest() {
		t.Error("a write of nothing and the command true have one FieldsDigest")
	}
	// Every field is placed.
	for _, typ := range []reflect.Type{reflect.TypeOf(Action{}), reflect.TypeOf(More{})} {
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			if name == "More" {
				continue
			}
			if keyed[name] == nil && unkeyed[name] == nil {
				t.Errorf("field %s.%s is in neither list: decide whether FieldsDigest covers it", typ.Name(), name)
			}
		}
	}
}

// TestUseKeptDigests: a graph takes the digest kept for an action only
// for that very action at that index; one replaced (an incremental
// analysis' new action) or moved is hashed.
func TestUseKeptDigests(t *testing.T) {
	a := &Action{Argv: []string{"touch", "a"}, Outputs: []string{"a"}}
	b := &Action{Argv: []string{"touch", "b"}, Outputs: []string{"b"}}
	b2 := &Action{Argv: []string{"touch", "b", "again"}, Outputs: []string{"b"}}
	marker := [32]byte{1, 2, 3} // not any action's digest: shows where the kept one is used
	kept := KeptDigests{Actions: []*Action{a, b}, Digests: [][32]byte{marker, b.FieldsDigest()}}

	g, err := New([]*Action{a, b2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.UseKeptDigests(kept)
	if got := g.FieldsDigest(0); got != marker {
		t.Errorf("action 0, kept: FieldsDigest = %x, want the kept %x", got[:4], marker[:4])
	}
	if got := g.FieldsDigest(1); got != b2.FieldsDigest() {
		t.Errorf("action 1, replaced: FieldsDigest = %x, want b2's own", got[:4])
	}
	moved, err := New([]*Action{b, a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved.UseKeptDigests(kept)
	if moved.FieldsDigest(1) != a.FieldsDigest() || moved.FieldsDigest(0) != b.FieldsDigest() {
		t.Error("actions at other indices took kept digests")
	}
	// A patch's digests replace the base's at their indices.
	other := [32]byte{9}
	same, err := New([]*Action{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	same.UseKeptDigests(KeptDigests{Actions: kept.Actions, Digests: kept.Digests, Replaced: map[int][32]byte{1: other}})
	if same.FieldsDigest(0) != marker || same.FieldsDigest(1) != other {
		t.Error("a replaced digest was not taken, or the base's was not")
	}
	none, _ := New([]*Action{a}, nil)
	none.UseKeptDigests(KeptDigests{Actions: []*Action{a}}) // no digests: ignored
	if none.FieldsDigest(0) != a.FieldsDigest() {
		t.Error("a graph with digests missing did not hash")
	}
}

// TestFromEdges: a graph made from New's Edges is New's (edges both ways,
// each input's producer, the output map made at its first use), and
// edges that do not fit the actions are an error, never a graph.
func TestFromEdges(t *testing.T) {
	build := func() []*Action {
		a := act("//p:a", []string{"p/a.in"}, []string{"bld-out/a1", "bld-out/a2"})
		b := act("//p:b", []string{"bld-out/a2", "p/b.in", "bld-out/a1"}, []string{"bld-out/b1"})
		c := act("//p:c", nil, []string{"bld-out/c"})
		top := act("//p:top", []string{"bld-out/c", "bld-out/a1"}, []string{"bld-out/top"})
		top.Edit().Discoverable = []string{"bld-out/b1", "p/h.h"}
		return []*Action{a, b, c, top}
	}
	actions := build()
	want, err := New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	edges := want.Edges()
	if !slices.Equal(edges, []int32{-1, 0, -1, 0, 2, 0, 1, -1}) {
		t.Fatalf("Edges() = %v", edges)
	}
	g, err := FromEdges(actions, edges)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Deps, g.Deps); diff != "" {
		t.Errorf("Deps (-New +FromEdges):\n%s", diff)
	}
	if diff := cmp.Diff(want.Dependents, g.Dependents); diff != "" {
		t.Errorf("Dependents (-New +FromEdges):\n%s", diff)
	}
	for id, a := range actions {
		for k := range a.AllInputs() {
			p1, ok1 := want.InputProducer(id, k)
			p2, ok2 := g.InputProducer(id, k)
			if p1 != p2 || ok1 != ok2 {
				t.Errorf("InputProducer(%d, %d) = %d, %v; New's %d, %v", id, k, p2, ok2, p1, ok1)
			}
		}
	}
	for _, path := range []string{"bld-out/a1", "bld-out/a2", "bld-out/b1", "bld-out/c", "bld-out/top", "p/a.in"} {
		p1, ok1 := want.Producer(path)
		p2, ok2 := g.Producer(path)
		if p1 != p2 || ok1 != ok2 {
			t.Errorf("Producer(%s) = %d, %v; New's %d, %v", path, p2, ok2, p1, ok1)
		}
	}

	bad := func(i int, v int32) []int32 {
		e := slices.Clone(edges)
		e[i] = v
		return e
	}
	for _, tc := range []struct {
		name  string
		edges []int32
	}{
		{"one short", edges[:len(edges)-1]},
		{"one more", append(slices.Clone(edges), -1)},
		{"a producer out of range", bad(1, 4)},
		{"a negative producer", bad(1, -2)},
		{"a producer that does not declare the input", bad(3, 2)},
		{"an action its own producer", bad(4, 3)},
	} {
		if g, err := FromEdges(build(), tc.edges); err == nil {
			t.Errorf("%s: FromEdges gave a graph (deps %v), want an error", tc.name, g.Deps)
		}
	}
	// A cycle: each reads the other's output.
	x := act("//p:x", []string{"bld-out/y"}, []string{"bld-out/x"})
	y := act("//p:y", []string{"bld-out/x"}, []string{"bld-out/y"})
	if _, err := FromEdges([]*Action{x, y}, []int32{1, 0}); err == nil {
		t.Error("FromEdges of a cycle gave a graph, want an error")
	}
	if _, err := FromEdges([]*Action{act("//p:n", nil, nil)}, nil); err == nil {
		t.Error("FromEdges of an action without outputs gave a graph, want an error")
	}
}
