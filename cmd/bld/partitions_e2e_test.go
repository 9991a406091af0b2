package main

// End-to-end tests of partitions (docs/rules.md#partitions) with the real
// gcc: a partitioned unit builds the same program as file by file, with
// the same membership at every -j and in every checkout; a diagnostic
// shared by partitions prints once with its count; a unity clash names both
// files and the opt-out, which fixes it; a header edit reruns only the
// partitions that include it; sequential partitions do not overlap.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// partitionedUnit returns the files of a workspace with a unit of n C
// sources, each adding its own term to a sum (so a missing or doubled file
// changes the program's answer), half of them including shared.h and every
// third one including third.h, and a program printing the sum.
func partitionedUnit(n int, attrs string) map[string]string {
	files := map[string]string{
		"lib/shared.h": "#ifndef SHARED_H\n#define SHARED_H\nstatic inline int scale(int x) { return 3 * x; }\n#endif\n",
		"lib/third.h":  "#ifndef THIRD_H\n#define THIRD_H\n#define THIRD 7\n#endif\n",
	}
	var decls, calls strings.Builder
	for i := range n {
		var src strings.Builder
		if i%2 == 0 {
			src.WriteString("#include \"shared.h\"\n")
		}
		if i%3 == 0 {
			src.WriteString("#include \"third.h\"\n")
		}
		// A file-static helper with one name in every file: unity
		// partitions must keep these apart... they cannot, so each is
		// named after its file, as unity-safe code does.
		fmt.Fprintf(&src, "static int term%d(void) { return %d * %d; }\n", i, i+1, i+2)
		body := fmt.Sprintf("term%d()", i)
		if i%2 == 0 {
			body = fmt.Sprintf("scale(%s)", body)
		}
		if i%3 == 0 {
			body += " + THIRD"
		}
		fmt.Fprintf(&src, "int f%02d(void) { return %s; }\n", i, body)
		files[fmt.Sprintf("lib/f%02d.c", i)] = src.String()
		fmt.Fprintf(&decls, "int f%02d(void);\n", i)
		fmt.Fprintf(&calls, "  sum += f%02d();\n", i)
	}
	files["app/main.c"] = "#include <stdio.h>\n" + decls.String() +
		"int main(void) {\n  long sum = 0;\n" + calls.String() + "  printf(\"%ld\\n\", sum);\n  return 0;\n}\n"
	files["lib/BUILD.star"] = fmt.Sprintf(`cc_unit(
    name = "lib",
    srcs = glob(["*.c", "*.h"]),
    copts = ["-O1", "-Wall"],
    visibility = ["//visibility:public"],
    %s
)
`, attrs)
	files["app/BUILD.star"] = `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib"])
`
	return files
}

// expectedSum is what partitionedUnit's program prints.
func expectedSum(n int) string {
	sum := 0
	for i := range n {
		v := (i + 1) * (i + 2)
		if i%2 == 0 {
			v *= 3
		}
		if i%3 == 0 {
			v += 7
		}
		sum += v
	}
	return fmt.Sprintf("%d\n", sum)
}

// unitySources returns the generated unity sources of //lib:lib, by name.
func unitySources(t *testing.T, w *testWorkspace) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(w.path("bld-out/lib/_objs/lib/partition_*.c"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(data)
	}
	return out
}

