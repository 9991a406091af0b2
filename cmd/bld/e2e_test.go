package main

// End-to-end tests: the real bld binary on workspaces in temporary
// directories, with the real /bin/sh and gcc.

import (
	"bufio"
	"bytes"
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

	"github.com/google/go-cmp/cmp"
)

// A genrule that works, used to repair a broken workspace.
const goodBuild = `genrule(name = "gen", outs = ["gen.txt"], cmd = "echo generated > $@")
genrule(name = "use", srcs = [":gen"], outs = ["use.txt"], cmd = "cat $< > $@; echo used >> $@")
`

// TestBadInput checks that each kind of mistake in BUILD.star and .star
// files fails the build with a message that names the place and says what
// to do, writes nothing, and that the repaired workspace then builds.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		pattern string
		// want are regular expressions the output must match.
		want []string
	}{
		{
			name: "syntax error",
			files: map[string]string{"p/BUILD.star": `genrule(
    name = "use",
    outs = ["use.txt"]
    cmd = "echo hi > $@",
)
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:4:\d+: got identifier, want ','`},
		},
		{
			name: "runtime error in a rule implementation",
			files: map[string]string{
				"p/BUILD.star": `load("//p:r.star", "r")
r(name = "use")
`,
				"p/r.star": `def _helper(x):
    return x["missing"]

def _impl(ctx):
    return _helper({})

r = rule(implementation = _impl, attrs = {})
`},
			pattern: "//p:use",
			want: []string{
				`analyzing //p:use \(r, declared at p/BUILD.star:2:2\)`,
				`Traceback`,
				`p/r.star:5:19: in _impl`,
				`p/r.star:2:13: in _helper`,
				`key "missing" not in dict`,
			},
		},
		{
			name: "unknown attribute",
			files: map[string]string{"p/BUILD.star": `genrule(
    name = "use",
    outs = ["use.txt"],
    cmd = "echo hi > $@",
    scrs = ["x.txt"],
)
`},
			pattern: "//p:use",
			want: []string{
				`p/BUILD.star:1:8`,
				`unknown attribute "scrs" \(did you mean "srcs"\?\)`,
			},
		},
		{
			name: "string attribute of the wrong type",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", outs = ["use.txt"], cmd = ["echo hi > $@"])
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:1:8`, `attribute cmd \(string\): want a string, got list`},
		},
		{
			name: "label list attribute of the wrong type",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", srcs = "in.txt", outs = ["use.txt"], cmd = "echo hi > $@")
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:1:8`, `attribute srcs .*want a list of labels, got string`},
		},
		{
			name: "unknown label (swapped letters)",
			files: map[string]string{"p/BUILD.star": `genrule(name = "gen", outs = ["gen.txt"], cmd = "echo generated > $@")
genrule(name = "use", srcs = [":gne"], outs = ["use.txt"], cmd = "cat $< > $@")
`},
			pattern: "//p:use",
			want: []string{
				`p/BUILD.star:2:8: genrule //p:use depends on //p:gne`,
				`no target or file //p:gne`,
				`did you mean //p:gen\?`,
			},
		},
		{
			name: "unknown label (missing letter)",
			files: map[string]string{"p/BUILD.star": `genrule(name = "generate", outs = ["gen.txt"], cmd = "echo generated > $@")
genrule(name = "use", srcs = [":generat"], outs = ["use.txt"], cmd = "cat $< > $@")
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:2:8`, `did you mean //p:generate\?`},
		},
		{
			name: "unknown target on the command line",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", outs = ["use.txt"], cmd = "echo hi > $@")
`},
			pattern: "//p:uss",
			want:    []string{`no target or file //p:uss`, `did you mean //p:use\?`},
		},
		{
			name: "unknown package in a dependency",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", srcs = ["//q:x"], outs = ["use.txt"], cmd = "echo hi > $@")
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:1:8`, `//q:x`, `no package //q`},
		},
		{
			name: "duplicate target name",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", outs = ["a.txt"], cmd = "echo a > $@")

genrule(name = "use", outs = ["b.txt"], cmd = "echo b > $@")
`},
			pattern: "//p:use",
			want:    []string{`p/BUILD.star:3:8`, `duplicate target name "use": already declared at p/BUILD.star:1:8`, `rename one`},
		},
		{
			name: "load cycle",
			files: map[string]string{
				"p/BUILD.star": `load("//p:a.star", "a")
`,
				"p/a.star": `load("//p:b.star", "b")
a = 1
`,
				"p/b.star": `load("//p:a.star", "a")
b = 1
`},
			pattern: "//p:all",
			want: []string{
				`p/BUILD.star:1:1`,
				`load cycle: //p:a.star -> //p:b.star -> //p:a.star`,
				`break it`,
			},
		},
		{
			name: "dependency cycle",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", srcs = [":b"], outs = ["use.txt"], cmd = "cat $< > $@")
genrule(name = "b", srcs = [":c"], outs = ["b.txt"], cmd = "cat $< > $@")
genrule(name = "c", srcs = [":use"], outs = ["c.txt"], cmd = "cat $< > $@")
`},
			pattern: "//p:use",
			want:    []string{`dependency cycle: //p:use -> //p:b -> //p:c -> //p:use`, `remove one`},
		},
		{
			name: "missing source file",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", srcs = ["missing.txt"], outs = ["use.txt"], cmd = "cat $< > $@")
`},
			pattern: "//p:use",
			want: []string{
				`p/BUILD.star:1:8: genrule //p:use depends on //p:missing.txt`,
				`there is no file p/missing.txt`,
			},
		},
		{
			name: "output declared twice",
			files: map[string]string{"p/BUILD.star": `genrule(name = "gen", outs = ["x.txt"], cmd = "echo a > $@")
genrule(name = "use", outs = ["x.txt"], cmd = "echo b > $@")
`},
			pattern: "//p:all",
			want:    []string{`p/BUILD.star:2:8`, `x\.txt`, `declared twice: by //p:gen \(at p/BUILD.star:1:8\) and by //p:use`, `another name`},
		},
		{
			name: "undefined make variable",
			files: map[string]string{"p/BUILD.star": `genrule(name = "use", outs = ["use.txt"], cmd = "echo $(NAME) > $@")
`},
			pattern: "//p:use",
			want:    []string{`declared at p/BUILD.star:1:8`, `\$\(NAME\) is not defined`, `write \$\$ for a literal \$`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t, tt.files)
			r := w.bld("build", tt.pattern)
			if r.code != exitFailed {
				t.Fatalf("want exit %d, got:\n%s", exitFailed, r)
			}
			wantMatch(t, r.stderr, tt.want...)
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("bld crashed:\n%s", r)
			}
			// The mistake is caught before anything runs: nothing is
			// written that a later build could take as good.
			for _, out := range []string{"bld-out/p/use.txt", "bld-out/p/gen.txt", "bld-out/p/x.txt"} {
				if w.exists(out) {
					t.Errorf("%s exists after a failed build", out)
				}
			}
			// Repaired, the workspace builds.
			for p := range tt.files {
				if err := os.Remove(w.path(p)); err != nil {
					t.Fatal(err)
				}
			}
			w.write("p/BUILD.star", goodBuild)
			w.mustBuild("build", "//p:use")
			if got, want := w.read("bld-out/p/use.txt"), "generated\nused\n"; got != want {
				t.Errorf("use.txt = %q, want %q", got, want)
			}
		})
	}
}

