package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestIsDriver(t *testing.T) {
	for name, want := range map[string]bool{
		"gcc": true, "/usr/bin/g++": true, "cc": true, "c++": true, "gcc-12": true,
		"x86_64-linux-gnu-gcc-12": true, "clang++-15": true, "clang": true,
		"ar": false, "ld": false, "/bin/sh": false, "gcc-ar": false, "gccgo": false, "my-tool-1": false,
	} {
		if got := IsDriver(name); got != want {
			t.Errorf("IsDriver(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want []string
	}{
		{"none", []string{"gcc", "-c", "-O2", "a.c", "-o", "a.o"}, nil},
		{"argv0 only", []string{"-B/x/"}, nil},
		{"B joined", []string{"gcc", "-c", "-B/tmp/mybin/", "a.c"}, []string{"-B/tmp/mybin/"}},
		{"B separate", []string{"gcc", "-B", "/tmp/mybin", "-c", "a.c"}, []string{"-B", "/tmp/mybin"}},
		{"B last, no value", []string{"gcc", "-c", "-B"}, []string{"-B"}},
		{"order kept", []string{"gcc", "-Bb/", "-O2", "-Ba/"}, []string{"-Bb/", "-Ba/"}},
		{"fuse-ld", []string{"gcc", "-fuse-ld=gold", "a.o"}, []string{"-fuse-ld=gold"}},
		{"sysroot joined", []string{"gcc", "--sysroot=/sr", "-c"}, []string{"--sysroot=/sr"}},
		{"sysroot separate", []string{"gcc", "--sysroot", "/sr", "-c"}, []string{"--sysroot", "/sr"}},
		{"specs", []string{"gcc", "-specs=my.specs", "--specs=/o.specs", "--specs", "x.specs"},
			[]string{"-specs=my.specs", "--specs=/o.specs", "--specs", "x.specs"}},
		{"gcc-toolchain", []string{"clang", "--gcc-toolchain=/opt/gcc", "-c"}, []string{"--gcc-toolchain=/opt/gcc"}},
		{"integrated as", []string{"clang", "-no-integrated-as", "-fno-integrated-as", "-fintegrated-as"},
			[]string{"-no-integrated-as", "-fno-integrated-as", "-fintegrated-as"}},
		{"isysroot", []string{"clang", "-isysroot", "/sdk", "-isysroot/sdk2"}, []string{"-isysroot", "/sdk", "-isysroot/sdk2"}},
		{"ld-path", []string{"clang", "--ld-path=/opt/ld"}, []string{"--ld-path=/opt/ld"}},
		{"look-alikes", []string{"gcc", "-I/B", "-DB=1", "-fuse-linker-plugin", "--sysroots"}, nil},
	}
	for _, tt := range tests {
		if got := Flags(tt.argv); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Flags(%q) = %q, want %q", tt.name, tt.argv, got, tt.want)
		}
	}
}

func TestExtraPrograms(t *testing.T) {
	ask, direct := extraPrograms([]string{"-B/x/", "-fuse-ld=gold", "-fuse-ld=/opt/mold", "--ld-path=/opt/lld"})
	if !slices.Equal(ask, []string{"ld.gold"}) || !slices.Equal(direct, []string{"/opt/mold", "/opt/lld"}) {
		t.Errorf("extraPrograms = %q, %q", ask, direct)
	}
}

func TestProgramDirs(t *testing.T) {
	root := "/ws"
	tests := []struct {
		flags, env, want []string
	}{
		{nil, []string{"PATH=/bin"}, []string{}},
		{[]string{"-B/opt/bin/"}, nil, []string{"/opt/bin"}},
		{[]string{"-B", "/opt/bin"}, nil, []string{"/opt/bin", "/opt"}},
		{[]string{"-Btools/x-"}, nil, []string{"/ws/tools/x-", "/ws/tools"}},
		{[]string{"--sysroot", "-B/not/", "-fuse-ld=gold"}, nil, []string{}},
		{nil, []string{"GCC_EXEC_PREFIX=/gcc/", "COMPILER_PATH=/c1:c2"}, []string{"/c1", "/ws/c2", "/gcc"}},
	}
	for _, tt := range tests {
		if got := ProgramDirs(root, tt.flags, tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("ProgramDirs(%q, %q) = %q, want %q", tt.flags, tt.env, got, tt.want)
		}
	}
}

// needGCC returns the path of gcc, or fails the test: these tests are
// about the real driver.
func needGCC(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed: %v", err)
	}
	return gcc
}

