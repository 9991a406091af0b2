package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recipeMakefile returns a Makefile of n independent recipes that each
// sleep for 0.3 s and log their start and end times to logPath.
func recipeMakefile(prefix string, n int, logPath string) string {
	var b strings.Builder
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s%d", prefix, i))
	}
	fmt.Fprintf(&b, ".PHONY: all %s\nall: %s\n", strings.Join(names, " "), strings.Join(names, " "))
	for _, name := range names {
		fmt.Fprintf(&b, "%s:\n\t@echo \"start $$(date +%%s.%%N)\" >> %s; sleep 0.3; echo \"end $$(date +%%s.%%N)\" >> %s\n", name, logPath, logPath)
	}
	return b.String()
}

// peakConcurrency reads a log of "start T" and "end T" lines and returns the
// largest number of recipes running at once, and how many started.
func peakConcurrency(t *testing.T, logPath string) (peak, started int) {
	t.Helper()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	type mark struct {
		at    float64
		delta int
	}
	var marks []mark
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		kind, ts, ok := strings.Cut(line, " ")
		at, err := strconv.ParseFloat(ts, 64)
		if !ok || err != nil {
			t.Fatalf("bad log line %q", line)
		}
		switch kind {
		case "start":
			marks = append(marks, mark{at, +1})
			started++
		case "end":
			marks = append(marks, mark{at, -1})
		}
	}
	// At equal times, count ends first: a recipe that ends as another
	// starts did not overlap it.
	sort.Slice(marks, func(i, j int) bool {
		if marks[i].at != marks[j].at {
			return marks[i].at < marks[j].at
		}
		return marks[i].delta < marks[j].delta
	})
	running := 0
	for _, m := range marks {
		running += m.delta
		peak = max(peak, running)
	}
	return peak, started
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is needed by this test (apt-get install %s): %v", name, name, err)
	}
}

// Four jobserver-aware actions each run make (no -j) over 8 recipes; under
// bld -j2 the recipes share bld's 2 tokens: never more than 2 run at once,
// yet the build is not serialized.
func TestJobserverSharesTokensWithMake(t *testing.T) {
	needTool(t, "make")
	logPath := filepath.Join(t.TempDir(), "recipes.log")
	files := map[string]string{}
	var build strings.Builder
	for i := range 4 {
		files[fmt.Sprintf("m/sub%d.mk", i)] = recipeMakefile(fmt.Sprintf("r%d_", i), 8, logPath)
		fmt.Fprintf(&build, "genrule(name = \"make%d\", srcs = [\"sub%d.mk\"], outs = [\"make%d.done\"], cmd = \"make -s -f $< && touch $@\", jobserver = True)\n", i, i, i)
	}
	files["m/BUILD.star"] = build.String()
	w := newWorkspace(t, files)

	noop := w.mustBuild("build", "-j2", "//m:all")
	os.Remove(logPath)
	w.mustBuild("clean")
	start := time.Now()
	r := w.mustBuild("build", "-j2", "--cache-dir", t.TempDir(), "//m:all")
	elapsed := time.Since(start)

	peak, started := peakConcurrency(t, logPath)
	if started != 32 {
		t.Fatalf("%d recipes started, want 32:\n%s", started, r)
	}
	if peak > 2 {
		t.Errorf("peak of %d recipes running at once under bld -j2; want at most 2", peak)
	}
	// 32 recipes of 0.3 s on 2 tokens take 4.8 s; allow 30% more, plus
	// bld's own start-up (a build of the same workspace that ran nothing).
	limit := time.Duration(1.3*32*0.3/2*float64(time.Second)) + noop.elapsed
	if elapsed > limit {
		t.Errorf("build took %v, want at most %v: the tokens are not shared (peak %d)", elapsed, limit, peak)
	}
	t.Logf("32 recipes, peak %d, %v (limit %v)", peak, elapsed, limit)
}

// bld run by make -j3 from a recipe marked + takes its tokens from make:
// make's recipes and bld's actions together never exceed 3, and make ends
// with every token back.
func TestJobserverBldUnderMake(t *testing.T) {
	needTool(t, "make")
	logDir := t.TempDir()
	logPath := filepath.Join(logDir, "jobs.log")
	files := map[string]string{}
	var build strings.Builder
	for i := range 6 {
		fmt.Fprintf(&build, "genrule(name = \"g%d\", outs = [\"g%d.out\"], cmd = \"echo \\\"start $$(date +%%s.%%N)\\\" >> %s; sleep 0.3; echo \\\"end $$(date +%%s.%%N)\\\" >> %s; touch $@\")\n", i, i, logPath, logPath)
	}
	files["p/BUILD.star"] = build.String()
	w := newWorkspace(t, files)
	makefile := recipeMakefile("side", 4, logPath)
	makefile = strings.Replace(makefile, "all: ", "all: bld ", 1) + fmt.Sprintf(".PHONY: bld\nbld:\n\t+%s build --cache-dir %s //p:all\n", bldBinary, filepath.Join(logDir, "cache"))
	w.write("Makefile", makefile)

	cmd := exec.Command("make", "-j3")
	cmd.Dir = w.root
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -j3: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "jobserver tokens") || strings.Contains(string(out), "INTERNAL") {
		t.Errorf("make reports a token mismatch:\n%s", out)
	}
	peak, started := peakConcurrency(t, logPath)
	if started != 10 {
		t.Fatalf("%d jobs started, want 10 (6 bld actions, 4 make recipes):\n%s", started, out)
	}
	if peak > 3 {
		t.Errorf("peak of %d jobs at once under make -j3; want at most 3\n%s", peak, out)
	}
	if strings.Contains(string(out), "warning") {
		t.Errorf("unexpected warning:\n%s", out)
	}
	t.Logf("10 jobs, peak %d", peak)
}