func TestPartitionedUnitBuildsTheSameProgram(t *testing.T) {
	const n = 24
	want := expectedSum(n)
	var membership map[string]string
	for _, tc := range []struct {
		attrs      string
		partitions int // unity sources expected; 0 for file by file
		jobs       string
	}{
		{"", 0, "-j2"},
		{"partitions = 1,", 1, "-j2"},
		{"partitions = 3,", 3, "-j1"},
		{"partitions = 3,", 3, "-j2"},
		{`partitions = 3, partition_mode = "sequential",`, 3, "-j2"},
		{`partitions = "auto",`, 2, "-j2"}, // 24 files: 2 partitions
	} {
		t.Run(tc.attrs+tc.jobs, func(t *testing.T) {
			w := newWorkspace(t, partitionedUnit(n, tc.attrs))
			w.mustBuild("build", tc.jobs, "//app")
			wantOutput(t, w, "bld-out/app/app", want)
			unity := unitySources(t, w)
			if len(unity) != tc.partitions {
				t.Fatalf("%d unity sources, want %d: %v", len(unity), tc.partitions, unity)
			}
			if tc.partitions == 3 {
				// Membership is the same whatever -j, mode and checkout
				// directory (each subtest has its own).
				if membership == nil {
					membership = unity
				} else if fmt.Sprint(membership) != fmt.Sprint(unity) {
					t.Errorf("membership differs between builds:\n%v\n%v", membership, unity)
				}
			}
		})
	}
}

// A warning in a header every partition includes is printed once, with the
// number of partitions that printed it; a warning in one source names that
// source and its own line, as the compiler's line mapping through #include
// gives it.
func TestPartitionDiagnosticsOnce(t *testing.T) {
	files := partitionedUnit(12, "partitions = 3,")
	files["lib/shared.h"] = "#ifndef SHARED_H\n#define SHARED_H\nstatic inline int scale(int x) { int unused_in_header; return 3 * x; }\n#endif\n"
	files["lib/f05.c"] = "static int term5(void) { return 6 * 7; }\nint f05(void) {\n  int unused_in_f05;\n  return term5();\n}\n"
	w := newWorkspace(t, files)
	r := w.mustBuild("build", "//app")
	if got := strings.Count(r.output(), "warning: unused variable 'unused_in_header'"); got != 1 {
		t.Errorf("the header's warning is printed %d times, want once:\n%s", got, r.output())
	}
	// Every partition holds a file including shared.h (6 of 12 do).
	wantMatch(t, r.output(),
		`lib/shared.h:3:\d+: warning: unused variable 'unused_in_header'`,
		`\[bld: the warning above was printed by [23] of 3 actions of //lib:lib partitions; shown once\]`,
		`lib/f05.c:3:7: warning: unused variable 'unused_in_f05'`)
	if strings.Count(r.output(), "unused_in_f05") != 3 { // the message, the source line, nothing else
		t.Logf("output:\n%s", r.output())
	}
	// Restored from the cache in another checkout, the merged output is
	// the same.
	w2 := newWorkspace(t, files)
	w2.env = w.env
	r2 := w2.mustBuild("build", "//app")
	if got := strings.Count(r2.output(), "warning: unused variable 'unused_in_header'"); got != 1 {
		t.Errorf("restored: the header's warning is printed %d times, want once:\n%s", got, r2.output())
	}
}

