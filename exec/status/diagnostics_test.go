package status

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Output of gcc 14 compiling two unity partitions that both include
// shared.h, and a tool's own line.
const (
	partition0 = `In file included from ./lib/f00.c:1,
                 from bld-out/lib/_objs/lib/partition_c_0.c:2:
./lib/shared.h: In function 'scale':
./lib/shared.h:3:38: warning: unused variable 'u' [-Wunused-variable]
    3 | static inline int scale(int x) { int u; return 3 * x; }
      |                                      ^
In file included from bld-out/lib/_objs/lib/partition_c_0.c:3:
./lib/f05.c: In function 'f05':
./lib/f05.c:3:7: warning: unused variable 'v' [-Wunused-variable]
    3 |   int v;
      |       ^
`
	partition1 = `tool: starting
In file included from ./lib/f02.c:1,
                 from bld-out/lib/_objs/lib/partition_c_1.c:2:
./lib/shared.h: In function 'scale':
./lib/shared.h:3:38: warning: unused variable 'u' [-Wunused-variable]
    3 | static inline int scale(int x) { int u; return 3 * x; }
      |                                      ^
`
)

func TestSplitUnitsKeepsEveryByte(t *testing.T) {
	for _, out := range []string{partition0, partition1, "no newline at end", "", "a\n\nb\n", "In file included from x.c:1:\n"} {
		var b bytes.Buffer
		for _, u := range splitUnits([]byte(out)) {
			b.Write(u.text)
		}
		if b.String() != out {
			t.Errorf("units of %q join to %q", out, b.String())
		}
	}
}

