package main

// End-to-end tests of optimization stages (cc_pgo_binary, rules/pgo.star)
// with the real gcc and llvm-bolt: each stage builds alone; --from-stage
// starts from a given profile set; a build killed in the optimize stage
// resumes without running instrument or train again; a source edit reruns
// from instrument; an instrumented build restored from the cache in another
// checkout trains into the right profile paths; --rerun-stage reruns
// training only; the stage table's rows add up to its total.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stageEvent is an --events line with its stage fields.
type stageEvent struct {
	Label    string   `json:"label"`
	Mnemonic string   `json:"mnemonic"`
	Outputs  []string `json:"outputs"`
	Status   string   `json:"status"`
	Pipeline string   `json:"pipeline"`
	Stage    string   `json:"stage"`
}

// pgoFiles is a workspace with examples/pgo's program as //app:app_pgo (a
// cc_pgo_binary, with BOLT when bolt is true) and //app:plain (-O2), plus
// extra files.
func pgoFiles(t *testing.T, bolt bool, extra map[string]string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"wordfreq.c", "table.c", "table.h", "corpus.txt"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "pgo", name))
		if err != nil {
			t.Fatal(err)
		}
		files["app/"+name] = string(data)
	}
	srcs := `["wordfreq.c", "table.c", "table.h"]`
	if _, ok := extra["app/heavy.c"]; ok {
		srcs = `["wordfreq.c", "table.c", "table.h", "heavy.c"]`
	}
	files["app/BUILD.star"] = fmt.Sprintf(`load("@bld//rules:pgo.star", "cc_pgo_binary")

cc_binary(name = "plain", srcs = %[1]s, copts = ["-O2"])

cc_pgo_binary(
    name = "app_pgo",
    srcs = %[1]s,
    copts = ["-O2"],
    train_args = ["$(location corpus.txt)", "20"],
    train_data = ["corpus.txt"],
    bolt = %[2]s,
)
`, srcs, map[bool]string{true: "True", false: "False"}[bolt])
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// stageEvents reads an --events file with the stage fields.
func (w *testWorkspace) stageEvents(rel string) []stageEvent {
	w.t.Helper()
	w.readEvents(rel) // checks the documented fields
	var out []stageEvent
	sc := bufio.NewScanner(strings.NewReader(w.read(rel)))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var e stageEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// byStage counts events by "stage status" ("train ran"); actions of no
// stage count under "- status".
func byStage(events []stageEvent) map[string]int {
	m := map[string]int{}
	for _, e := range events {
		s := e.Stage
		if s == "" {
			s = "-"
		}
		m[s+" "+e.Status]++
	}
	return m
}

func wantCounts(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d actions %q, want %d (all: %v)", what, got[k], k, n, got)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok && n > 0 && !strings.HasSuffix(k, " cached") && !strings.HasSuffix(k, " restored") {
			t.Errorf("%s: %d unexpected actions %q (all: %v)", what, n, k, got)
		}
	}
}

// runProg runs a program the build made, from the workspace root.
func (w *testWorkspace) runProg(prog string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.path(prog), args...)
	cmd.Dir = w.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s: %v\n%s", prog, err, out)
	}
	return string(out)
}

const stagesDir = "bld-out/app/app_pgo.stages"

// TestPGOEachStageAlone builds the stages one by one: each builds only
// what it needs, the stages before it come from the first builds, every
// action of a stage carries its stage in the event log, and the programs
// print what the -O2 program prints.
func TestPGOEachStageAlone(t *testing.T) {
	w := newWorkspace(t, pgoFiles(t, true, nil))
	steps := []struct {
		target string
		ran    map[string]int
	}{
		{"//app:app_pgo.instrument", map[string]int{"instrument ran": 3}},
		{"//app:app_pgo.train", map[string]int{"train ran": 1}},
		{"//app:app_pgo.optimize", map[string]int{"optimize ran": 3}},
		{"//app:app_pgo.bolt", map[string]int{"bolt ran": 3}},
		{"//app:app_pgo", map[string]int{"- ran": 1}},
	}
	for _, s := range steps {
		w.mustBuild("build", "--events", "ev.jsonl", s.target)
		evs := w.stageEvents("ev.jsonl")
		wantCounts(t, s.target, byStage(evs), s.ran)
		for _, e := range evs {
			if e.Stage != "" && e.Pipeline != "//app:app_pgo" {
				t.Errorf("%s: event of stage %s has pipeline %q, want //app:app_pgo", s.target, e.Stage, e.Pipeline)
			}
			if e.Stage != "" && e.Label != "//app:app_pgo."+e.Stage {
				t.Errorf("%s: an action of stage %s is owned by %s", s.target, e.Stage, e.Label)
			}
		}
	}
	for _, p := range []string{
		stagesDir + "/instrument/app_pgo",
		stagesDir + "/train/profile/app/wordfreq.gcda",
		stagesDir + "/train/profile/app/table.gcda",
		stagesDir + "/optimize/app_pgo",
		stagesDir + "/bolt/profile.fdata",
		stagesDir + "/bolt/app_pgo",
		"bld-out/app/app_pgo",
	} {
		if !w.exists(p) {
			t.Errorf("product %s is missing", p)
		}
	}
	w.mustBuild("build", "//app:plain")
	want := w.runProg("bld-out/app/plain", "app/BUILD.star", "3", "4")
	for _, prog := range []string{stagesDir + "/instrument/app_pgo", stagesDir + "/optimize/app_pgo", "bld-out/app/app_pgo"} {
		if got := w.runProg(prog, "app/BUILD.star", "3", "4"); got != want {
			t.Errorf("%s prints %q, want %q", prog, got, want)
		}
	}
}

