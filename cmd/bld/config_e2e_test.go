package main

// End-to-end tests of build configurations: -c, --copt and --define reach
// the cc rules' command lines, select() picks branches by config_setting,
// switching configurations back and forth runs nothing the second time,
// and .bldrc supplies default flags that the command line overrides.

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// configWorkspace has a program reporting the macros its compile saw, and
// one whose sources a select() picks.
func configWorkspace(t *testing.T) *testWorkspace {
	return newWorkspace(t, map[string]string{
		"app/BUILD.star": `
config_setting(name = "fast", define_values = {"impl": "fast"})
config_setting(name = "opt", values = {"compilation_mode": "opt"})

cc_binary(name = "modes", srcs = ["modes.c"])

cc_binary(
    name = "pick",
    srcs = ["main.c"] + select({
        ":fast": ["fast.c"],
        "//conditions:default": ["slow.c"],
    }),
    local_defines = select({
        ":opt": ["BUILT=\"opt\""],
        "//conditions:default": ["BUILT=\"other\""],
    }),
)

cc_binary(
    name = "strict",
    srcs = select({":fast": ["fast.c", "main.c"]}, no_match_error = "build //app:strict with --define impl=fast"),
    local_defines = ["BUILT=\"x\""],
)

genrule(name = "mode_txt", outs = ["mode.txt"], cmd = "echo $(COMPILATION_MODE) $(impl) > $@")
`,
		"app/modes.c": `#include <stdio.h>
int main(void) {
#ifdef NDEBUG
  int ndebug = 1;
#else
  int ndebug = 0;
#endif
#ifdef __OPTIMIZE__
  int optimize = 1;
#else
  int optimize = 0;
#endif
#ifdef EXTRA
  int extra = EXTRA;
#else
  int extra = 0;
#endif
  printf("ndebug=%d optimize=%d extra=%d\n", ndebug, optimize, extra);
  return 0;
}
`,
		"app/main.c": "#include <stdio.h>\nconst char *impl(void);\nint main(void) { printf(\"%s %s\\n\", impl(), BUILT); return 0; }\n",
		"app/fast.c": "const char *impl(void) { return \"fast\"; }\n",
		"app/slow.c": "const char *impl(void) { return \"slow\"; }\n",
	})
}

func hasDebugInfo(t *testing.T, path string) bool {
	t.Helper()
	out, err := exec.Command("readelf", "-S", path).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf: %v\n%s", err, out)
	}
	return strings.Contains(string(out), ".debug_info")
}

func TestCompilationModes(t *testing.T) {
	w := configWorkspace(t)
	for _, tc := range []struct {
		flags []string
		want  string
		debug bool
	}{
		{nil, "ndebug=0 optimize=0 extra=0\n", false},
		{[]string{"-c", "opt"}, "ndebug=1 optimize=1 extra=0\n", false},
		{[]string{"--compilation_mode=dbg"}, "ndebug=0 optimize=0 extra=0\n", true},
		{[]string{"-c", "opt", "--copt=-DEXTRA=7", "--conlyopt=-UNDEBUG"}, "ndebug=0 optimize=1 extra=7\n", false},
	} {
		w.mustBuild(append(append([]string{"build"}, tc.flags...), "//app:modes")...)
		wantOutput(t, w, "bld-out/app/modes", tc.want)
		if got := hasDebugInfo(t, w.path("bld-out/app/modes")); got != tc.debug {
			t.Errorf("%v: debug info %v, want %v", tc.flags, got, tc.debug)
		}
	}
	// Back and forth: the second round runs nothing (the cache has both).
	for round := range 2 {
		for _, mode := range []string{"opt", "dbg"} {
			ev := w.buildEvents("-c", mode, "//app:modes")
			if ran := withStatus(ev, "ran"); round == 1 && len(ran) > 0 {
				t.Errorf("round 2, -c %s ran %v; want nothing run", mode, ran)
			}
		}
	}
	r := w.bld("build", "-c", "fast", "//app:modes")
	if r.code != 2 {
		t.Errorf("-c fast: exit %d, want 2:\n%s", r.code, r)
	}
	wantContains(t, r.stderr, "want fastbuild, opt or dbg")
}

func TestSelectAndDefine(t *testing.T) {
	w := configWorkspace(t)
	w.mustBuild("build", "//app:pick")
	wantOutput(t, w, "bld-out/app/pick", "slow other\n")
	// $(impl) is not defined without --define: an error, not empty.
	r := w.bld("build", "//app:mode_txt")
	wantContains(t, r.output(), "$(impl) is not defined", "$(COMPILATION_MODE)")
	w.mustBuild("build", "--define", "impl=fast", "-c", "opt", "//app:pick", "//app:mode_txt")
	wantOutput(t, w, "bld-out/app/pick", "fast opt\n")
	if got := w.read("bld-out/app/mode.txt"); got != "opt fast\n" {
		t.Errorf("mode.txt = %q, want \"opt fast\\n\"", got)
	}
	r = w.bld("build", "//app:strict")
	if r.code != 1 {
		t.Fatalf("a select() without a match built:\n%s", r)
	}
	wantContains(t, r.output(), "app/BUILD.star:", "build //app:strict with --define impl=fast")
	w.mustBuild("build", "--define=impl=fast", "//app:strict")

	// query shows every branch as a dependency.
	q := w.mustBuild("query", "deps(//app:pick)")
	wantContains(t, q.stdout, "//app:fast.c", "//app:slow.c", "//app:fast", "//app:opt")
}

func TestBldrc(t *testing.T) {
	w := configWorkspace(t)
	w.write(".bldrc", "# defaults for this workspace\nbuild --define impl=fast\ncommon -c opt\n")
	w.mustBuild("build", "//app:pick")
	wantOutput(t, w, "bld-out/app/pick", "fast opt\n")
	// The command line comes after the rc files and wins.
	w.mustBuild("build", "--define", "impl=slow", "-c", "dbg", "//app:pick")
	wantOutput(t, w, "bld-out/app/pick", "slow other\n")
	// The home directory's file comes first; the workspace's wins.
	home := strings.TrimPrefix(w.env[1], "HOME=")
	if err := os.WriteFile(home+"/.bldrc", []byte("build --define impl=slow --copt=-DEXTRA=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.mustBuild("build", "//app:pick", "//app:modes")
	wantOutput(t, w, "bld-out/app/pick", "fast opt\n")
	wantOutput(t, w, "bld-out/app/modes", "ndebug=1 optimize=1 extra=3\n")
	w.write(".bldrc", "biuld -c opt\n")
	r := w.bld("build", "//app:pick")
	if r.code != 2 {
		t.Errorf("a bad .bldrc line: exit %d, want 2:\n%s", r.code, r)
	}
	wantContains(t, r.stderr, ".bldrc:1:", `"biuld" is not a bld command`)
}

// The C compiler is gcc unless the user gives actions another one
// (--action_env=CC=...); bld's own CC does not choose it.
func TestCompilerFromActionEnv(t *testing.T) {
	w := configWorkspace(t)
	w.env = append(w.env, "CC=/nonexistent/cc")
	r := w.mustBuild("build", "-s", "//app:modes")
	wantMatch(t, r.output(), `(?m)^gcc -iquote`)
	r = w.mustBuild("build", "-s", "--action_env=CC=cc", "//app:modes")
	wantMatch(t, r.output(), `(?m)^cc -iquote`, `(?m)^cc -o bld-out/app/modes`)
	wantOutput(t, w, "bld-out/app/modes", "ndebug=0 optimize=0 extra=0\n")
}
