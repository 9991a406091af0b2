package ship

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"bld/exec/depfile"
)

// hostPath is the PATH of the local compiles and of the probes.
const hostPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// driver returns the absolute path of the host's driver name (gcc, g++),
// skipping the test when there is none.
func driver(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s on this machine: %v", name, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// source is a program of one language and what it prints.
type source struct {
	name, text, want string
	driver           string
	linkArgs         []string
}

var cSource = source{
	name:     "hello.c",
	driver:   "gcc",
	text:     "#include <stdio.h>\n#include <math.h>\nint main(int argc, char **argv) { printf(\"hypot=%.3f argc=%d\\n\", hypot(3.0, 4.0 + argc - 1), argc); return 0; }\n",
	want:     "hypot=5.000 argc=1\n",
	linkArgs: []string{"-lm"},
}

var cxxSource = source{
	name:   "hello.cc",
	driver: "g++",
	text:   "#include <iostream>\n#include <string>\n#include <vector>\nint main() { std::vector<std::string> v{\"shipped\", \"g++\"}; for (auto &s : v) std::cout << s << '\\n'; }\n",
	want:   "shipped\ng++\n",
}

// compileArgs and linkArgs are the commands of the tests, as bld would
// run them (argv[0] as the rule names it).
func (s source) compileArgs() []string {
	return []string{s.driver, "-O2", "-Wall", "-c", s.name, "-o", "hello.o", "-MD", "-MF", "hello.d"}
}

func (s source) linkArgs2() []string {
	return append([]string{s.driver, "hello.o", "-o", "hello"}, s.linkArgs...)
}

// runIn runs argv in dir with env, failing the test on an error.
func runIn(t *testing.T, dir string, env []string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (in %s): %v\n%s", strings.Join(argv, " "), dir, err, out.String())
	}
	return out.String()
}

// hostBuild compiles and links s with the host's compiler in a new
// directory, returning it and the system headers its depfile named.
func hostBuild(t *testing.T, s source) (dir string, headers []string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, s.name), []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{hostPath}
	runIn(t, dir, env, s.compileArgs()...)
	runIn(t, dir, env, s.linkArgs2()...)
	if got := runIn(t, dir, nil, "./hello"); got != s.want {
		t.Fatalf("host-built program printed %q, want %q", got, s.want)
	}
	for _, p := range depPrereqs(t, filepath.Join(dir, "hello.d")) {
		if filepath.IsAbs(p) {
			headers = append(headers, p)
		}
	}
	return dir, headers
}

func depPrereqs(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := depfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return depfile.Prerequisites(rules)
}

// shipped packages the driver of s with the headers and materializes it
// with the source in a new directory.
func shipped(t *testing.T, s source, headers []string, opts Options) (*Toolchain, string) {
	t.Helper()
	p := &Packager{Options: opts}
	tc, err := p.Package(context.Background(), driver(t, s.driver), []string{hostPath}, headers)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := tc.Materialize(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, s.name), []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	return tc, dir
}

// sameFile fails the test unless the files a and b have the same bytes.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ (%d and %d bytes)", a, b, len(x), len(y))
	}
}

// TestShippedBuild compiles and links with the shipped toolchain, no
// compiler in PATH, and checks that the object and the program are the
// bytes the host's compiler makes, and that the program runs.
func TestShippedBuild(t *testing.T) {
	for _, s := range []source{cSource, cxxSource} {
		t.Run(s.driver, func(t *testing.T) {
			host, headers := hostBuild(t, s)
			tc, dir := shipped(t, s, headers, Options{})
			env := []string{"PATH=/nonexistent", "GCC_EXEC_PREFIX=/nonexistent/"}
			argv, cenv := tc.Rewrite(s.compileArgs(), env)
			runIn(t, dir, cenv, argv...)
			argv, lenv := tc.Rewrite(s.linkArgs2(), env)
			runIn(t, dir, lenv, argv...)
			if got := runIn(t, dir, nil, "./hello"); got != s.want {
				t.Errorf("shipped-built program printed %q, want %q", got, s.want)
			}
			sameFile(t, filepath.Join(host, "hello.o"), filepath.Join(dir, "hello.o"))
			sameFile(t, filepath.Join(host, "hello"), filepath.Join(dir, "hello"))
		})
	}
}