// TestPGOFromStage starts a fresh checkout with its own cache at the
// optimize stage, from a profile set made elsewhere: instrument and train
// do not run, the optimize compiles read the given profiles, and bld says
// which stages it skipped. Without the profile, it says what to pass.
func TestPGOFromStage(t *testing.T) {
	a := newWorkspace(t, pgoFiles(t, false, nil))
	a.mustBuild("build", "//app:app_pgo.train")
	profiles := filepath.Join(t.TempDir(), "ci-profiles")
	if err := os.CopyFS(profiles, os.DirFS(a.path(stagesDir+"/train/profile"))); err != nil {
		t.Fatal(err)
	}

	b := newWorkspace(t, pgoFiles(t, false, nil))
	r := b.bld("build", "--from-stage", "optimize", "//app:app_pgo")
	if r.code != 1 {
		t.Fatalf("--from-stage without --stage-input: want exit 1, got:\n%s", r)
	}
	wantContains(t, r.stderr, "--stage-input profile=PATH", stagesDir+"/train/profile/app/table.gcda")

	r = b.mustBuild("build", "--events", "ev.jsonl", "--from-stage", "optimize", "--stage-input", "profile="+profiles, "//app:app_pgo")
	wantContains(t, r.stderr, "--from-stage optimize: skipped stages //app:app_pgo instrument, //app:app_pgo train; 2 files from profile="+profiles)
	wantCounts(t, "--from-stage optimize", byStage(b.stageEvents("ev.jsonl")), map[string]int{"optimize ran": 3, "- ran": 1})
	if b.exists(stagesDir + "/instrument/app_pgo") {
		t.Errorf("the instrument stage ran")
	}
	b.mustBuild("build", "//app:plain")
	if got, want := b.runProg("bld-out/app/app_pgo", "app/corpus.txt", "2"), b.runProg("bld-out/app/plain", "app/corpus.txt", "2"); got != want {
		t.Errorf("app_pgo prints %q, want %q", got, want)
	}

	// A profile set that lacks a profile: the error names the file.
	if err := os.Remove(filepath.Join(profiles, "app", "table.gcda")); err != nil {
		t.Fatal(err)
	}
	c := newWorkspace(t, pgoFiles(t, false, nil))
	r = c.bld("build", "--from-stage", "optimize", "--stage-input", "profile="+profiles, "//app:app_pgo")
	if r.code != 1 {
		t.Fatalf("a profile set without table.gcda: want exit 1, got:\n%s", r)
	}
	wantContains(t, r.stderr, filepath.Join(profiles, "app", "table.gcda")+" does not exist")
}