// TestFailingAction checks that a failing command is reported once, as one
// block with its label, command line and output, that its partial output is
// not kept, and that the next build runs it again.
func TestFailingAction(t *testing.T) {
	// The command prints lines that do not appear in the command itself,
	// so that each one can be counted in bld's output.
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `genrule(
    name = "bad",
    outs = ["bad.txt"],
    cmd = "echo partial > $@; printf 'OUT%s\\n' _LINE_ONE; printf 'ERR%s\\n' _LINE_TWO >&2; exit 3",
)
genrule(name = "after", srcs = [":bad"], outs = ["after.txt"], cmd = "cat $< > $@")
`})
	r := w.bld("build", "--events", "ev.json", "//p:after")
	if r.code != exitFailed {
		t.Fatalf("want exit %d, got:\n%s", exitFailed, r)
	}
	out := r.output()
	cmdline := `/bin/sh -e -c 'echo partial > bld-out/p/bad.txt; printf '\''OUT%s\n'\'' _LINE_ONE; printf '\''ERR%s\n'\'' _LINE_TWO >&2; exit 3'`
	for _, s := range []string{"OUT_LINE_ONE", "ERR_LINE_TWO", cmdline, "exited with status 3"} {
		if n := strings.Count(out, s); n != 1 {
			t.Errorf("%q appears %d times in the output, want once:\n%s", s, n, out)
		}
	}
	wantContains(t, out, "//p:bad")
	// One block: the label, the command and the output together.
	i := strings.Index(out, "//p:bad (Genrule)")
	j := strings.Index(out, cmdline)
	k := strings.Index(out, "OUT_LINE_ONE")
	l := strings.Index(out, "ERR_LINE_TWO")
	if !(i >= 0 && i < j && j < k && k < l) {
		t.Errorf("want the label, the command line and the output in that order:\n%s", out)
	}
	if w.exists("bld-out/p/bad.txt") {
		t.Errorf("the failed action's partial output bld-out/p/bad.txt was kept: %q", w.read("bld-out/p/bad.txt"))
	}
	events := w.readEvents("ev.json")
	if got, want := withStatus(events, "failed"), []string{"//p:bad Genrule bld-out/p/bad.txt"}; !cmp.Equal(got, want) {
		t.Errorf("failed actions: %v, want %v", got, want)
	}
	for _, e := range events {
		if e.Label == "//p:after" {
			t.Errorf("the dependent of a failed action ran: %+v", e)
		}
		if e.Status == "failed" && e.ExitCode != 3 {
			t.Errorf("exit_code = %d, want 3", e.ExitCode)
		}
	}

	// Nothing changed: it fails again, by running again.
	r = w.bld("build", "--events", "ev.json", "//p:after")
	if r.code != exitFailed {
		t.Fatalf("second build: want exit %d, got:\n%s", exitFailed, r)
	}
	if got := statuses(w.readEvents("ev.json")); got["failed"] != 1 || got["cached"]+got["restored"] != 0 {
		t.Errorf("second build: statuses %v, want the action run (and fail) again", got)
	}

	// Fixed, it builds.
	w.write("p/BUILD.star", `genrule(name = "bad", outs = ["bad.txt"], cmd = "echo fixed > $@")
genrule(name = "after", srcs = [":bad"], outs = ["after.txt"], cmd = "cat $< > $@")
`)
	w.mustBuild("build", "//p:after")
	if got := w.read("bld-out/p/after.txt"); got != "fixed\n" {
		t.Errorf("after.txt = %q, want %q", got, "fixed\n")
	}
}