// Two sources with a file-static function of the same name cannot be one
// unity source: the failure names both files and partition_exclude, and
// excluding one of them builds the program.
func TestPartitionClashAndOptOut(t *testing.T) {
	files := map[string]string{
		"lib/a.c": "static int helper(void) { return 1; }\nint fa(void) { return helper(); }\n",
		"lib/b.c": "static int helper(void) { return 20; }\nint fb(void) { return helper(); }\n",
		"lib/c.c": "int fc(void) { return 300; }\n",
		"lib/BUILD.star": `cc_unit(name = "lib", srcs = ["a.c", "b.c", "c.c"], partitions = 1)
`,
		"app/main.c": "#include <stdio.h>\nint fa(void); int fb(void); int fc(void);\n" +
			"int main(void) { printf(\"%d\\n\", fa() + fb() + fc()); return 0; }\n",
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib"])
`,
	}
	w := newWorkspace(t, files)
	r := w.bld("build", "//app")
	if r.code != 1 {
		t.Fatalf("want a failed build, got:\n%s", r)
	}
	wantContains(t, r.output(),
		"error: redefinition of 'helper'",
		"bld: 'helper' is defined in both lib/a.c and lib/b.c, which this action compiles as one source",
		"partition_exclude")
	w.write("lib/BUILD.star", `cc_unit(name = "lib", srcs = ["a.c", "b.c", "c.c"], partitions = 1, partition_exclude = ["b.c"])
`)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "321\n")
}

// An edit of a header reruns the partitions that include it and no other;
// adding a source reruns one partition.
func TestPartitionHeaderEditAndNewFile(t *testing.T) {
	const n = 24
	w := newWorkspace(t, partitionedUnit(n, "partitions = 4,"))
	w.mustBuild("build", "//app")
	unity := unitySources(t, w)
	including := map[string]bool{} // unity sources with a file including third.h
	for name, src := range unity {
		for _, m := range regexp.MustCompile(`lib/f(\d+)\.c`).FindAllStringSubmatch(src, -1) {
			var i int
			fmt.Sscan(m[1], &i)
			if i%3 == 0 {
				including[strings.TrimSuffix(name, ".c")+".o"] = true
			}
		}
	}
	w.write("lib/third.h", "#ifndef THIRD_H\n#define THIRD_H\n#define THIRD 8\n#endif\n")
	ev := w.buildEvents("//app")
	var ran []string
	for _, e := range ev {
		if e.Status == "ran" && e.Mnemonic == "CcCompile" {
			ran = append(ran, filepath.Base(e.Outputs[len(e.Outputs)-1]))
		}
	}
	var want []string
	for o := range including {
		want = append(want, o)
	}
	sort.Strings(ran)
	sort.Strings(want)
	if fmt.Sprint(ran) != fmt.Sprint(want) || len(want) == 0 || len(want) == len(unity) {
		t.Errorf("after editing third.h these compiles ran: %v; want the partitions including it: %v (of %d)", ran, want, len(unity))
	}

	w.write("lib/new.c", "int fnew(void) { return 1; }\n")
	ev = w.buildEvents("//app")
	ran = ranWith(ev, "CcCompile")
	if len(ran) != 1 {
		t.Errorf("adding a source ran %d compiles, want 1: %v", len(ran), ran)
	}
}

// Sequential partitions never overlap, even with free job slots, and the
// event log records each compile's peak memory.
func TestSequentialPartitions(t *testing.T) {
	w := newWorkspace(t, partitionedUnit(16, `partitions = 4, partition_mode = "sequential",`))
	w.mustBuild("build", "-j4", "--events", "ev.json", "//lib")
	type span struct{ start, end float64 }
	var spans []span
	for _, line := range strings.Split(strings.TrimSpace(w.read("ev.json")), "\n") {
		var e struct {
			Mnemonic   string
			Start, End float64
			MaxRSS     int64 `json:"max_rss"`
			Group      string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Mnemonic != "CcCompile" {
			continue
		}
		if e.Group != "//lib:lib partitions" {
			t.Errorf("group %q, want //lib:lib partitions", e.Group)
		}
		if e.MaxRSS < 1<<20 {
			t.Errorf("max_rss %d: want the compiler's peak memory, at least 1 MiB", e.MaxRSS)
		}
		spans = append(spans, span{e.Start, e.End})
	}
	if len(spans) != 4 {
		t.Fatalf("%d compiles, want 4", len(spans))
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			t.Errorf("sequential partitions overlap: %v", spans)
		}
	}
}

// A partition count that is neither an int nor "auto" is an error at the
// attribute, naming the BUILD.star position and what is allowed.
func TestPartitionsBadValue(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/a.c":        "int a;\n",
		"lib/BUILD.star": "cc_unit(\n    name = \"lib\",\n    srcs = [\"a.c\"],\n    partitions = \"many\",\n)\n",
	})
	r := w.bld("build", "//lib")
	if r.code == 0 {
		t.Fatalf("partitions = \"many\" was accepted:\n%s", r)
	}
	wantContains(t, r.output(), "lib/BUILD.star:1:8", "partitions", `want an int or one of ["auto"], got "many"`)
}