// resolved returns the program of base name base in paths, or "".
func resolved(paths []string, base string) string {
	for _, p := range paths {
		if filepath.Base(p) == base {
			return p
		}
	}
	return ""
}

// The real gcc: its identity names its cc1 and an assembler. The identity
// keeps gcc's bare "as", so that resolving it again with a directory
// prepended to PATH finds that directory's as, without probing again.
func TestProbeGCC(t *testing.T) {
	gcc := needGCC(t)
	root := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	id, err := Probe(context.Background(), root, gcc, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if id.Version == "" || !strings.Contains(id.Version, "-") {
		t.Errorf("Version = %q, want version and machine", id.Version)
	}
	if !slices.Contains(id.Programs, "as") {
		t.Errorf("Programs = %q, want gcc's bare answer \"as\"", id.Programs)
	}
	progs := id.Resolve(root, env)
	cc1, as := resolved(progs, "cc1"), resolved(progs, "as")
	if cc1 == "" || as == "" || !filepath.IsAbs(as) {
		t.Fatalf("Resolve = %v, want cc1 and as, absolute", progs)
	}
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "as"), []byte("#!/bin/sh\nexec "+as+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	progs = id.Resolve(root, []string{"PATH=" + bin + ":" + os.Getenv("PATH")})
	if got := resolved(progs, "as"); got != filepath.Join(bin, "as") {
		t.Errorf("with %s first in PATH, Resolve = %v, want its as", bin, progs)
	}
}

// -B names a directory with an assembler: probed with the action's -B (in
// either form), gcc names that assembler; probed without, it does not.
func TestProbeGCCWithB(t *testing.T) {
	gcc := needGCC(t)
	root := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	realAs, err := exec.LookPath("as")
	if err != nil {
		t.Fatal(err)
	}
	mybin := filepath.Join(t.TempDir(), "mybin")
	if err := os.MkdirAll(mybin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(mybin, "as")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+realAs+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"gcc", "-c", "-B" + mybin + "/", "a.c"},
		{"gcc", "-B", mybin, "-c", "a.c"},
	} {
		flags := Flags(argv)
		id, err := Probe(context.Background(), root, gcc, flags, env)
		if err != nil {
			t.Fatal(err)
		}
		progs := id.Resolve(root, env)
		if got := resolved(progs, "as"); got != wrapper {
			t.Errorf("Probe with %q: as = %q (programs %v), want %s", flags, got, progs, wrapper)
		}
		if resolved(progs, "cc1") == "" {
			t.Errorf("Probe with %q: programs %v, want gcc's cc1 still", flags, progs)
		}
	}
	id, err := Probe(context.Background(), root, gcc, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolved(id.Resolve(root, env), "as"); got == wrapper {
		t.Errorf("Probe without -B named the -B directory's as")
	}
}

// A relative -B directory: gcc answers a relative path, which Resolve
// takes from the workspace root, where the probe ran.
func TestProbeGCCRelativeB(t *testing.T) {
	gcc := needGCC(t)
	root := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	if err := os.MkdirAll(filepath.Join(root, "tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(root, "tools", "as")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec as \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := Probe(context.Background(), root, gcc, []string{"-Btools/"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolved(id.Resolve(root, env), "as"); got != wrapper {
		t.Errorf("with -Btools/: as = %q (answers %q), want %s", got, id.Programs, wrapper)
	}
}

func TestProbeFailingDriver(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "gcc")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Probe(context.Background(), root, bad, []string{"-B/x/"}, []string{"PATH=/usr/bin:/bin"})
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "-B/x/") {
		t.Errorf("Probe of a failing driver: %v, want its message and arguments", err)
	}
}

// llvm-bolt's identity holds the runtime libraries its instrumentation
// links (Debian's bolt-15 here, when installed).
func TestProbeBolt(t *testing.T) {
	bolt := "/usr/lib/llvm-15/bin/llvm-bolt"
	if _, err := os.Stat(bolt); err != nil {
		t.Skipf("%s is not installed (apt-get install bolt-15; .ci/run installs it)", bolt)
	}
	if !IsDriver(bolt) || Flags([]string{bolt, "-instrument", "-o", "x"}) != nil {
		t.Fatalf("llvm-bolt is not probed as a toolchain")
	}
	id, err := Probe(context.Background(), t.TempDir(), bolt, nil, []string{"PATH=/usr/bin:/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(id.Version, "LLVM") || !slices.Contains(id.Programs, "/usr/lib/llvm-15/lib/libbolt_rt_instr.a") {
		t.Errorf("identity %+v: want the LLVM version and libbolt_rt_instr.a", id)
	}
}
