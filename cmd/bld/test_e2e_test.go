package main

// End-to-end tests of bld test and bld run with the real gcc and sh.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testWorkspaceFiles = map[string]string{
	"t/BUILD.star": `
cc_unit(name = "calc", srcs = ["calc.c"], hdrs = ["calc.h"])
cc_test(name = "calc_test", srcs = ["calc_test.c"], deps = [":calc"], data = ["expected.txt"], args = ["$(location expected.txt)"])
cc_test(name = "broken_test", srcs = ["broken_test.c"], deps = [":calc"])
sh_test(name = "slow_test", srcs = ["slow_test.sh"], size = "small", tags = ["manual"])
sh_test(name = "env_test", srcs = ["env_test.sh"])
cc_binary(name = "tool", srcs = ["tool.c"], deps = [":calc"], args = ["--from-build-file"])
`,
	"t/calc.h":       "int add(int a, int b);\n",
	"t/calc.c":       "#include \"calc.h\"\nint add(int a, int b) { return a + b; }\n",
	"t/expected.txt": "5\n",
	"t/calc_test.c": `#include <stdio.h>
#include <stdlib.h>
#include "calc.h"
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "r");
  int want = 0;
  if (!f || fscanf(f, "%d", &want) != 1) { printf("cannot read %s\n", argv[1]); return 1; }
  printf("add(2, 3) = %d, want %d\n", add(2, 3), want);
  return add(2, 3) == want ? 0 : 1;
}
`,
	"t/broken_test.c": "#include <stdio.h>\n#include \"calc.h\"\nint main(void) { printf(\"add(1, 1) is %d, expected 3\\n\", add(1, 1)); return add(1, 1) == 3 ? 0 : 1; }\n",
	"t/slow_test.sh":  "#!/bin/sh\nsleep 120\n",
	"t/env_test.sh": `#!/bin/sh
test -d "$TEST_TMPDIR" && touch "$TEST_TMPDIR/x" || { echo "no TEST_TMPDIR"; exit 1; }
test "$TEST_TARGET" = //t:env_test || { echo "TEST_TARGET=$TEST_TARGET"; exit 1; }
test -f t/expected.txt && { echo "sees a file it did not declare"; exit 1; }
echo "filter=$TESTBRIDGE_TEST_ONLY extra=$EXTRA"
`,
	"t/tool.c": `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[256];
  for (int i = 1; i < argc; i++) printf("arg %s\n", argv[i]);
  if (fgets(buf, sizeof buf, stdin)) printf("stdin %s", buf);
  printf("cwd-is-start %d\n", strcmp(getcwd(buf, sizeof buf), getenv("BUILD_WORKING_DIRECTORY")) == 0);
  return 7;
}
`,
}

func TestBldTest(t *testing.T) {
	files := map[string]string{}
	for k, v := range testWorkspaceFiles {
		files[k] = v
	}
	files["t/tool.c"] = "#include <string.h>\n" + files["t/tool.c"]
	w := newWorkspace(t, files)
	for _, s := range []string{"t/slow_test.sh", "t/env_test.sh"} {
		os.Chmod(w.path(s), 0o644) // sh_test makes the script executable itself
	}

	// A passing test, cached the second time.
	r := w.bld("test", "//t:env_test", "--test_env=EXTRA=yes", "--test_filter=Foo")
	if r.code != 0 {
		t.Fatalf("want success:\n%s", r)
	}
	if log := w.read("bld-out/t/env_test.test/test.log"); log != "filter=Foo extra=yes\n" {
		t.Errorf("env_test's log with --test_env and --test_filter = %q", log)
	}
	r = w.bld("test", "//t:calc_test", "//t:env_test")
	if r.code != 0 {
		t.Fatalf("want success:\n%s", r)
	}
	wantMatch(t, r.stderr, `//t:calc_test\s+PASSED in`, `//t:env_test\s+PASSED in`, `bld: 2 tests passed`)
	if strings.Contains(r.stderr, "add(2, 3) = 5") {
		t.Errorf("a passing test's output was printed without --test_output=all:\n%s", r.stderr)
	}
	if log := w.read("bld-out/t/env_test.test/test.log"); log != "filter= extra=\n" {
		t.Errorf("env_test's log = %q", log)
	}
	wantContains(t, w.read("bld-out/t/calc_test.test/test.xml"), `<testsuite name="//t:calc_test" tests="1" failures="0"`)
	r = w.bld("test", "//t:calc_test", "--test_output=all")
	wantMatch(t, r.stderr, `//t:calc_test\s+PASSED \(cached\)`)
	r = w.bld("test", "//t:calc_test", "--cache_test_results=no", "--test_output=all")
	wantMatch(t, r.stderr, `//t:calc_test\s+PASSED in`)
	wantContains(t, r.stderr, "add(2, 3) = 5, want 5")
	// Data is an input: changing it reruns the test, which now fails.
	w.write("t/expected.txt", "6\n")
	r = w.bld("test", "//t:calc_test")
	if r.code != 3 {
		t.Errorf("a failing test: exit %d, want 3:\n%s", r.code, r)
	}
	wantMatch(t, r.stderr, `//t:calc_test\s+FAILED in`, `add\(2, 3\) = 5, want 6`)
	wantContains(t, w.read("bld-out/t/calc_test.test/test.xml"), `failures="1"`)

	// //... leaves out the manual slow test; a failing test exits 3.
	r = w.bld("test", "//t/...")
	if r.code != 3 {
		t.Errorf("bld test //t/...: exit %d, want 3:\n%s", r.code, r)
	}
	wantMatch(t, r.stderr, `//t:broken_test\s+FAILED`, `add\(1, 1\) is 2, expected 3`)
	if strings.Contains(r.stderr, "slow_test") {
		t.Errorf("the manual test ran:\n%s", r.stderr)
	}

	// A test that outlives its timeout is killed (the timeout is scaled
	// down by --test_timeout... not here: a small test has 60 s; use a
	// build of its own with a short sleep instead).
	w.write("t/slow_test.sh", "#!/bin/sh\nsleep 2\n")
	w.write("t/BUILD.star", strings.Replace(files["t/BUILD.star"], `size = "small"`, `size = "small", timeout = "short"`, 1))
	r = w.bld("test", "//t:slow_test", "--runs_per_test=2")
	if r.code != 0 {
		t.Errorf("slow_test: exit %d:\n%s", r.code, r)
	}
	wantMatch(t, r.stderr, `//t:slow_test\s+PASSED in [0-9.]+s, 2 runs`)

	// No test among the patterns.
	r = w.bld("test", "//t:calc")
	if r.code != 4 {
		t.Errorf("no tests: exit %d, want 4:\n%s", r.code, r)
	}
}

