// Package examples_test builds the examples with the real bld binary and the
// real gcc, in a copy of the examples at another path, and runs what they
// build.
package examples_test

import (
	"bld/cmd/bld/bldtest"
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var bldBinary string

func TestMain(m *testing.M) { bldtest.Main(m, &bldBinary) }

// workspace is a copy of the examples in a new workspace, with its own
// action cache.
type workspace struct {
	t    *testing.T
	root string
	env  []string
}

// newWorkspace copies this directory (without Go files and outputs) to
// root/examples and makes root a workspace. root must not exist yet.
func newWorkspace(t *testing.T, root string) *workspace {
	t.Helper()
	bldtest.TouchSources("..")
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "bld-out" {
			return filepath.SkipDir
		}
		dst := filepath.Join(root, "examples", p)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "WORKSPACE.star"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return &workspace{t: t, root: root, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"BLD_CACHE_DIR=" + filepath.Join(home, "cache", "bld"),
		"LC_ALL=C",
	}}
}

// bld runs bld at the workspace root and fails the test unless it succeeds;
// it returns bld's stderr.
func (w *workspace) bld(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(bldBinary, args...)
	cmd.Dir = w.root
	cmd.Env = w.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("bld %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// run runs a program the build made and returns its output.
func (w *workspace) run(prog string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(w.root, prog), args...)
	cmd.Dir = w.t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s: %v\n%s", prog, err, out)
	}
	return string(out)
}

func (w *workspace) write(rel, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.root, rel), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) read(rel string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.root, rel))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

type event struct {
	Label    string   `json:"label"`
	Mnemonic string   `json:"mnemonic"`
	Outputs  []string `json:"outputs"`
	Status   string   `json:"status"`
}

func (e event) key() string { return e.Label + " " + e.Mnemonic + " " + strings.Join(e.Outputs, ",") }

// build runs bld build with an events file and returns the events.
func (w *workspace) build(args ...string) ([]event, string) {
	w.t.Helper()
	evPath := filepath.Join(w.t.TempDir(), "events.json")
	stderr := w.bld(append([]string{"build", "--events", evPath}, args...)...)
	data, err := os.ReadFile(evPath)
	if err != nil {
		w.t.Fatal(err)
	}
	var events []event
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			w.t.Fatalf("events: %v: %s", err, sc.Bytes())
		}
		events = append(events, e)
	}
	return events, stderr
}

// keys returns the sorted keys of the events with status (any if "").
func keys(events []event, status string) []string {
	out := []string{}
	for _, e := range events {
		if status == "" || e.Status == status {
			out = append(out, e.key())
		}
	}
	sort.Strings(out)
	return out
}

// The actions of //examples/...
const (
	configGen  = "//examples/c/greet:config Genrule bld-out/examples/c/greet/include/greet/config.h"
	greetCc    = "//examples/c/greet:greet CcCompile bld-out/examples/c/greet/_objs/greet/examples/c/greet/greet.d,bld-out/examples/c/greet/_objs/greet/examples/c/greet/greet.o"
	greetAr    = "//examples/c/greet:greet CcArchive bld-out/examples/c/greet/libgreet.a"
	versionGen = "//examples/c/app:version Genrule bld-out/examples/c/app/version.c"
	mainCc     = "//examples/c/app:app CcCompile bld-out/examples/c/app/_objs/app/examples/c/app/main.d,bld-out/examples/c/app/_objs/app/examples/c/app/main.o"
	versionCc  = "//examples/c/app:app CcCompile bld-out/examples/c/app/_objs/app/examples/c/app/version.d,bld-out/examples/c/app/_objs/app/examples/c/app/version.o"
	appLink    = "//examples/c/app:app CcLink bld-out/examples/c/app/app"
	motdEmbed  = "//examples/custom:motd EmbedText bld-out/examples/custom/motd.c"
	motdH      = "//examples/custom:motd FileWrite bld-out/examples/custom/motd.h"
	licEmbed   = "//examples/custom:license_text EmbedText bld-out/examples/custom/license_text.c"
	licH       = "//examples/custom:license_text FileWrite bld-out/examples/custom/license_text.h"
	indexWrite = "//examples/custom:index FileWrite bld-out/examples/custom/index.txt"
	bannerCc   = "//examples/custom:banner CcCompile bld-out/examples/custom/_objs/banner/examples/custom/banner.d,bld-out/examples/custom/_objs/banner/examples/custom/banner.o"
	motdCc     = "//examples/custom:banner CcCompile bld-out/examples/custom/_objs/banner/examples/custom/motd.d,bld-out/examples/custom/_objs/banner/examples/custom/motd.o"
	licCc      = "//examples/custom:banner CcCompile bld-out/examples/custom/_objs/banner/examples/custom/license_text.d,bld-out/examples/custom/_objs/banner/examples/custom/license_text.o"
	bannerLink = "//examples/custom:banner CcLink bld-out/examples/custom/banner"
	numbersRs  = "//examples/rust/numbers:numbers RustCompile bld-out/examples/rust/numbers/_rust/numbers.d,bld-out/examples/rust/numbers/libnumbers.rlib"
	reportRs   = "//examples/rust/report:report RustBinary bld-out/examples/rust/report/_rust/report.d,bld-out/examples/rust/report/report"
	// examples/pgo: wordfreq (2 compiles, a link) and wordfreq_pgo's
	// stages: instrument (2 compiles, a link), train, optimize (2
	// compiles, a link), bolt (instrument, train, optimize), the copy.
	// examples/tests: a compile and an archive, the test's compile and
	// link, the shell test's copy.
	numExamples = 19 + 3 + 11 + 5
)