// TestMissingOutput checks that an action that exits 0 without writing a
// declared output fails, naming the output, and is not taken as good later.
func TestMissingOutput(t *testing.T) {
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `genrule(
    name = "two",
    outs = ["a.txt", "b.txt"],
    cmd = "echo a > $(location a.txt)",
)
`})
	for i := 1; i <= 2; i++ {
		r := w.bld("build", "--events", "ev.json", "//p:two")
		if r.code != exitFailed {
			t.Fatalf("build %d: want exit %d, got:\n%s", i, exitFailed, r)
		}
		wantContains(t, r.stderr, "//p:two", "did not write its declared output bld-out/p/b.txt")
		if strings.Contains(r.stderr, "output bld-out/p/a.txt") {
			t.Errorf("build %d: a.txt, which was written, is named as missing:\n%s", i, r)
		}
		events := w.readEvents("ev.json")
		if got, want := withStatus(events, "failed"), []string{"//p:two Genrule bld-out/p/a.txt,bld-out/p/b.txt"}; !cmp.Equal(got, want) {
			t.Errorf("build %d: failed actions %v, want %v (ran, not taken from a previous result)", i, got, want)
		}
		if got := statuses(events); got["cached"]+got["restored"] != 0 {
			t.Errorf("build %d: statuses %v, want no action taken from a previous result", i, got)
		}
	}
	w.write("p/BUILD.star", `genrule(
    name = "two",
    outs = ["a.txt", "b.txt"],
    cmd = "echo a > $(location a.txt); echo b > $(location b.txt)",
)
`)
	w.mustBuild("build", "//p:two")
	if got := w.read("bld-out/p/a.txt") + w.read("bld-out/p/b.txt"); got != "a\nb\n" {
		t.Errorf("outputs = %q, want %q", got, "a\nb\n")
	}
}

