package status

import (
	"bytes"
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