func TestMergeOutputs(t *testing.T) {
	got := new(shownDiagnostics).merge([][]byte{[]byte(partition0), []byte(partition1)}, nil, "2 actions of //lib:lib partitions")
	want0 := partition0[:len(partition0)-len(`In file included from bld-out/lib/_objs/lib/partition_c_0.c:3:
./lib/f05.c: In function 'f05':
./lib/f05.c:3:7: warning: unused variable 'v' [-Wunused-variable]
    3 |   int v;
      |       ^
`)] + "[bld: the warning above was printed by 2 of 2 actions of //lib:lib partitions; shown once]\n" + `In file included from bld-out/lib/_objs/lib/partition_c_0.c:3:
./lib/f05.c: In function 'f05':
./lib/f05.c:3:7: warning: unused variable 'v' [-Wunused-variable]
    3 |   int v;
      |       ^
`
	if diff := cmp.Diff([]string{want0, "tool: starting\n"}, []string{string(got[0]), string(got[1])}); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

func TestClashes(t *testing.T) {
	out := `In file included from bld-out/lib/_objs/lib/partition_c_0.c:3:
./lib/b.c:1:12: error: redefinition of 'helper'
    1 | static int helper(void) { return 20; }
      |            ^~~~~~
In file included from bld-out/lib/_objs/lib/partition_c_0.c:2:
./lib/a.c:1:12: note: previous definition of 'helper' with type 'int(void)'
    1 | static int helper(void) { return 1; }
      |            ^~~~~~
In file included from bld-out/lib/_objs/lib/partition_c_0.c:3:
./lib/b.c:2: warning: "LIMIT" redefined
    2 | #define LIMIT 2
In file included from bld-out/lib/_objs/lib/partition_c_0.c:2:
./lib/a.c:2: note: this is the location of the previous definition
    2 | #define LIMIT 1
./lib/b.c:5:5: error: redefinition of 'shared'
./lib/shared.h:1:5: note: previous definition of 'shared'
`
	sources := []string{"bld-out/lib/_objs/lib/partition_c_0.c", "lib/a.c", "lib/b.c"}
	want := []string{"'helper' is defined in both lib/a.c and lib/b.c", "macro 'LIMIT' is defined in both lib/a.c and lib/b.c"}
	if diff := cmp.Diff(want, clashes([]byte(out), sources)); diff != "" {
		t.Errorf("clashes (-want +got):\n%s", diff)
	}
}

// A header's warning, as each of several compiles prints it: the context
// names the including source, different in each.
func headerWarning(includer string) string {
	return "In file included from " + includer + ":1:\n" +
		"p/h.h:3:7: warning: unused variable 'x' [-Wunused-variable]\n" +
		"    3 |   int x;\n" +
		"      |       ^\n"
}

// Across calls (a group, then single actions), a diagnostic printed before
// is left out, counted, and listed at the end with the number of actions
// that held it; text that is not a diagnostic is never left out; an output
// with nothing left out is returned as it is.
func TestMergeAcrossActions(t *testing.T) {
	var s shownDiagnostics
	group := s.merge([][]byte{[]byte(headerWarning("p/a.c")), []byte(headerWarning("p/b.c"))}, nil, "2 actions of g")
	own := "p/c.c:9:1: warning: no newline at end of file\n"
	plain := []byte("tool: starting\n")
	single := s.merge([][]byte{[]byte("tool: starting\n" + headerWarning("p/c.c") + own)}, nil, "")
	again := s.merge([][]byte{plain}, nil, "")
	var end bytes.Buffer
	s.writeRepeated(&end)
	got := []string{string(group[0]), string(group[1]), string(single[0]), string(again[0]), end.String()}
	want := []string{
		headerWarning("p/a.c") + "[bld: the warning above was printed by 2 of 2 actions of g; shown once]\n",
		"",
		"tool: starting\n" + own,
		"tool: starting\n",
		"bld: 1 diagnostic printed once, repeated by other actions:\n" +
			"  p/h.h:3:7: warning: unused variable 'x' [-Wunused-variable] (3 actions)\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if &again[0][0] != &plain[0] {
		t.Errorf("an output with nothing left out was copied")
	}
}

// A failing action's errors stay in its block even when printed before; a
// warning repeated in it goes. Repeated errors kept are not counted as
// printed once.
func TestMergeKeepsErrorsOfFailures(t *testing.T) {
	var s shownDiagnostics
	headerError := "In file included from p/a.c:1:\np/h.h:9:1: error: expected ';' before '}' token\n"
	first := s.merge([][]byte{[]byte(headerWarning("p/a.c") + headerError)}, []bool{true}, "")
	second := s.merge([][]byte{[]byte(headerWarning("p/b.c") + headerError + "p/b.c:2:3: error: 'y' undeclared\n")}, []bool{true}, "")
	passing := s.merge([][]byte{[]byte(headerError)}, []bool{false}, "")
	var end bytes.Buffer
	s.writeRepeated(&end)
	got := []string{string(first[0]), string(second[0]), string(passing[0]), end.String()}
	want := []string{
		headerWarning("p/a.c") + headerError,
		headerError + "p/b.c:2:3: error: 'y' undeclared\n",
		"",
		"bld: 2 diagnostics printed once, repeated by other actions:\n" +
			"  p/h.h:3:7: warning: unused variable 'x' [-Wunused-variable] (2 actions)\n" +
			"  p/h.h:9:1: error: expected ';' before '}' token (2 actions)\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

// The list at the end of a build is bounded.
func TestWriteRepeatedBounded(t *testing.T) {
	var s shownDiagnostics
	for range 2 {
		for i := range maxRepeatedListed + 3 {
			s.merge([][]byte{fmt.Appendf(nil, "p/a.c:%d:1: warning: w\n", i+1)}, nil, "")
		}
	}
	var end bytes.Buffer
	s.writeRepeated(&end)
	lines := strings.Split(strings.TrimSuffix(end.String(), "\n"), "\n")
	if len(lines) != maxRepeatedListed+2 || lines[0] != "bld: 13 diagnostics printed once, repeated by other actions:" || lines[len(lines)-1] != "  ... and 3 more" {
		t.Errorf("list:\n%s", end.String())
	}
}

// Lines that look like diagnostics but name no file and line (a linker's or
// a tool's own messages) are printed by every action that prints them.
func TestMergeLeavesOtherTextAlone(t *testing.T) {
	var s shownDiagnostics
	out := "ld: warning: creating DT_TEXTREL in a PIE\ncc1: note: unrecognized command-line option\nmake: *** [all] Error 2\n"
	got := [][]byte{}
	for range 2 {
		got = append(got, s.merge([][]byte{[]byte(out)}, nil, "")...)
	}
	if diff := cmp.Diff([]string{out, out}, []string{string(got[0]), string(got[1])}); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	var end bytes.Buffer
	if s.writeRepeated(&end); end.Len() != 0 {
		t.Errorf("repeated list for no diagnostic: %q", end.String())
	}
}

// Failing partitions that meet the same error in a shared header print it
// once, with the group's note; a later failing action still keeps it.
func TestMergeGroupOfFailuresPrintsSharedErrorOnce(t *testing.T) {
	var s shownDiagnostics
	headerError := func(c string) string {
		return "In file included from " + c + ":1:\np/h.h:9:1: error: expected ';' before '}' token\n"
	}
	group := s.merge([][]byte{[]byte(headerError("p/a.c")), []byte(headerError("p/b.c")), []byte(headerError("p/c.c"))},
		[]bool{true, true, true}, "3 actions of //p:lib partitions")
	later := s.merge([][]byte{[]byte(headerError("p/d.c"))}, []bool{true}, "")
	got := []string{string(group[0]), string(group[1]), string(group[2]), string(later[0])}
	want := []string{
		headerError("p/a.c") + "[bld: the error above was printed by 3 of 3 actions of //p:lib partitions; shown once]\n",
		"",
		"",
		headerError("p/d.c"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

// g++'s instantiation context ("required from here") goes with the warning
// it locates: when the warning is left out, so is its context.
func TestMergeLeavesOutInstantiationContext(t *testing.T) {
	var s shownDiagnostics
	warning := func(src string) string {
		return "In file included from " + src + ":1:\n" +
			"h.h: In instantiation of 'void f(T) [with T = int]':\n" +
			src + ":2:20:   required from here\n" +
			"h.h:3:7: warning: unused variable 'x' [-Wunused-variable]\n" +
			"    3 |   int x;\n" +
			"      |       ^\n"
	}
	var got []string
	for _, src := range []string{"a.cc", "b.cc"} {
		got = append(got, string(s.merge([][]byte{[]byte(warning(src))}, nil, "")[0]))
	}
	if diff := cmp.Diff([]string{warning("a.cc"), ""}, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}