// TestInterrupt sends SIGINT (Ctrl-C) or SIGTERM to bld while an action runs
// a long command that has started a background grandchild: bld must exit
// promptly and non-zero, kill the grandchild, keep no output, and the next
// build must run the action again.
func TestInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			// While side/slow exists, the command starts a grandchild
			// that outlives it and sleeps; without side/slow it just
			// writes its output. The command line is the same either
			// way. (side is outside the workspace, where the sandbox
			// lets actions read and write.)
			// The grandchild is found by its command line (in a pid
			// namespace, $! is not its pid on the host).
			side, arg := t.TempDir(), fmt.Sprintf("30.%d%d", int(sig), os.Getpid())
			os.WriteFile(filepath.Join(side, "slow"), nil, 0o644)
			w := newWorkspace(t, map[string]string{
				"p/BUILD.star": strings.ReplaceAll(strings.ReplaceAll(`genrule(
    name = "slow",
    outs = ["slow.txt"],
    cmd = "if [ -f SIDE/slow ]; then (sleep ARG; echo late) & echo started > SIDE/started; sleep 30; fi; echo done > $@",
)
`, "SIDE", side), "ARG", arg),
			})
			cmd := w.command(".", "build", "//p:slow")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			deadline := time.Now().Add(20 * time.Second)
			for _, err := os.Stat(filepath.Join(side, "started")); err != nil; _, err = os.Stat(filepath.Join(side, "started")) {
				select {
				case err := <-exited:
					t.Fatalf("bld ended before the action started: %v\n%s", err, out.String())
				default:
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the action did not start:\n%s", out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			var grandchild int
			for deadline := time.Now().Add(2 * time.Second); grandchild == 0; {
				if pids := processesRunning(t, "sleep", arg); len(pids) == 1 {
					grandchild, _ = strconv.Atoi(pids[0])
				} else if time.Now().After(deadline) {
					t.Fatalf("the grandchild (sleep %s) is not running before the signal: pids %v", arg, pids)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Cleanup(func() { syscall.Kill(grandchild, syscall.SIGKILL) })
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err == nil || cmd.ProcessState.ExitCode() == 0 {
					t.Errorf("bld exited 0 after %v:\n%s", sig, out.String())
				}
				if d := time.Since(sent); d > 3*time.Second {
					t.Errorf("bld took %v to exit after %v", d, sig)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("bld still runs 10s after %v:\n%s", sig, out.String())
			}
			wantContains(t, out.String(), "interrupted")
			// The grandchild is gone (a zombie nobody reaps counts as gone:
			// it runs nothing).
			for !processGone(grandchild) {
				if time.Since(sent) > 3*time.Second {
					t.Fatalf("the action's background grandchild %d still runs after bld exited", grandchild)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if w.exists("bld-out/p/slow.txt") {
				t.Errorf("the interrupted action left bld-out/p/slow.txt")
			}

			// The same command, now fast: it runs again, and succeeds.
			if err := os.Remove(filepath.Join(side, "slow")); err != nil {
				t.Fatal(err)
			}
			r := w.mustBuild("build", "--events", "ev.json", "//p:slow")
			if got := withStatus(w.readEvents("ev.json"), "ran"); len(got) != 1 {
				t.Errorf("after the interrupt, ran %v, want the action:\n%s", got, r)
			}
			if got := w.read("bld-out/p/slow.txt"); got != "done\n" {
				t.Errorf("slow.txt = %q, want %q", got, "done\n")
			}
		})
	}
}

// TestInterruptDuringLoading interrupts bld while a BUILD.star runs an
// endless loop: Starlark evaluation is cancelled at once.
func TestInterruptDuringLoading(t *testing.T) {
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `print("looping")

def spin():
    x = 0
    while True:
        x += 1

spin()
`})
	cmd := w.command(".", "build", "//p:all")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	for line := range lines {
		out = append(out, line)
		if strings.Contains(line, "looping") {
			break
		}
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		out = append(out, line)
	}
	cmd.Wait()
	if d := time.Since(sent); d > 3*time.Second {
		t.Errorf("bld took %v to stop after SIGINT", d)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d (interrupted):\n%s", code, exitInterrupted, strings.Join(out, "\n"))
	}
	wantContains(t, strings.Join(out, "\n"), "DEBUG p/BUILD.star:1:6: looping", "interrupted")
}

