package main

// End-to-end tests of rules/rust.star with the real rustc, through the bld
// binary: partitions (codegen units) that change how a crate is compiled but
// not what the program does, the "auto" policy, rustc's dep-info as a
// depfile, and rustc's codegen threads bounded by bld's -j through the
// jobserver (docs/jobserver.md, "Rust units").

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rustExample returns the files of examples/rust (the numbers library and
// the report program), at their paths in the repository.
func rustExample(t *testing.T) map[string]string {
	t.Helper()
	needTool(t, "rustc")
	files := map[string]string{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(filepath.Join(root, "examples", "rust"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(p, "bld-out") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("examples/rust has %d files, want the numbers crate and the report program", len(files))
	}
	return files
}

// rustReport is what examples/rust/report prints for n = 100000.
const rustReport = "primes below 100000: 9592; longest Collatz chain below 100000 starts at 77031; fib(100000) mod 1e9+7 = 911435502\n" +
	"checksum 261d0b18aa5ec57d\n"

// codegenUnits returns the object files (codegen units) in the rlib at rel:
// rustc puts one member NAME.NAME.HASH-cgu.N.rcgu.o per unit.
func codegenUnits(t *testing.T, w *testWorkspace, rel string) []string {
	t.Helper()
	out, err := exec.Command("ar", "t", w.path(rel)).Output()
	if err != nil {
		t.Fatalf("ar t %s: %v", rel, err)
	}
	var units []string
	for _, m := range strings.Fields(string(out)) {
		if strings.HasSuffix(m, ".rcgu.o") {
			units = append(units, m)
		}
	}
	return units
}

// The example built with the library at partitions 4 and at 1: the rlib
// really has 4 and 1 codegen units, and the program prints the same.
func TestRustPartitions(t *testing.T) {
	files := rustExample(t)
	w := newWorkspace(t, files)
	const lib = "bld-out/examples/rust/numbers/libnumbers.rlib"
	const prog = "bld-out/examples/rust/report/report"
	build := files["examples/rust/numbers/BUILD.star"]
	if strings.Count(build, "partitions = 4,") != 1 {
		t.Fatalf("examples/rust/numbers/BUILD.star no longer sets partitions = 4 once:\n%s", build)
	}
	for _, n := range []int{4, 1} {
		w.write("examples/rust/numbers/BUILD.star", strings.Replace(build, "partitions = 4,", fmt.Sprintf("partitions = %d,", n), 1))
		r := w.mustBuild("build", "-j2", "//examples/rust/...")
		wantContains(t, r.output(), fmt.Sprintf("Compiling Rust crate numbers (%d partition", n))
		if units := codegenUnits(t, w, lib); len(units) != n {
			t.Errorf("partitions = %d: the rlib has %d codegen units, want %d: %v", n, len(units), n, units)
		}
		out, err := exec.Command(w.path(prog)).CombinedOutput()
		if err != nil {
			t.Fatalf("partitions = %d: %s: %v\n%s", n, prog, err, out)
		}
		if string(out) != rustReport {
			t.Errorf("partitions = %d: report printed %q, want %q", n, out, rustReport)
		}
	}
	// report is partitions = "auto": its 400 bytes of source make one
	// codegen unit.
	if got, want := w.read("bld-out/examples/rust/report/_rust/report.partitions"), "-Ccodegen-units=1\n"; got != want {
		t.Errorf("report's auto partitions: %q, want %q", got, want)
	}
}

// partitions = "auto" counts the bytes of the crate's .rs sources, 32 KiB a
// codegen unit, at most 16, whatever the machine; bad values are errors
// that name the BUILD.star line. Outputs do not name the exec root.
func TestRustAutoPartitions(t *testing.T) {
	needTool(t, "rustc")
	comment := "// " + strings.Repeat("x", 76) + "\n" // 80 bytes
	w := newWorkspace(t, map[string]string{
		// 70,000 bytes: 3 units.
		"a/lib.rs":     "pub fn a() -> u32 { 1 }\n" + strings.Repeat(comment, (70000-24)/80) + strings.Repeat("/", (70000-24)%80),
		"a/BUILD.star": "load(\"@bld//rules:rust.star\", \"rust_unit\")\nrust_unit(name = \"a\", srcs = [\"lib.rs\"], partitions = \"auto\")\n",
		"b/lib.rs":     "pub fn b() -> u32 { 2 }\n",
		"b/BUILD.star": "load(\"@bld//rules:rust.star\", \"rust_unit\")\nrust_unit(name = \"b\", srcs = [\"lib.rs\"], partitions = \"auto\", rustc_flags = [\"-Cdebuginfo=2\"])\n",
	})
	if fi, err := os.Stat(w.path("a/lib.rs")); err != nil {
		t.Fatal(err)
	} else if fi.Size() != 70000 {
		t.Fatalf("a/lib.rs has %d bytes, want 70000", fi.Size())
	}
	w.mustBuild("build", "//...")
	for rel, want := range map[string]string{
		"bld-out/a/_rust/a.partitions": "-Ccodegen-units=3\n",
		"bld-out/b/_rust/b.partitions": "-Ccodegen-units=1\n",
	} {
		if got := w.read(rel); got != want {
			t.Errorf("%s: %q, want %q", rel, got, want)
		}
	}

	// Debug info records the directory rustc ran in: the sandbox's exec
	// root, which --remap-path-prefix maps to ".".
	if rlib := w.read("bld-out/b/libb.rlib"); strings.Contains(rlib, "bld-sandbox") || strings.Contains(rlib, w.root) {
		t.Errorf("bld-out/b/libb.rlib names the exec root or the workspace")
	}

	w.write("b/BUILD.star", "load(\"@bld//rules:rust.star\", \"rust_unit\")\n\nrust_unit(name = \"b\", srcs = [\"lib.rs\"], partitions = 0)\n")
	r := w.bld("build", "//b")
	if r.code == 0 {
		t.Fatalf("partitions = 0 should fail:\n%s", r)
	}
	wantContains(t, r.output(), "b/BUILD.star:3:10", "partitions = 0", "\"auto\"")
}

// An edit of one module reruns the crate and the program that links it;
// the next build is up to date. A source in srcs that no module names is
// a discoverable input rustc does not read: editing it reruns nothing.
func TestRustDepfile(t *testing.T) {
	files := rustExample(t)
	files["examples/rust/numbers/src/notes.rs"] = "// Not a module of the crate: no mod names it.\n"
	w := newWorkspace(t, files)
	const (
		numbers = "//examples/rust/numbers:numbers RustCompile bld-out/examples/rust/numbers/_rust/numbers.d,bld-out/examples/rust/numbers/libnumbers.rlib"
		report  = "//examples/rust/report:report RustBinary bld-out/examples/rust/report/_rust/report.d,bld-out/examples/rust/report/report"
		sizing  = "//examples/rust/report:report RustPartitions bld-out/examples/rust/report/_rust/report.partitions"
	)
	events, _ := w.cacheBuildEvents("//examples/rust/...")
	if diff := cmp.Diff(cacheSorted(numbers, report, sizing), cacheRanKeys(events)); diff != "" {
		t.Fatalf("first build (-want +got):\n%s", diff)
	}
	if d := w.read("bld-out/examples/rust/numbers/_rust/numbers.d"); !strings.Contains(d, "examples/rust/numbers/src/collatz.rs") || strings.Contains(d, "notes.rs") {
		t.Errorf("numbers.d should name collatz.rs and not notes.rs:\n%s", d)
	}

	// A real change of collatz.rs: the longest chain below n is reported
	// by its length instead of its start.
	collatz := w.read("examples/rust/numbers/src/collatz.rs")
	w.write("examples/rust/numbers/src/collatz.rs", strings.Replace(collatz, "best = (start, l);", "best = (l as u64, l);", 1))
	events, _ = w.cacheBuildEvents("//examples/rust/...")
	if diff := cmp.Diff(cacheSorted(numbers, report), cacheRanKeys(events)); diff != "" {
		t.Errorf("after editing collatz.rs (-want +got):\n%s", diff)
	}
	out, err := exec.Command(w.path("bld-out/examples/rust/report/report")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "starts at 351;") {
		t.Errorf("the program does not show the edit (the longest chain below 100000 has 351 numbers):\n%s", out)
	}

	r := w.mustBuild("build", "//examples/rust/...")
	wantContains(t, r.stderr, "nothing to do")

	w.write("examples/rust/numbers/src/notes.rs", "// Still not a module.\n")
	events, _ = w.cacheBuildEvents("//examples/rust/...")
	if ran := cacheRanKeys(events); len(ran) != 0 {
		t.Errorf("editing notes.rs, which rustc does not read, ran %v", ran)
	}
}

// rustThreadsWorkspace is a crate whose 8 codegen units give rustc about 2 s
// of CPU (cgCrate's source), built twice: by rust_unit //cg:jobserver,
// whose rustc takes its threads' tokens from bld's pool, and by
// //cg:alone, a genrule running the same rustc command without the
// jobserver.
func rustThreadsWorkspace(t *testing.T) *testWorkspace {
	t.Helper()
	needTool(t, "rustc")
	files := map[string]string{"cg/lib.rs": cgCrate("x")["x/src/lib.rs"]}
	files["cg/BUILD.star"] = `load("@bld//rules:rust.star", "rust_unit")

rust_unit(
    name = "jobserver",
    srcs = ["lib.rs"],
    crate_name = "cgu",
    partitions = 8,
    rustc_flags = ["-Copt-level=3"],
)

genrule(
    name = "alone",
    srcs = ["lib.rs"],
    outs = ["alone/libcgu.rlib"],
    cmd = "rustc --crate-name=cgu --crate-type=rlib --edition=2021 -Ccodegen-units=8 -Copt-level=3 -o $@ $<",
)
`
	return newWorkspace(t, files)
}

// Under bld build -j2, no more than 2 of rustc's threads work at once, and
// 2 do: rustc runs its codegen units in parallel on the pool's 2 tokens
// (the action's own and one extra it reads from bld's jobserver). The same
// rustc command without the jobserver, in a genrule under the same -j2,
// makes its own token pool and works on more threads at once, which shows
// that the measurement can see an overrun; and under -j4 the same crate
// works on 3 or 4 threads. Threads are sampled from /proc
// every 25 ms; see concurrency for what counts as working.
func TestRustJobserver(t *testing.T) {
	w := rustThreadsWorkspace(t)
	measure := func(jobs, target string) int {
		r, samples := runSampling(t, w, "build", jobs, "--cache-dir", t.TempDir(), target)
		if r.code != 0 {
			t.Fatalf("want success, got:\n%s", r)
		}
		if strings.Contains(r.output(), "jobserver") {
			t.Errorf("rustc complains about the jobserver:\n%s", r)
		}
		raw, working, transient := concurrency(samples)
		t.Logf("%s under bld %s in %v: %d samples; working threads at most %d; runnable threads in one sample at most %d",
			target, jobs, r.elapsed.Round(time.Millisecond), len(samples), working, raw)
		for _, s := range transient {
			t.Logf("  transient: %s", s)
		}
		if len(samples) < 20 {
			t.Fatalf("%s: only %d samples: the build was too quick to measure", target, len(samples))
		}
		return working
	}
	if working := measure("-j2", "//cg:jobserver"); working != 2 {
		if working > 2 {
			t.Errorf("%d rustc threads worked at once under bld -j2, want at most 2", working)
		} else {
			t.Errorf("never more than %d rustc thread worked at once: rustc did not run its codegen units in parallel on the pool's 2 tokens", working)
		}
	}
	if working := measure("-j2", "//cg:alone"); working <= 2 {
		t.Errorf("rustc without the jobserver worked on at most %d threads at once; the control should exceed 2 (rustc makes its own pool)", working)
	}
	// The bound is the pool's: with 4 tokens, rustc works on more threads
	// than 2, and on no more than 4.
	w.mustBuild("clean")
	if working := measure("-j4", "//cg:jobserver"); working <= 2 || working > 4 {
		t.Errorf("%d rustc threads worked at once under bld -j4, want 3 or 4", working)
	}
}

// A program whose dependencies reach a crate only transitively (-L
// dependency=), and two crates named util in different packages: one a
// direct dependency of the program, one of its dependency b. rustc tells
// them apart by -Cmetadata=<label>; without it, it refuses to link them.
func TestRustTransitiveDeps(t *testing.T) {
	needTool(t, "rustc")
	const load = "load(\"@bld//rules:rust.star\", \"rust_unit\", \"rust_binary\")\n"
	w := newWorkspace(t, map[string]string{
		"x/BUILD.star":   load + "rust_unit(name = \"util\", srcs = [\"lib.rs\"])\n",
		"x/lib.rs":       "pub fn twice(n: u32) -> u32 { 2 * n }\n",
		"y/BUILD.star":   load + "rust_unit(name = \"util\", srcs = [\"lib.rs\"])\n",
		"y/lib.rs":       "pub fn name() -> &'static str { \"y\" }\n",
		"b/BUILD.star":   load + "rust_unit(name = \"b\", srcs = [\"lib.rs\"], deps = [\"//x:util\"], partitions = 2)\n",
		"b/lib.rs":       "pub fn four() -> u32 { util::twice(2) }\n",
		"app/BUILD.star": load + "rust_binary(name = \"app\", srcs = [\"main.rs\"], deps = [\"//b\", \"//y:util\"])\n",
		"app/main.rs":    "fn main() { println!(\"{} {}\", util::name(), b::four()); }\n",
	})
	w.mustBuild("build", "//app")
	out, err := exec.Command(w.path("bld-out/app/app")).CombinedOutput()
	if err != nil {
		t.Fatalf("app: %v\n%s", err, out)
	}
	if got, want := string(out), "y 4\n"; got != want {
		t.Errorf("app printed %q, want %q", got, want)
	}
}

// rustc's dep-info names a module file with a space and an include_str!
// file with a "#" (rustc escapes the space, not the "#"): bld reads it,
// and an edit of either file reruns the crate.
func TestRustDepInfoNames(t *testing.T) {
	needTool(t, "rustc")
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": "load(\"@bld//rules:rust.star\", \"rust_unit\")\nrust_unit(name = \"p\", srcs = [\"lib.rs\", \"a b.rs\", \"d#1.txt\"])\n",
		"p/lib.rs":     "#[path = \"a b.rs\"]\nmod ab;\npub fn f() -> usize { ab::G.len() + include_str!(\"d#1.txt\").len() }\n",
		"p/a b.rs":     "pub const G: &str = \"x\";\n",
		"p/d#1.txt":    "one\n",
	})
	const compile = "//p:p RustCompile bld-out/p/_rust/p.d,bld-out/p/libp.rlib"
	w.mustBuild("build", "//p")
	for _, edit := range []string{"p/a b.rs", "p/d#1.txt"} {
		w.write(edit, w.read(edit)+"\n")
		events, _ := w.cacheBuildEvents("//p")
		if diff := cmp.Diff([]string{compile}, cacheRanKeys(events)); diff != "" {
			t.Errorf("after editing %s (-want +got):\n%s", edit, diff)
		}
	}
	wantContains(t, w.mustBuild("build", "//p").stderr, "nothing to do")
}
