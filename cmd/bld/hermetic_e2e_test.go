package main

// End-to-end tests of issue 7: actions cannot read what they do not
// declare (sandbox), compiles are keyed on the headers they read
// (depfiles), results built from inputs that changed during the run are
// not kept, objects do not depend on where the checkout is, and the tool
// identity covers the compiler driver's programs and nothing of PATH else.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ranWith returns the keys of the events with status "ran" and mnemonic m.
func ranWith(events []event, m string) []string {
	var out []string
	for _, e := range events {
		if e.Status == "ran" && e.Mnemonic == m {
			out = append(out, e.key())
		}
	}
	return out
}

// buildEvents builds patterns with --events and returns the events.
func (w *testWorkspace) buildEvents(args ...string) []event {
	w.t.Helper()
	w.mustBuild(append([]string{"build", "--events", "hermetic-ev.json"}, args...)...)
	return w.readEvents("hermetic-ev.json")
}

// A header in the source's directory that no rule lists: the compile
// cannot see it, and bld says which file to declare. Declared, it is
// tracked: an edit reruns the compile, a deletion is an error, in this
// checkout and after bld clean.
func TestUndeclaredHeaderInSameDirectory(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"])
`,
		"app/main.c":  "#include <stdio.h>\n#include \"local.h\"\nint main(void) { printf(\"%d\\n\", LOCAL); return 0; }\n",
		"app/local.h": "#define LOCAL 1\n",
	})
	r := w.bld("build", "//app")
	if r.code == 0 {
		t.Fatalf("an undeclared header was found:\n%s", r)
	}
	wantContains(t, r.stderr, "local.h", "not an input of this action")

	w.write("app/BUILD.star", `cc_binary(name = "app", srcs = ["main.c", "local.h"])
`)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "1\n")
	w.write("app/local.h", "#define LOCAL 2\n")
	ev := w.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("after editing local.h, compiles that ran: %v, want main.c's", got)
	}
	wantOutput(t, w, "bld-out/app/app", "2\n")
	w.mustBuild("clean")
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "2\n")

	os.Remove(w.path("app/local.h"))
	r = w.bld("build", "//app")
	if r.code == 0 {
		t.Fatalf("built with a declared header deleted:\n%s", r)
	}
	wantContains(t, r.stderr, "app/local.h")
}

// A header included by a declared header, but not declared itself: not
// visible. Declared, an edit of it reruns exactly the compiles that
// include it, also through another header.
func TestHeaderIncludedFromHeader(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/BUILD.star": `cc_unit(name = "lib", srcs = ["a.c", "b.c"], hdrs = ["a.h"], includes = ["."])
`,
		"lib/a.h":     "#include \"inner.h\"\nint a(void);\n",
		"lib/inner.h": "#define INNER 3\n",
		"lib/a.c":     "#include \"a.h\"\nint a(void) { return INNER; }\n",
		"lib/b.c":     "int b(void) { return 4; }\n",
	})
	r := w.bld("build", "//lib")
	if r.code == 0 {
		t.Fatalf("a header included by a header but not declared was found:\n%s", r)
	}
	wantContains(t, r.stderr, "inner.h")
	w.write("lib/BUILD.star", `cc_unit(name = "lib", srcs = ["a.c", "b.c"], hdrs = ["a.h", "inner.h"], includes = ["."])
`)
	w.mustBuild("build", "//lib")
	w.write("lib/inner.h", "#define INNER 5\n")
	ev := w.buildEvents("//lib")
	got := ranWith(ev, "CcCompile")
	if len(got) != 1 || !strings.Contains(got[0], "/a.o") {
		t.Errorf("after editing inner.h, compiles that ran: %v, want a.c's only", got)
	}
}

// A header outside the workspace (copts = ["-I/elsewhere"]) enters the key
// by content: an edit reruns the compile, and bld clean restores the
// right object.
func TestHeaderOutsideWorkspace(t *testing.T) {
	ext := t.TempDir()
	os.WriteFile(filepath.Join(ext, "ext.h"), []byte("#define EXT 10\n"), 0o644)
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": fmt.Sprintf(`cc_binary(name = "app", srcs = ["main.c"], copts = ["-I%s"])
`, ext),
		"app/main.c": "#include <stdio.h>\n#include \"ext.h\"\nint main(void) { printf(\"%d\\n\", EXT); return 0; }\n",
	})
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "10\n")
	os.WriteFile(filepath.Join(ext, "ext.h"), []byte("#define EXT 11\n"), 0o644)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "11\n")
	w.mustBuild("clean")
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "11\n")
	os.WriteFile(filepath.Join(ext, "ext.h"), []byte("#define EXT 10\n"), 0o644)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "10\n")
}

// A generated header whose genrule is removed: the file left in bld-out
// must not be found, neither now nor after bld clean.
func TestRemovedGeneratedHeader(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `genrule(name = "config", outs = ["config.h"], cmd = "echo '#define CONFIG 7' > $@")
cc_binary(name = "app", srcs = ["main.c", ":config"], includes = ["."])
`,
		"app/main.c": "#include <stdio.h>\n#include \"config.h\"\nint main(void) { printf(\"%d\\n\", CONFIG); return 0; }\n",
	})
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "7\n")
	w.write("app/BUILD.star", `cc_binary(name = "app", srcs = ["main.c"], includes = ["."])
`)
	if r := w.bld("build", "//app"); r.code == 0 {
		t.Fatalf("built with the genrule of config.h removed:\n%s", r)
	}
	w.mustBuild("clean")
	if r := w.bld("build", "//app"); r.code == 0 {
		t.Fatalf("built with the genrule of config.h removed, after bld clean:\n%s", r)
	}
}

// A genrule that runs a script it does not declare fails, naming the
// script; declared in tools, it runs, and an edit of it reruns the rule.
func TestUndeclaredScript(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"gen/BUILD.star": `genrule(name = "out", outs = ["out.txt"], cmd = "./gen/gen.sh > $@")
`,
		"gen/gen.sh": "#!/bin/sh\necho one\n",
	})
	os.Chmod(w.path("gen/gen.sh"), 0o755)
	r := w.bld("build", "//gen:out")
	if r.code == 0 {
		t.Fatalf("an undeclared script ran:\n%s", r)
	}
	wantContains(t, r.stderr, "gen/gen.sh", "not an input of this action")
	w.write("gen/BUILD.star", `genrule(name = "out", outs = ["out.txt"], tools = ["gen.sh"], cmd = "./gen/gen.sh > $@")
`)
	w.mustBuild("build", "//gen:out")
	if got := w.read("bld-out/gen/out.txt"); got != "one\n" {
		t.Errorf("out.txt = %q", got)
	}
	w.write("gen/gen.sh", "#!/bin/sh\necho two\n")
	w.mustBuild("build", "//gen:out")
	if got := w.read("bld-out/gen/out.txt"); got != "two\n" {
		t.Errorf("after editing gen.sh, out.txt = %q", got)
	}
}

// An input rewritten with its own content while its action runs (git
// stash, then git stash pop): the result is neither cached nor recorded
// as up to date, and bld says so.
func TestInputChangedAndRestoredDuringRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	w := newWorkspace(t, map[string]string{
		"slow/BUILD.star": fmt.Sprintf(`genrule(name = "copy", srcs = ["in.txt"], outs = ["out.txt"],
    cmd = "cat $< > $@; touch %s; sleep 2")
`, marker),
		"slow/in.txt": "original\n",
	})
	cmd := w.command(".", "build", "//slow:copy")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the action never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.write("slow/in.txt", "stashed\n")
	w.write("slow/in.txt", "original\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("build: %v\n%s", err, stderr.String())
	}
	wantContains(t, stderr.String(), "slow/in.txt changed while", "not cached")
	ev := w.buildEvents("//slow:copy")
	if got := ranWith(ev, "Genrule"); len(got) != 1 {
		t.Errorf("the next build ran %v, want the genrule again", got)
	}
}

// Twenty sources, each including its own one of twenty headers: editing
// one header reruns one compile.
func TestOneHeaderEditOneCompile(t *testing.T) {
	files := map[string]string{}
	var srcs, hdrs []string
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("lib/h%02d.h", i)] = fmt.Sprintf("#define V%d %d\n", i, i)
		files[fmt.Sprintf("lib/s%02d.c", i)] = fmt.Sprintf("#include \"h%02d.h\"\nint f%d(void) { return V%d; }\n", i, i, i)
		srcs = append(srcs, fmt.Sprintf("%q", fmt.Sprintf("s%02d.c", i)))
		hdrs = append(hdrs, fmt.Sprintf("%q", fmt.Sprintf("h%02d.h", i)))
	}
	files["lib/BUILD.star"] = fmt.Sprintf("cc_unit(name = \"lib\", srcs = [%s], hdrs = [%s], includes = [\".\"])\n",
		strings.Join(srcs, ", "), strings.Join(hdrs, ", "))
	w := newWorkspace(t, files)
	w.mustBuild("build", "//lib")
	w.write("lib/h07.h", "#define V7 70\n")
	ev := w.buildEvents("//lib")
	got := ranWith(ev, "CcCompile")
	if len(got) != 1 || !strings.Contains(got[0], "s07.o") {
		t.Errorf("after editing h07.h, compiles that ran: %v, want s07.c's only", got)
	}
	if n := len(ranWith(ev, "CcArchive")); n != 1 {
		t.Errorf("archives that ran: %d, want 1 (the object changed)", n)
	}
	// A comment only: the compile reruns and writes the same object, so
	// the archive, keyed on the object's content, does not run.
	w.write("lib/h07.h", "#define V7 70\n/* a comment */\n")
	ev = w.buildEvents("//lib")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("after a comment in h07.h, compiles that ran: %v", got)
	}
	if n := len(ranWith(ev, "CcArchive")); n != 0 {
		t.Errorf("archives that ran after a comment-only edit: %d, want 0", n)
	}
}

// Objects built with -g are byte-identical in two checkouts at different
// paths, whether restored from a shared cache or built fresh, and their
// debug info does not name either checkout.
func TestDebugInfoLocationIndependent(t *testing.T) {
	files := map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c", "util.h"], copts = ["-g", "-O0"])
`,
		"app/util.h": "static inline int twice(int x) { return 2 * x; }\n",
		"app/main.c": "#include <stdio.h>\n#include \"util.h\"\nint main(void) { printf(\"%d %s\\n\", twice(21), __FILE__); return 0; }\n",
	}
	a := newWorkspace(t, files)
	b := newWorkspace(t, files)
	b.env = a.env // one cache, one HOME
	obj := "bld-out/app/_objs/app/app/main.o"
	a.mustBuild("build", "//app")
	wantOutput(t, a, "bld-out/app/app", "42 app/main.c\n")
	ev := b.buildEvents("//app")
	if n := len(ranWith(ev, "CcCompile")); n != 0 {
		t.Errorf("second checkout with one cache: %d compiles ran, want 0", n)
	}
	if a.read(obj) != b.read(obj) {
		t.Errorf("restored object differs from the first checkout's")
	}
	fresh := newWorkspace(t, files) // its own, empty cache
	fresh.mustBuild("build", "//app")
	if a.read(obj) != fresh.read(obj) {
		t.Errorf("object built fresh in another checkout differs")
	}
	for _, w := range []*testWorkspace{a, b, fresh} {
		if data := w.read(obj); strings.Contains(data, w.root) || strings.Contains(data, a.root) {
			t.Errorf("%s names a checkout path", obj)
		}
	}
	out, err := exec.Command("readelf", "--debug-dump=info", a.path(obj)).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("DW_AT_comp_dir")) || bytes.Contains(out, []byte("bld-sandbox")) {
		t.Errorf("comp_dir should be mapped to '.':\n%s", grepLines(out, "comp_dir"))
	}
}