// processGone reports whether pid no longer runs: it does not exist, or it
// is a zombie.
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// queryWorkspace has two packages, a genrule chain, a cc_unit and a
// cc_binary, and source files.
var queryWorkspace = map[string]string{
	"lib/BUILD.star": `genrule(name = "gen", srcs = ["in.txt"], outs = ["gen.h"], cmd = "cp $< $@")
cc_unit(name = "lib", srcs = ["lib.c"], hdrs = ["lib.h", ":gen"], includes = ["."])
`,
	"lib/in.txt": "#define LIB_VALUE 42\n",
	"lib/lib.h":  "int lib_value(void);\n",
	"lib/lib.c":  "#include \"gen.h\"\n#include \"lib.h\"\nint lib_value(void) { return LIB_VALUE; }\n",
	"app/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib"])
genrule(name = "other", outs = ["other.txt"], cmd = "echo other > $@")
`,
	"app/main.c": "#include <stdio.h>\n#include \"lib.h\"\nint main(void) { printf(\"%d\\n\", lib_value()); return 0; }\n",
	"app/sub/BUILD.star": `genrule(name = "leaf", outs = ["leaf.txt"], cmd = "echo leaf > $@")
`,
}

func TestQuery(t *testing.T) {
	w := newWorkspace(t, queryWorkspace)
	tests := []struct {
		dir, expr string
		want      []string
	}{
		{".", "//...", []string{"//app:app", "//app:other", "//app/sub:leaf", "//lib:gen", "//lib:lib"}},
		{".", "//app:all", []string{"//app:app", "//app:other"}},
		{".", "//app/...", []string{"//app:app", "//app:other", "//app/sub:leaf"}},
		{".", "//lib", []string{"//lib:lib"}},
		{".", "deps(//app)", []string{
			"//app:app", "//app:main.c", "//lib:gen", "//lib:in.txt", "//lib:lib", "//lib:lib.c", "//lib:lib.h",
		}},
		{".", "deps(//lib:gen)", []string{"//lib:gen", "//lib:in.txt"}},
		{"app", "...", []string{"//app:app", "//app:other", "//app/sub:leaf"}},
		{"app", ":other", []string{"//app:other"}},
		{"app", "sub:all", []string{"//app/sub:leaf"}},
		{"app/sub", "deps(//app:app)", []string{
			"//app:app", "//app:main.c", "//lib:gen", "//lib:in.txt", "//lib:lib", "//lib:lib.c", "//lib:lib.h",
		}},
	}
	for _, tt := range tests {
		// The wants are written in bld's order: by package, then name.
		r := w.bldIn(tt.dir, "query", tt.expr)
		if r.code != 0 {
			t.Errorf("in %s: %s", tt.dir, r)
			continue
		}
		got := strings.Fields(r.stdout)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("in %s: bld query %q (-want +got):\n%s", tt.dir, tt.expr, diff)
		}
	}
	// Queries build nothing.
	if w.exists("bld-out") {
		t.Errorf("bld query created bld-out/")
	}
	for _, bad := range []struct{ expr, want string }{
		{"//nope/...", "nope"},
		{"rdeps(//app)", `want "," at column 12`},
		{"nope(//app)", "unknown function nope"},
		{"deps(//app:ap)", "did you mean //app:app?"},
	} {
		r := w.bld("query", bad.expr)
		if r.code == 0 {
			t.Errorf("bld query %q succeeded:\n%s", bad.expr, r)
		}
		wantContains(t, r.stderr, bad.want)
	}
}

func TestBuildFromSubdirectory(t *testing.T) {
	w := newWorkspace(t, queryWorkspace)
	// A relative label, from the package's directory.
	if r := w.bldIn("app", "build", ":other"); r.code != 0 {
		t.Fatal(r)
	}
	if got := w.read("bld-out/app/other.txt"); got != "other\n" {
		t.Fatalf("other.txt = %q", got)
	}
	// Absolute and relative labels together, and an events file relative
	// to the working directory.
	r := w.bldIn("app/sub", "build", "--events", "ev.json", "//app:app", ":leaf")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !w.exists("app/sub/ev.json") {
		t.Fatalf("--events ev.json was not written relative to the working directory")
	}
	if got := w.read("bld-out/app/sub/leaf.txt"); got != "leaf\n" {
		t.Errorf("leaf.txt = %q", got)
	}
	prog := w.path("bld-out/app/app")
	outb, err := execOutput(prog)
	if err != nil || outb != "42\n" {
		t.Errorf("%s: %q, %v; want 42", prog, outb, err)
	}
}

func execOutput(prog string, args ...string) (string, error) {
	b, err := exec.Command(prog, args...).Output()
	return string(b), err
}

func TestClean(t *testing.T) {
	w := newWorkspace(t, queryWorkspace)
	w.mustBuild("build", "//app:other")
	if !w.exists("bld-out/app/other.txt") {
		t.Fatal("no output")
	}
	_, cacheErr := os.Stat(w.cache)
	r := w.bldIn("app/sub", "clean")
	if r.code != 0 {
		t.Fatal(r)
	}
	if _, err := os.Stat(w.cache); cacheErr == nil && err != nil {
		t.Errorf("bld clean removed the action cache %s", w.cache)
	}
	if w.exists("bld-out") {
		t.Errorf("bld clean left bld-out/")
	}
	for _, f := range []string{"WORKSPACE.star", "app/BUILD.star", "lib/lib.c"} {
		if !w.exists(f) {
			t.Errorf("bld clean removed %s", f)
		}
	}
	if r := w.bld("clean", "extra"); r.code != exitUsage {
		t.Errorf("bld clean extra: want exit %d:\n%s", exitUsage, r)
	}
	// The next build works, and brings the output back.
	w.mustBuild("build", "//app:other")
	if got := w.read("bld-out/app/other.txt"); got != "other\n" {
		t.Errorf("other.txt = %q", got)
	}
}

func TestVersionAndHelp(t *testing.T) {
	w := newWorkspace(t, nil)
	r := w.bld("version")
	if r.code != 0 || !regexp.MustCompile(`^bld \S+\n$`).MatchString(r.stdout) {
		t.Errorf("bld version:\n%s", r)
	}
	r = w.bld("help", "build")
	if r.code != 0 {
		t.Errorf("bld help build:\n%s", r)
	}
	wantContains(t, r.stdout, "usage: bld build", "-j N", "-k", "--events FILE")
	r = w.bld("help")
	if r.code != 0 {
		t.Errorf("bld help:\n%s", r)
	}
	wantContains(t, r.stdout, "build", "query", "clean", "version", "help")
	r = w.bld("help", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: bld help") {
		t.Errorf("bld help help:\n%s", r)
	}
	for _, flag := range []string{"--help", "-h"} {
		r = w.bld("build", flag)
		if r.code != 0 {
			t.Errorf("bld build %s: want exit 0:\n%s", flag, r)
		}
		wantContains(t, r.stdout, "usage: bld build", "--sandbox MODE", "--action_env")
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"help", "frobnicate"}, {"build", "--nope", "//..."}, {"build", "-j", "0", "//..."}, {"build"}} {
		r := w.bld(args...)
		if r.code != exitUsage {
			t.Errorf("bld %v: want exit %d:\n%s", args, exitUsage, r)
		}
	}
	// Outside a workspace.
	r = (&testWorkspace{t: t, root: t.TempDir(), env: w.env}).bld("build", "//...")
	if r.code == 0 {
		t.Errorf("bld build outside a workspace succeeded:\n%s", r)
	}
	wantContains(t, r.stderr, "WORKSPACE.star")
}

// TestJobs checks -j: with -j 1 no two commands overlap; with -j 2 two
// commands that each wait for the other both finish.
func TestJobs(t *testing.T) {
	side := t.TempDir() // outside the workspace: the sandbox lets actions meet there
	var b strings.Builder
	// Each g holds the directory j.lock while it runs: a second command
	// running at the same time fails to create it.
	for i := range 6 {
		fmt.Fprintf(&b, "genrule(name = \"g%d\", outs = [\"g%d.txt\"], cmd = \"mkdir %[4]s/j.lock; sleep 0.02; rmdir %[4]s/j.lock; echo %[3]d > $@\")\n", i, i, i, side)
	}
	// a and b meet: each announces itself, then waits (at most 10s) for the
	// other. Only two commands running at once can both succeed.
	b.WriteString(strings.ReplaceAll(`genrule(name = "a", outs = ["a.txt"], cmd = "touch SIDE/a.here; i=0; while [ ! -f SIDE/b.here ]; do i=$$((i+1)); [ $$i -lt 1000 ] || exit 1; sleep 0.01; done; echo a > $@")