// A test that outlives its timeout is killed, with everything it started,
// and reported as TIMEOUT; --test_timeout sets every test's timeout.
func TestBldTestTimeout(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"t/BUILD.star": `sh_test(name = "hang_test", srcs = ["hang.sh"])
`,
		"t/hang.sh": "#!/bin/sh\necho started\nsleep 30 &\nsleep 30\n",
	})
	r := w.bld("test", "--test_timeout=1", "//t:hang_test")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r)
	}
	wantMatch(t, r.stderr, `//t:hang_test\s+TIMEOUT in 1\.`, `timed out after 1s`, `started`)
	if r.elapsed > 15*time.Second {
		t.Errorf("bld test took %s: the timed-out test was not killed at once", r.elapsed)
	}
}

func TestBldRun(t *testing.T) {
	files := map[string]string{}
	for k, v := range testWorkspaceFiles {
		files[k] = v
	}
	files["t/tool.c"] = "#include <string.h>\n" + files["t/tool.c"]
	w := newWorkspace(t, files)
	cmd := w.command("t", "run", "//t:tool", "--", "one", "two words")
	cmd.Stdin = strings.NewReader("hello\n")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 7 {
		t.Fatalf("bld run: %v, want exit 7 (the program's):\n%s", err, out)
	}
	wantContains(t, string(out), "arg --from-build-file\narg one\narg two words\nstdin hello\ncwd-is-start 1\n")
	if _, err := os.Stat(filepath.Join(w.root, "bld-out/t/tool")); err != nil {
		t.Errorf("the program was not built: %v", err)
	}
	r := w.bld("run", "//t:calc")
	if r.code == 0 {
		t.Errorf("bld run of a library succeeded:\n%s", r)
	}
	wantContains(t, r.output(), "names no program")
}

// A test_suite runs the tests it names, or its package's tests; query
// --output=files says where a target's outputs are.
func TestTestSuiteAndQueryFiles(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"t/BUILD.star": `
sh_test(name = "a_test", srcs = ["ok.sh"])
sh_test(name = "b_test", srcs = ["ok.sh"])
sh_test(name = "manual_test", srcs = ["ok.sh"], tags = ["manual"])
test_suite(name = "some", tests = [":b_test", ":manual_test"])
test_suite(name = "all_tests")
`,
		"t/ok.sh": "#!/bin/sh\nexit 0\n",
	})
	r := w.mustBuild("test", "//t:some")
	wantMatch(t, r.stderr, `//t:b_test\s+PASSED`, `//t:manual_test\s+PASSED`, `bld: 2 tests passed`)
	if strings.Contains(r.stderr, "a_test") {
		t.Errorf("//t:some ran a_test:\n%s", r.stderr)
	}
	r = w.mustBuild("test", "//t:all_tests", "//t:a_test")
	wantMatch(t, r.stderr, `//t:a_test\s+PASSED`, `//t:b_test\s+PASSED`, `bld: 2 tests passed`)

	q := w.mustBuild("query", "--output=files", "//t:a_test")
	if q.stdout != "bld-out/t/a_test\n" {
		t.Errorf("query --output=files //t:a_test printed %q", q.stdout)
	}
	q = w.mustBuild("query", "--output=files", "deps(//t:a_test)")
	if q.stdout != "bld-out/t/a_test\n" {
		t.Errorf("query --output=files deps(//t:a_test) printed %q", q.stdout)
	}
}

// --test_output=summary shows no test's output, only the summary; the log
// is in test.log.
func TestTestOutputSummary(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"t/BUILD.star": `sh_test(name = "fail_test", srcs = ["fail.sh"])
`,
		"t/fail.sh": "#!/bin/sh\necho the details of the failure\nexit 1\n",
	})
	r := w.bld("test", "--test_output=summary", "//t:fail_test")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", r.code, r)
	}
	wantMatch(t, r.stderr, `//t:fail_test\s+FAILED`)
	if strings.Contains(r.stderr, "the details of the failure") {
		t.Errorf("--test_output=summary printed the test's output:\n%s", r.stderr)
	}
	wantContains(t, w.read("bld-out/t/fail_test.test/test.log"), "the details of the failure")
	r = w.bld("test", "//t:fail_test")
	wantContains(t, r.stderr, "the details of the failure")
}