// PATH: an empty directory prepended reruns nothing; a directory with
// another assembler (which gcc finds through PATH) reruns the compiles and
// only them.
func TestPathAndToolchainIdentity(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"])
genrule(name = "txt", outs = ["t.txt"], cmd = "echo hi > $@")
`,
		"app/main.c": "int main(void) { return 0; }\n",
	})
	w.mustBuild("build", "//app:all")
	empty := t.TempDir()
	withPath := func(dirs ...string) *testWorkspace {
		env := append([]string(nil), w.env...)
		for i, kv := range env {
			if strings.HasPrefix(kv, "PATH=") {
				env[i] = "PATH=" + strings.Join(append(dirs, os.Getenv("PATH")), ":")
			}
		}
		return &testWorkspace{t: t, root: w.root, env: env, cache: w.cache}
	}
	ev := withPath(empty).buildEvents("//app:all")
	if got := withStatus(ev, "ran"); len(got) != 0 {
		t.Errorf("an empty directory prepended to PATH reran %v", got)
	}
	asPath, err := exec.LookPath("as")
	if err != nil {
		t.Fatal(err)
	}
	wrap := t.TempDir()
	os.WriteFile(filepath.Join(wrap, "as"), []byte("#!/bin/sh\n# another assembler\nexec "+asPath+" \"$@\"\n"), 0o755)
	ev = withPath(wrap).buildEvents("//app:all")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("another as in PATH: compiles that ran %v, want 1", got)
	}
	if got := ranWith(ev, "Genrule"); len(got) != 0 {
		t.Errorf("another as in PATH reran the genrule: %v", got)
	}
}

// wantOutput runs a built program and compares what it prints.
func wantOutput(t *testing.T, w *testWorkspace, prog, want string) {
	t.Helper()
	cmd := exec.Command(w.path(prog))
	cmd.Dir = w.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", prog, err, out)
	}
	if string(out) != want {
		t.Errorf("%s printed %q, want %q", prog, out, want)
	}
}

func grepLines(data []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Bazel's tags: "no-sandbox" on a genrule lets it read an undeclared file
// (at the user's risk), "no-cache" makes it run on every build.
func TestTags(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"t/BUILD.star": `genrule(name = "loose", outs = ["loose.txt"], cmd = "cat t/undeclared.txt > $@", tags = ["no-sandbox"])
genrule(name = "strict", outs = ["strict.txt"], cmd = "cat t/undeclared.txt > $@")
genrule(name = "always", outs = ["always.txt"], cmd = "date +%N > $@", tags = ["no-cache"])
`,
		"t/undeclared.txt": "read anyway\n",
	})
	w.mustBuild("build", "//t:loose", "//t:always")
	if got := w.read("bld-out/t/loose.txt"); got != "read anyway\n" {
		t.Errorf("loose.txt = %q", got)
	}
	if r := w.bld("build", "//t:strict"); r.code == 0 {
		t.Errorf("a sandboxed genrule read an undeclared file:\n%s", r)
	}
	ev := w.buildEvents("//t:loose", "//t:always")
	if got := ranWith(ev, "Genrule"); len(got) != 1 || !strings.Contains(got[0], "always") {
		t.Errorf("second build ran %v, want the no-cache genrule only", got)
	}
}

// Two checkouts share one cache; the second has another version of a
// header: its compile runs (the first checkout's object is not restored),
// and its program prints its own value.
func TestSecondCheckoutDifferentHeader(t *testing.T) {
	files := map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c", "local.h"])
`,
		"app/main.c":  "#include <stdio.h>\n#include \"local.h\"\nint main(void) { printf(\"%d\\n\", LOCAL); return 0; }\n",
		"app/local.h": "#define LOCAL 1\n",
	}
	a := newWorkspace(t, files)
	b := newWorkspace(t, files)
	b.env = a.env // one cache
	b.write("app/local.h", "#define LOCAL 2\n")
	a.mustBuild("build", "//app")
	ev := b.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("second checkout with another local.h: compiles that ran %v, want 1", got)
	}
	wantOutput(t, a, "bld-out/app/app", "1\n")
	wantOutput(t, b, "bld-out/app/app", "2\n")
	// And back: the second checkout takes the first's header; its
	// object is restored from the cache.
	b.write("app/local.h", "#define LOCAL 1\n")
	ev = b.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 0 {
		t.Errorf("second checkout with the first's local.h: compiles that ran %v, want none", got)
	}
	wantOutput(t, b, "bld-out/app/app", "1\n")
}