// report is what examples/rust/report prints for n = 100000.
const report = "primes below 100000: 9592; longest Collatz chain below 100000 starts at 77031; fib(100000) mod 1e9+7 = 911435502\n" +
	"checksum 261d0b18aa5ec57d\n"

// The examples' tests pass under bld test, and pass from the cache the
// second time.
func TestExampleTests(t *testing.T) {
	w := newWorkspace(t, t.TempDir())
	out := w.bld("test", "//examples/...")
	for _, want := range []string{"//examples/tests:app_test", "//examples/tests:fizzbuzz_test", "bld: 2 tests passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("bld test //examples/... does not say %q:\n%s", want, out)
		}
	}
	if out := w.bld("test", "//examples/..."); strings.Count(out, "PASSED (cached)") != 2 {
		t.Errorf("second bld test: want both tests cached:\n%s", out)
	}
}

func TestExamples(t *testing.T) {
	// A path unlike the checkout's: bld must not depend on where it is.
	w := newWorkspace(t, filepath.Join(t.TempDir(), "another checkout"))

	events, _ := w.build("//examples/...")
	if got := keys(events, "ran"); len(got) != numExamples {
		t.Errorf("first build ran %d actions, want %d:\n%s", len(got), numExamples, strings.Join(got, "\n"))
	}
	if got, want := w.run("bld-out/examples/c/app/app"), "Hello, world! (app 1.0.0)\n"; got != want {
		t.Errorf("app: %q, want %q", got, want)
	}
	if got, want := w.run("bld-out/examples/c/app/app", "bld"), "Hello, bld! (app 1.0.0)\n"; got != want {
		t.Errorf("app bld: %q, want %q", got, want)
	}
	wantBanner := w.read("examples/custom/motd.txt") + w.read("examples/custom/license.txt")
	if got := w.run("bld-out/examples/custom/banner"); got != wantBanner {
		t.Errorf("banner: %q, want %q", got, wantBanner)
	}
	if got := w.run("bld-out/examples/rust/report/report"); got != report {
		t.Errorf("report: %q, want %q", got, report)
	}
	if got, want := w.read("bld-out/examples/custom/index.txt"),
		"motd examples/custom/motd.h\nlicense examples/custom/license_text.h\n"; got != want {
		t.Errorf("index.txt: %q, want %q", got, want)
	}

	// Nothing changed: nothing runs, and bld says so.
	events, stderr := w.build("//examples/...")
	if got := keys(events, "cached"); len(got) != numExamples || len(events) != numExamples {
		t.Errorf("rebuild: %d of %d actions cached, want all %d:\n%v", len(got), len(events), numExamples, events)
	}
	if !strings.Contains(stderr, "nothing to do") {
		t.Errorf("rebuild does not say there is nothing to do:\n%s", stderr)
	}

	// Each edit runs exactly the actions that depend on the edited file,
	// up to the first action whose outputs come out unchanged.
	steps := []struct {
		name, file, content string
		ran                 []string
		app                 string
	}{
		{
			// config.h changes; only the compile that read it (greet.c:
			// its depfile says so) runs, not main.c's or version.c's,
			// which may include it but do not; greet.o changes, so the
			// archive and the link run.
			name: "greeting", file: "examples/c/greet/greeting.txt", content: "Howdy\n",
			ran: []string{configGen, greetCc, greetAr, appLink},
			app: "Howdy, world! (app 1.0.0)\n",
		},
		{
			// $(cat) drops trailing newlines: config.h is unchanged, and
			// nothing after the genrule runs.
			name: "greeting, same config.h", file: "examples/c/greet/greeting.txt", content: "Howdy\n\n\n",
			ran: []string{configGen},
			app: "Howdy, world! (app 1.0.0)\n",
		},
		{
			name: "version", file: "examples/c/app/VERSION", content: "2.0.0\n",
			ran: []string{versionGen, versionCc, appLink},
			app: "Howdy, world! (app 2.0.0)\n",
		},
		{
			// fib.rs is a module of the numbers crate: rustc's dep-info
			// names it, so the crate and the program that links it run.
			// report's partition count depends on its own sources only.
			name: "fib.rs", file: "examples/rust/numbers/src/fib.rs",
			content: strings.Replace(w.read("examples/rust/numbers/src/fib.rs"), "result[0][1]", "result[0][1] + 1", 1),
			ran:     []string{numbersRs, reportRs},
		},
		{
			// index.txt names motd's symbol and header, which do not
			// change: it is not written again.
			name: "motd", file: "examples/custom/motd.txt", content: "Changed.\n",
			ran: []string{motdEmbed, motdCc, bannerLink},
		},
	}
	for _, s := range steps {
		w.write(s.file, s.content)
		events, _ := w.build("//examples/...")
		sort.Strings(s.ran)
		if diff := cmp.Diff(s.ran, keys(events, "ran")); diff != "" {
			t.Errorf("after editing %s: actions that ran (-want +got):\n%s", s.name, diff)
		}
		if n := len(keys(events, "failed")); n != 0 {
			t.Errorf("after editing %s: %d failed", s.name, n)
		}
		if s.app != "" {
			if got := w.run("bld-out/examples/c/app/app"); got != s.app {
				t.Errorf("after editing %s: app: %q, want %q", s.name, got, s.app)
			}
		}
	}
	if got := w.run("bld-out/examples/rust/report/report"); !strings.Contains(got, "fib(100000) mod 1e9+7 = 911435503\n") {
		t.Errorf("report after the edit of fib.rs: %q, want fib(100000) plus 1", got)
	}
	if got, want := w.run("bld-out/examples/custom/banner"), "Changed.\n"+w.read("examples/custom/license.txt"); got != want {
		t.Errorf("banner: %q, want %q", got, want)
	}
}