genrule(name = "b", outs = ["b.txt"], cmd = "touch SIDE/b.here; i=0; while [ ! -f SIDE/a.here ]; do i=$$((i+1)); [ $$i -lt 1000 ] || exit 1; sleep 0.01; done; echo b > $@")
`, "SIDE", side))
	w := newWorkspace(t, map[string]string{"p/BUILD.star": b.String()})
	r := w.mustBuild("build", "-j", "1", "--events", "ev.json", "//p:g0", "//p:g1", "//p:g2", "//p:g3", "//p:g4", "//p:g5")
	if got := statuses(w.readEvents("ev.json")); got["ran"] != 6 {
		t.Errorf("statuses %v, want 6 ran:\n%s", got, r)
	}
	w.mustBuild("build", "-j", "2", "//p:a", "//p:b")
}

// TestJobsCompactFlag checks the -jN spelling that make and ninja users type.
func TestJobsCompactFlag(t *testing.T) {
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")
`})
	w.mustBuild("build", "-j1", "//p:g")
	w.mustBuild("build", "//p:g", "-j2", "-k")
	if r := w.bld("build", "-j0", "//p:g"); r.code != exitUsage {
		t.Errorf("-j0: want exit %d:\n%s", exitUsage, r)
	}
}

// TestKeepGoing checks that after a failure bld starts nothing new, and with
// -k still builds what does not depend on the failure.
func TestKeepGoing(t *testing.T) {
	// bad fails at once. slow, independent, is running then: it waits
	// until bad has failed and a little more, so that bld has seen the
	// failure before slow ends. next depends on slow.
	// bad.failed is outside the workspace, where the sandbox lets
	// actions meet.
	build := `genrule(name = "bad", outs = ["bad.txt"], cmd = "touch SIDE/bad.failed; exit 1")
genrule(name = "slow", outs = ["slow.txt"], cmd = "i=0; while [ ! -f SIDE/bad.failed ]; do i=$$((i+1)); [ $$i -lt 1000 ] || exit 1; sleep 0.01; done; sleep 0.3; echo slow > $@")
genrule(name = "next", srcs = [":slow"], outs = ["next.txt"], cmd = "cat $< > $@")
genrule(name = "after", srcs = [":bad"], outs = ["after.txt"], cmd = "cat $< > $@")
`
	for _, keepGoing := range []bool{false, true} {
		t.Run(fmt.Sprintf("k=%v", keepGoing), func(t *testing.T) {
			w := newWorkspace(t, map[string]string{"p/BUILD.star": strings.ReplaceAll(build, "SIDE", t.TempDir())})
			args := []string{"build", "-j", "2", "--events", "ev.json", "//p:next", "//p:after"}
			if keepGoing {
				args = append(args, "-k")
			}
			r := w.bld(args...)
			if r.code != exitFailed {
				t.Fatalf("want exit %d:\n%s", exitFailed, r)
			}
			events := w.readEvents("ev.json")
			got := map[string]string{}
			for _, e := range events {
				got[e.Label] = e.Status
			}
			want := map[string]string{"//p:bad": "failed", "//p:slow": "ran"}
			if keepGoing {
				want["//p:next"] = "ran"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s\n%s", diff, r)
			}
			if keepGoing != w.exists("bld-out/p/next.txt") {
				t.Errorf("bld-out/p/next.txt exists: %v, want %v", !keepGoing, keepGoing)
			}
		})
	}
}