// A new compiler proper under the same driver: the driver, a script that
// says where its cc1 is (as gcc -print-prog-name=cc1 does) and otherwise
// runs the real gcc, is unchanged; its cc1 changes. The compile reruns.
func TestNewCompilerUnderSameDriver(t *testing.T) {
	realGCC, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal(err)
	}
	tc := t.TempDir()
	cc1 := filepath.Join(tc, "cc1")
	os.WriteFile(cc1, []byte("#!/bin/sh\n# cc1 version 1\n"), 0o755)
	driver := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = -print-prog-name=cc1 ]; then echo %s; exit 0; fi\nexec %s \"$@\"\n", cc1, realGCC)
	os.WriteFile(filepath.Join(tc, "gcc"), []byte(driver), 0o755)
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"])
`,
		"app/main.c": "int main(void) { return 0; }\n",
	})
	for i, kv := range w.env {
		if strings.HasPrefix(kv, "PATH=") {
			w.env[i] = "PATH=" + tc + ":" + os.Getenv("PATH")
		}
	}
	w.mustBuild("build", "//app")
	ev := w.buildEvents("//app")
	if got := withStatus(ev, "ran"); len(got) != 0 {
		t.Fatalf("nothing changed, ran %v", got)
	}
	os.WriteFile(cc1, []byte("#!/bin/sh\n# cc1 version 2\n"), 0o755)
	ev = w.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("after a new cc1, compiles that ran %v, want 1", got)
	}
}

// asWrapper writes an executable as at p that runs the real assembler with
// extra arguments (extra may be empty).
func asWrapper(t *testing.T, p, extra string) {
	t.Helper()
	realAs, err := exec.LookPath("as")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s\"$@\"\n", realAs, extra)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// wantMark checks whether the object at rel defines the symbol MARK (the
// wrapper assembler's --defsym MARK=1), with nm.
func wantMark(t *testing.T, w *testWorkspace, rel string, want bool) {
	t.Helper()
	out, err := exec.Command("nm", w.path(rel)).CombinedOutput()
	if err != nil {
		t.Fatalf("nm %s: %v\n%s", rel, err, out)
	}
	if got := strings.Contains(string(out), " MARK\n"); got != want {
		t.Errorf("%s defines MARK: %v, want %v\n%s", rel, got, want, out)
	}
}

// wantNoOp waits out the racy windows of bld's memos, so that the no-op
// build it then runs records its actions (the next build can take the
// fast path), and fails the test if that build ran anything.
func wantNoOp(t *testing.T, w *testWorkspace) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	if got := withStatus(w.buildEvents("//app"), "ran"); len(got) != 0 {
		t.Fatalf("nothing changed, ran %v", got)
	}
}

// findObject returns the workspace path of the one object under
// bld-out/app.
func findObject(t *testing.T, w *testWorkspace) string {
	t.Helper()
	var objs []string
	filepath.WalkDir(w.path("bld-out/app"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".o") {
			rel, _ := filepath.Rel(w.root, p)
			objs = append(objs, rel)
		}
		return nil
	})
	if len(objs) != 1 {
		t.Fatalf("objects under bld-out/app: %v, want one", objs)
	}
	return objs[0]
}

// An assembler in a -B directory of the compile's options: gcc runs it,
// so the key covers it. Editing it reruns the compile, and after bld clean
// the object restored is the edited assembler's (it defines MARK), not
// the first one's.
func TestAssemblerInBDirectory(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal(err)
	}
	mybin := filepath.Join(t.TempDir(), "mybin")
	if err := os.MkdirAll(mybin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(mybin, "as")
	for _, copts := range []string{`"-B` + mybin + `/"`, `"-B", "` + mybin + `"`} {
		t.Run(copts, func(t *testing.T) {
			asWrapper(t, wrapper, "")
			w := newWorkspace(t, map[string]string{
				"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], copts = [` + copts + `])
`,
				"app/main.c": "int main(void) { return 0; }\n",
			})
			w.mustBuild("build", "//app")
			obj := findObject(t, w)
			wantMark(t, w, obj, false)
			wantNoOp(t, w)
			asWrapper(t, wrapper, "--defsym MARK=1 ")
			ev := w.buildEvents("//app")
			if got := ranWith(ev, "CcCompile"); len(got) != 1 {
				t.Errorf("after editing the -B directory's as, compiles that ran %v, want 1", got)
			}
			wantMark(t, w, obj, true)
			w.mustBuild("clean")
			w.mustBuild("build", "//app")
			wantMark(t, w, obj, true)
		})
	}
}