// TestPGOExample builds examples/pgo: the program optimized by PGO and BOLT
// prints what the plain -O2 program prints, on the training input and on
// another, and the build ends with the stage table.
func TestPGOExample(t *testing.T) {
	w := newWorkspace(t, filepath.Join(t.TempDir(), "pgo checkout"))
	events, stderr := w.build("//examples/pgo:all")
	if n := len(keys(events, "ran")); n != 14 {
		t.Errorf("ran %d actions, want 14:\n%s", n, strings.Join(keys(events, ""), "\n"))
	}
	for _, want := range []string{"stage instrument:", "stage train:", "stage optimize:", "stage bolt:", "total:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the stage table has no %q:\n%s", want, stderr)
		}
	}
	for _, input := range []string{"examples/pgo/corpus.txt", "examples/pgo/BUILD.star"} {
		path := filepath.Join(w.root, input)
		plain := w.run("bld-out/examples/pgo/wordfreq", path, "7", "3")
		if !strings.Contains(plain, "distinct words, checksum") {
			t.Fatalf("wordfreq %s: %q", input, plain)
		}
		for _, prog := range []string{"bld-out/examples/pgo/wordfreq_pgo.stages/optimize/wordfreq_pgo", "bld-out/examples/pgo/wordfreq_pgo"} {
			if got := w.run(prog, path, "7", "3"); got != plain {
				t.Errorf("%s %s: %q, want what -O2 prints, %q", prog, input, got, plain)
			}
		}
	}
}

// TestDeterminism builds the examples in two checkouts at different paths,
// one with -j 1 and one with -j 2, each with its own cache: the outputs must
// be byte for byte the same, and so must the list of actions.
func TestDeterminism(t *testing.T) {
	a := newWorkspace(t, filepath.Join(t.TempDir(), "a"))
	b := newWorkspace(t, filepath.Join(t.TempDir(), "a much", "longer", "path to checkout b"))
	evA, _ := a.build("-j", "1", "//examples/...")
	evB, _ := b.build("-j", "2", "//examples/...")
	if diff := cmp.Diff(keys(evA, ""), keys(evB, "")); diff != "" {
		t.Errorf("actions differ between -j 1 and -j 2 (-a +b):\n%s", diff)
	}
	outA, outB := outputs(t, a.root), outputs(t, b.root)
	if len(outA) == 0 {
		t.Fatal("no outputs")
	}
	var namesA, namesB []string
	for p := range outA {
		namesA = append(namesA, p)
	}
	for p := range outB {
		namesB = append(namesB, p)
	}
	sort.Strings(namesA)
	sort.Strings(namesB)
	if diff := cmp.Diff(namesA, namesB); diff != "" {
		t.Errorf("output files differ (-a +b):\n%s", diff)
	}
	for _, p := range namesA {
		if da, db := outA[p], outB[p]; db != nil && !bytes.Equal(da, db) {
			t.Errorf("%s differs between the checkouts", p)
		}
	}
	for _, e := range evA {
		for _, o := range e.Outputs {
			if _, ok := outA[o]; !ok {
				t.Errorf("%s: output %s is not among the files compared", e.Label, o)
			}
		}
	}
}

// outputs returns the build outputs under root/bld-out, by workspace path,
// without bld's own state (bld-out/.bld).
func outputs(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(root, "bld-out"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "bld-out/.bld" {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