// TestPGOResumeAfterKill kills bld while the optimize stage runs (a heavy
// source makes its compile last) and builds again: instrument and train do
// not run again, counted from the event log; then a source edit reruns
// every stage from instrument; then --rerun-stage train reruns training
// only.
func TestPGOResumeAfterKill(t *testing.T) {
	var heavy strings.Builder
	heavy.WriteString("/* Many functions, so that compiling this file takes a while. */\n")
	for i := range 1500 {
		fmt.Fprintf(&heavy, "int heavy%d(int x) { for (int i = 0; i < %d; i++) x = x * %d + (x >> 3) - i; return x; }\n", i, i%17+3, i%13+5)
	}
	w := newWorkspace(t, pgoFiles(t, false, map[string]string{"app/heavy.c": heavy.String()}))
	cmd := w.command(".", "build", "--events", "killed.jsonl", "//app:app_pgo")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The optimize stage has started once bld made its objects' directory
	// (it does so just before the compiles run).
	deadline := time.Now().Add(120 * time.Second)
	for !w.exists(stagesDir + "/optimize/obj/app") {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("the optimize stage did not start within 120s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // bld and its compiles
	cmd.Wait()
	if w.exists(stagesDir + "/optimize/app_pgo") {
		t.Fatal("the optimize stage finished before the kill: the test proves nothing")
	}

	w.mustBuild("build", "--events", "ev.jsonl", "//app:app_pgo")
	// The compiles that finished before the kill are in place; the rest
	// of the stage (4 compiles and a link) runs, and the copy.
	counts := byStage(w.stageEvents("ev.jsonl"))
	if n := counts["optimize ran"]; n < 2 || n > 5 {
		t.Errorf("after the kill: %d optimize actions ran, want the link and at least the heavy compile (all: %v)", n, counts)
	}
	for k, n := range counts {
		if (strings.HasPrefix(k, "instrument ") || strings.HasPrefix(k, "train ")) && !strings.HasSuffix(k, " cached") && n > 0 {
			t.Errorf("after the kill: %d actions %q; instrument and train must come from the last build", n, k)
		}
	}

	w.write("app/table.c", w.read("app/table.c")+"\nint table_unused(void) { return 1; }\n")
	w.mustBuild("build", "--events", "ev.jsonl", "//app:app_pgo")
	wantCounts(t, "after an edit of table.c", byStage(w.stageEvents("ev.jsonl")),
		map[string]int{"instrument ran": 2, "train ran": 1, "optimize ran": 2, "- ran": 1})

	w.mustBuild("build", "--events", "ev.jsonl", "--rerun-stage", "train", "//app:app_pgo")
	wantCounts(t, "--rerun-stage train", byStage(w.stageEvents("ev.jsonl")), map[string]int{"train ran": 1})
}

// TestPGOSecondCheckout builds the instrumented program in one checkout and
// trains it in another, at another path, sharing the cache: the
// instrumented build is restored, not run, and the training run writes
// every profile where the optimize stage, which fails on a missing
// profile, finds it.
func TestPGOSecondCheckout(t *testing.T) {
	a := newWorkspace(t, pgoFiles(t, false, nil))
	a.mustBuild("build", "//app:app_pgo.instrument")

	b := workspaceAt(t, filepath.Join(t.TempDir(), "another", "checkout"))
	b.env = a.env // the same cache
	b.write("WORKSPACE.star", "")
	for p, c := range pgoFiles(t, false, nil) {
		b.write(p, c)
	}
	b.mustBuild("build", "--events", "ev.jsonl", "//app:app_pgo.optimize")
	wantCounts(t, "second checkout", byStage(b.stageEvents("ev.jsonl")),
		map[string]int{"instrument restored": 3, "train ran": 1, "optimize ran": 3})
	if a.read(stagesDir+"/instrument/app_pgo") != b.read(stagesDir+"/instrument/app_pgo") {
		t.Errorf("the instrumented programs differ")
	}
	for _, p := range []string{"app/wordfreq.gcda", "app/table.gcda"} {
		if !b.exists(stagesDir + "/train/profile/" + p) {
			t.Errorf("training in the second checkout did not write %s", p)
		}
	}
}

var (
	stageRow = regexp.MustCompile(`(?m)^  stage (\w+):\s+([0-9.]+)s\s+([0-9.]+)%\s+(.*)$`)
	stepRow  = regexp.MustCompile(`(?m)^    (\w+) \((\d+) actions?\)\s+([0-9.]+)s\s+([0-9.]+)%\s+(.*)$`)
	totalRow = regexp.MustCompile(`(?m)^  total:\s+([0-9.]+)s$`)
)

// TestPGOStageTable checks the table at the end of a staged build: every
// stage in order, its substeps adding up to it, the stages adding up to
// the total and the percentages to 100, and "cached" on a second build.
func TestPGOStageTable(t *testing.T) {
	w := newWorkspace(t, pgoFiles(t, true, nil))
	for i, want := range []string{"ran", "cached"} {
		r := w.mustBuild("build", "//app:app_pgo")
		table := r.stderr
		stages := stageRow.FindAllStringSubmatch(table, -1)
		var names []string
		var sum, pct float64
		for _, s := range stages {
			names = append(names, s[1])
			sum += atof(t, s[2])
			pct += atof(t, s[3])
			if s[4] != want {
				t.Errorf("build %d: stage %s: %q, want %q", i+1, s[1], s[4], want)
			}
		}
		if got := strings.Join(names, " "); got != "instrument train optimize bolt" {
			t.Fatalf("build %d: stages %q, want instrument train optimize bolt:\n%s", i+1, got, table)
		}
		total := totalRow.FindStringSubmatch(table)
		if total == nil {
			t.Fatalf("no total:\n%s", table)
		}
		// Each printed figure is rounded to 0.01.
		if d := sum - atof(t, total[1]); d > 0.005*float64(len(stages)+1) || d < -0.005*float64(len(stages)+1) {
			t.Errorf("build %d: stages add up to %.2fs, total says %ss:\n%s", i+1, sum, total[1], table)
		}
		if pct < 99.9 || pct > 100.1 {
			t.Errorf("build %d: percentages add up to %.2f:\n%s", i+1, pct, table)
		}
		// Substeps add up to their stage.
		blocks := regexp.MustCompile(`(?m)^  stage `).Split(table, -1)[1:]
		for j, block := range blocks {
			var steps float64
			for _, s := range stepRow.FindAllStringSubmatch(block, -1) {
				steps += atof(t, s[3])
			}
			if d := steps - atof(t, stages[j][2]); d > 0.02 || d < -0.02 {
				t.Errorf("build %d: stage %s's substeps add up to %.2fs, the stage says %ss", i+1, stages[j][1], steps, stages[j][2])
			}
		}
	}
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