// TestRewriteDepfileReal checks that the depfile a shipped compile writes,
// rewritten, names the same files as the host compile's.
func TestRewriteDepfileReal(t *testing.T) {
	for _, s := range []source{cSource, cxxSource} {
		t.Run(s.driver, func(t *testing.T) {
			host, headers := hostBuild(t, s)
			tc, dir := shipped(t, s, headers, Options{})
			argv, env := tc.Rewrite(s.compileArgs(), []string{"PATH=/nonexistent"})
			runIn(t, dir, env, argv...)
			raw, err := os.ReadFile(filepath.Join(dir, "hello.d"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw, []byte(tc.Prefix)) {
				t.Fatalf("the shipped compile's depfile does not name the package:\n%s", raw)
			}
			mapped := filepath.Join(dir, "mapped.d")
			if err := os.WriteFile(mapped, tc.RewriteDepfile(raw), 0o644); err != nil {
				t.Fatal(err)
			}
			want, got := depPrereqs(t, filepath.Join(host, "hello.d")), depPrereqs(t, mapped)
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rewritten depfile names\n%s\nthe host's\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestRewriteDepfile(t *testing.T) {
	tc := &Toolchain{Prefix: ".bld-toolchain/0123456789ab"}
	in := "x.o: x.c .bld-toolchain/0123456789ab/usr/include/stdio.h \\\n" +
		" /worker/build\\ dir/root/.bld-toolchain/0123456789ab/usr/lib/gcc/x/12/include/stddef.h \\\n" +
		" /a/.bld-toolchain/0123456789abc/keep.h lib/x.bld-toolchain/0123456789ab/keep.h \\\n" +
		"\t/r/.bld-toolchain/0123456789ab/usr/include/math.h\n"
	want := "x.o: x.c /usr/include/stdio.h \\\n" +
		" /usr/lib/gcc/x/12/include/stddef.h \\\n" +
		" /a/.bld-toolchain/0123456789abc/keep.h lib/x.bld-toolchain/0123456789ab/keep.h \\\n" +
		"\t/usr/include/math.h\n"
	if got := string(tc.RewriteDepfile([]byte(in))); got != want {
		t.Errorf("RewriteDepfile:\n%s\nwant\n%s", got, want)
	}
}

func TestRewrite(t *testing.T) {
	tc := &Toolchain{
		Prefix:      ".bld-toolchain/0123456789ab",
		Driver:      "/usr/bin/x86_64-linux-gnu-gcc-12",
		Loader:      "/lib64/ld-linux-x86-64.so.2",
		LibraryDirs: []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"},
		ProgramDirs: []string{"/usr/bin"},
		Specs:       specsPath,
	}
	argv := []string{"gcc", "-c", "x.c", "-B", "tools/"}
	env := []string{"PATH=/bin", "GCC_EXEC_PREFIX=/opt/gcc/", "COMPILER_PATH=/x", "LANG=C"}
	gotArgv, gotEnv := tc.Rewrite(argv, env)
	p := tc.Prefix
	lp := p + "/lib/x86_64-linux-gnu:" + p + "/usr/lib/x86_64-linux-gnu"
	wantArgv := []string{p + "/lib64/ld-linux-x86-64.so.2", "--library-path", lp, p + "/usr/bin/x86_64-linux-gnu-gcc-12",
		"-c", "x.c", "-B", "tools/",
		"-wrapper", p + "/lib64/ld-linux-x86-64.so.2,--library-path," + lp, "--sysroot=" + p, "-B" + p + "/usr/bin/", "-specs=" + p + "/bld-link.specs"}
	if strings.Join(gotArgv, " ") != strings.Join(wantArgv, " ") {
		t.Errorf("Rewrite argv\n%q\nwant\n%q", gotArgv, wantArgv)
	}
	if want := []string{"PATH=/bin", "LANG=C"}; strings.Join(gotEnv, " ") != strings.Join(want, " ") {
		t.Errorf("Rewrite env %q, want %q", gotEnv, want)
	}
	if argv[0] != "gcc" || len(env) != 4 {
		t.Error("Rewrite modified its arguments")
	}
}

// TestUnshippedHeader checks that a header left out of the package is not
// found elsewhere (the host's /usr/include): the shipped compile fails.
// Only the headers given to Package (and stdc-predef.h) are shipped.
func TestUnshippedHeader(t *testing.T) {
	_, headers := hostBuild(t, cSource)
	var without []string
	for _, h := range headers {
		if filepath.Base(h) != "math.h" {
			without = append(without, h)
		}
	}
	if len(without) == len(headers) {
		t.Fatalf("the host compile's depfile does not name math.h: %v", headers)
	}
	tc, dir := shipped(t, cSource, without, Options{})
	argv, env := tc.Rewrite(cSource.compileArgs(), []string{"PATH=/nonexistent"})
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "math.h") {
		t.Errorf("compiling without a shipped math.h: err %v, output %s; want a failure naming math.h", err, out)
	}
}

func TestCanRewrite(t *testing.T) {
	tc := &Toolchain{}
	for _, c := range []struct {
		argv []string
		ok   bool
	}{
		{[]string{"gcc", "-O2", "-c", "x.c", "-o", "x.o"}, true},
		{[]string{"gcc", "x.o", "-lm", "-o", "x"}, true},
		{[]string{"gcc", "-flto", "-c", "x.c"}, true},
		{[]string{"gcc", "-flto", "x.o", "-o", "x"}, false},
		{[]string{"gcc", "-flto=auto", "-fno-lto", "x.o", "-o", "x"}, true},
		{[]string{"gcc", "-fuse-ld=gold", "x.o"}, false},
		{[]string{"gcc", "--sysroot=/opt/sr", "-c", "x.c"}, false},
		{[]string{"gcc", "--sysroot", "/opt/sr", "-c", "x.c"}, false},
		{[]string{"gcc", "@args.rsp"}, false},
		{[]string{"gcc", "-specs=my.specs", "-c", "x.c"}, false},
	} {
		if err := tc.CanRewrite(c.argv); (err == nil) != c.ok {
			t.Errorf("CanRewrite(%q) = %v, want ok=%t", c.argv, err, c.ok)
		}
	}
}