// TestEvents checks the --events file: one JSON object per action, with the
// documented fields, and statuses that say what happened.
func TestEvents(t *testing.T) {
	w := newWorkspace(t, queryWorkspace)
	start := float64(time.Now().UnixNano()) / 1e9
	r := w.mustBuild("build", "--events", "ev.json", "//app", "//app:other")
	end := float64(time.Now().UnixNano()) / 1e9
	events := w.readEvents("ev.json")
	want := []string{
		"//app:app CcCompile bld-out/app/_objs/app/app/main.d,bld-out/app/_objs/app/app/main.o",
		"//app:app CcLink bld-out/app/app",
		"//app:other Genrule bld-out/app/other.txt",
		"//lib:gen Genrule bld-out/lib/gen.h",
		"//lib:lib CcArchive bld-out/lib/liblib.a",
		"//lib:lib CcCompile bld-out/lib/_objs/lib/lib/lib.d,bld-out/lib/_objs/lib/lib/lib.o",
	}
	if diff := cmp.Diff(want, withStatus(events, "ran")); diff != "" {
		t.Errorf("actions that ran (-want +got):\n%s\n%s", diff, r)
	}
	for _, e := range events {
		if e.ExitCode != 0 {
			t.Errorf("%s: exit_code %d", e.key(), e.ExitCode)
		}
		if !(start-1 <= e.Start && e.Start <= e.End && e.End <= end+1) {
			t.Errorf("%s: start %f, end %f, not within the build [%f, %f]", e.key(), e.Start, e.End, start, end)
		}
		for _, o := range e.Outputs {
			if !strings.HasPrefix(o, "bld-out/") || !w.exists(o) {
				t.Errorf("%s: output %s is not a file under bld-out/", e.key(), o)
			}
		}
	}
	if !regexp.MustCompile(`6 actions: 6 ran, 0 up to date`).MatchString(r.stderr) {
		t.Errorf("summary does not say 6 ran:\n%s", r)
	}

	// Nothing changed: nothing runs.
	r = w.mustBuild("build", "--events", "ev.json", "//app", "//app:other")
	events = w.readEvents("ev.json")
	if diff := cmp.Diff(want, withStatus(events, "cached")); diff != "" {
		t.Errorf("cached actions (-want +got):\n%s\n%s", diff, r)
	}
	if len(events) != len(want) {
		t.Errorf("%d events, want %d", len(events), len(want))
	}
	wantContains(t, r.stderr, "nothing to do")

	// A comment in a header: the two compiles that read it run again;
	// their objects are unchanged, so the archive and the link do not.
	w.write("lib/lib.h", "int lib_value(void); /* changed */\n")
	w.mustBuild("build", "--events", "ev.json", "//app", "//app:other")
	got := withStatus(w.readEvents("ev.json"), "ran")
	wantRan := []string{
		"//app:app CcCompile bld-out/app/_objs/app/app/main.d,bld-out/app/_objs/app/app/main.o",
		"//lib:lib CcCompile bld-out/lib/_objs/lib/lib/lib.d,bld-out/lib/_objs/lib/lib/lib.o",
	}
	if diff := cmp.Diff(wantRan, got); diff != "" {
		t.Errorf("after a comment in lib.h, ran (-want +got):\n%s", diff)
	}
}

// fail("msg") in a BUILD.star says the message once, at its position.
func TestFailMessage(t *testing.T) {
	w := newWorkspace(t, map[string]string{"d/BUILD.star": "\nfail(\"my message\")\n"})
	r := w.bld("build", "//d:all")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%s", exitFailed, r)
	}
	wantContains(t, r.stderr, "d/BUILD.star:2:5", "Error in fail: my message")
	if strings.Contains(r.stderr, "fail: fail:") {
		t.Errorf("the message says fail twice:\n%s", r.stderr)
	}
}