// A new assembler in a directory already on PATH (the PATH string does
// not change): gcc runs it, so the compile reruns, in this build and after
// bld clean, where the object restored is the new assembler's.
func TestNewAssemblerInPathDirectory(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"])
`,
		"app/main.c": "int main(void) { return 0; }\n",
	})
	for i, kv := range w.env {
		if strings.HasPrefix(kv, "PATH=") {
			w.env[i] = "PATH=" + dir + ":" + os.Getenv("PATH")
		}
	}
	w.mustBuild("build", "//app")
	obj := findObject(t, w)
	wantMark(t, w, obj, false)
	wantNoOp(t, w)
	asWrapper(t, filepath.Join(dir, "as"), "--defsym MARK=1 ")
	ev := w.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("after a new as in a PATH directory, compiles that ran %v, want 1", got)
	}
	wantMark(t, w, obj, true)
	w.mustBuild("clean")
	w.mustBuild("build", "//app")
	wantMark(t, w, obj, true)
}

// An assembler that appears in a -B directory after a build: gcc now runs
// it instead of the one in PATH, so the compile reruns.
func TestAssemblerAddedToBDirectory(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal(err)
	}
	mybin := filepath.Join(t.TempDir(), "mybin")
	if err := os.MkdirAll(mybin, 0o755); err != nil {
		t.Fatal(err)
	}
	w := newWorkspace(t, map[string]string{
		"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], copts = ["-B` + mybin + `/"])
`,
		"app/main.c": "int main(void) { return 0; }\n",
	})
	w.mustBuild("build", "//app")
	obj := findObject(t, w)
	wantMark(t, w, obj, false)
	wantNoOp(t, w)
	asWrapper(t, filepath.Join(mybin, "as"), "--defsym MARK=1 ")
	ev := w.buildEvents("//app")
	if got := ranWith(ev, "CcCompile"); len(got) != 1 {
		t.Errorf("after an as appeared in the -B directory, compiles that ran %v, want 1", got)
	}
	wantMark(t, w, obj, true)
}
