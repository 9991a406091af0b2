// Package toolchain finds what else a compiler driver runs. An action that
// runs gcc is keyed on the gcc binary, but gcc is a driver: the compiler
// proper (cc1, cc1plus, lto1), the assembler and the linker it starts are
// other files, and a new cc1 under the same gcc changes every object. A
// Probe asks the driver for those programs and its version, so that the
// action cache can key on them too (the idea behind sccache's toolchain
// hash).
package toolchain

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"bld/exec/program"
)

// components are the programs a gcc-compatible driver may start, asked
// with -print-prog-name. A driver that does not know one prints the bare
// name back; it is then looked up in the action's PATH, as the driver
// would.
var components = []string{"cc1", "cc1plus", "lto1", "as", "collect2", "ld", "lto-wrapper"}

// EnvVars are the environment variables besides PATH that change which
// programs a driver runs (gcc's GCC_EXEC_PREFIX and COMPILER_PATH;
// rustup's RUSTUP_TOOLCHAIN and RUSTUP_HOME, which pick the toolchain
// rustup's rustc proxy runs). A probe's answers hold for one set of their
// values.
var EnvVars = []string{"GCC_EXEC_PREFIX", "COMPILER_PATH", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME"}

// An Identity is what a probe learned of a driver run with one set of
// Flags and EnvVars. It holds the driver's raw answers, not resolved
// files: a bare name in Programs is looked up in PATH by Resolve at each
// use, so that a program that appears earlier in PATH is seen although
// the Identity was remembered. An Identity is plain data, safe to persist.
type Identity struct {
	// Version is the driver's -dumpfullversion and -dumpmachine output.
	Version string
	// Programs are the component programs as the driver names them, in
	// the order asked, without duplicates or empty answers: an absolute
	// path, a path relative to the workspace root (from a relative -B),
	// or a bare name it would search in PATH. They need not exist (lto1
	// without LTO support).
	Programs []string
}

// Resolve returns the absolute paths of the programs of id that exist as
// the action with environment env would find them (program.Find: bare
// names in env's PATH, relative paths from the workspace root root),
// without duplicates, in the order of id.Programs. A program that is not
// found is left out: the driver does without it or fails when it runs.
func (id Identity) Resolve(root string, env []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, name := range id.Programs {
		prog, err := program.Find(root, name, env)
		if err != nil {
			continue // not installed (lto1 without LTO, say)
		}
		if !seen[prog.Path] {
			seen[prog.Path] = true
			out = append(out, prog.Path)
		}
	}
	return out
}

// Flags returns the arguments of argv (argv[0] excluded) that change
// which programs or files a gcc- or clang-compatible driver uses, in their
// order, each with its value: -B, -isysroot, --sysroot, --specs and
// --gcc-toolchain in the separate ("-B dir") and joined ("-Bdir",
// "--sysroot=dir") forms, -fuse-ld=, -specs=, --ld-path=, and the
// integrated-assembler switches (-no-integrated-as, -fno-integrated-as and
// their positive forms). A flag whose value is missing (it is the last
// argument) is kept alone. Arguments in response files (@file) are not
// seen.
func Flags(argv []string) []string {
	if isRustc(argv[0]) || isBolt(argv[0]) {
		return nil // their toolchains are found by path (probeRustc, probeBolt)
	}
	var out []string
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-B" || a == "-isysroot" || a == "--sysroot" || a == "--specs" ||
			a == "--gcc-toolchain" || a == "-gcc-toolchain":
			out = append(out, a)
			if i+1 < len(argv) {
				i++
				out = append(out, argv[i])
			}
		case strings.HasPrefix(a, "-B"), strings.HasPrefix(a, "-isysroot"),
			strings.HasPrefix(a, "--sysroot="), strings.HasPrefix(a, "-fuse-ld="),
			strings.HasPrefix(a, "-specs="), strings.HasPrefix(a, "--specs="),
			strings.HasPrefix(a, "--gcc-toolchain="), strings.HasPrefix(a, "--ld-path="),
			a == "-no-integrated-as", a == "-fno-integrated-as",
			a == "-integrated-as", a == "-fintegrated-as":
			out = append(out, a)
		}
	}
	return out
}

// ProgramDirs returns the directories, absolute (relative ones taken from
// the workspace root root), where a driver run with flags (from Flags) and
// environment env looks for its programs before its own: those of the -B
// prefixes and of GCC_EXEC_PREFIX (for a prefix "dir/pfx-" both "dir/pfx-"
// and "dir", as gcc takes a prefix naming a directory as that directory)
// and the entries of COMPILER_PATH. A program that appears in one of them
// can change the driver's answers, so a remembered probe holds only while
// they are unchanged. PATH is not among them: Resolve looks there at each
// use.
func ProgramDirs(root string, flags, env []string) []string {
	var prefixes []string
	for i := 0; i < len(flags); i++ {
		switch f := flags[i]; {
		case f == "-B":
			if i+1 < len(flags) {
				i++
				prefixes = append(prefixes, flags[i])
			}
		case strings.HasPrefix(f, "-B"):
			prefixes = append(prefixes, f[len("-B"):])
		case f == "-isysroot" || f == "--sysroot" || f == "--specs" || f == "--gcc-toolchain" || f == "-gcc-toolchain":
			i++ // skip the value
		}
	}
	var dirs []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GCC_EXEC_PREFIX="); ok && v != "" {
			prefixes = append(prefixes, v)
		}
		if v, ok := strings.CutPrefix(kv, "COMPILER_PATH="); ok {
			for _, d := range filepath.SplitList(v) {
				if d != "" {
					dirs = append(dirs, d)
				}
			}
		}
	}
	for _, p := range prefixes {
		if p == "" {
			continue
		}
		dirs = append(dirs, p)
		if !strings.HasSuffix(p, "/") {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		out = append(out, filepath.Clean(d))
	}
	return out
}

// extraPrograms are the programs flags name besides components: the
// linker of -fuse-ld=NAME, ld.NAME, to ask the driver about (ask), or the
// path itself when NAME has a slash, as clang allows, and the linker of
// --ld-path= (direct).
func extraPrograms(flags []string) (ask, direct []string) {
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "-fuse-ld="); ok && v != "" {
			if strings.Contains(v, "/") {
				direct = append(direct, v)
			} else {
				ask = append(ask, "ld."+v)
			}
		}
		if v, ok := strings.CutPrefix(f, "--ld-path="); ok && v != "" {
			direct = append(direct, v)
		}
	}
	return ask, direct
}

// IsDriver reports whether a program named name (argv[0], or its base
// name) is a compiler driver worth probing: gcc, g++, cc, c++, clang,
// clang++, with an optional target prefix (x86_64-linux-gnu-gcc) or
// version suffix (gcc-12, clang-15); or rustc, which is often rustup's
// proxy: the file PATH finds is the same whatever toolchain it runs.
func IsDriver(name string) bool {
	if isRustc(name) || isBolt(name) {
		return true
	}
	base := path.Base(filepath.ToSlash(name))
	if i := strings.LastIndexByte(base, '-'); i > 0 && isVersion(base[i+1:]) {
		base = base[:i]
	}
	if i := strings.LastIndexByte(base, '-'); i >= 0 {
		base = base[i+1:]
	}
	switch base {
	case "gcc", "g++", "cc", "c++", "clang", "clang++":
		return true
	}
	return false
}

// isRustc reports whether name is rustc (optionally with a version
// suffix).
func isRustc(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	if i := strings.LastIndexByte(base, '-'); i > 0 && isVersion(base[i+1:]) {
		base = base[:i]
	}
	return base == "rustc"
}

// isBolt reports whether name is llvm-bolt (llvm-bolt-15 too), whose
// instrumentation links a runtime library of its installation into the
// program it writes.
func isBolt(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	if i := strings.LastIndexByte(base, '-'); i > 0 && isVersion(base[i+1:]) {
		base = base[:i]
	}
	return base == "llvm-bolt"
}

// StateFiles are the files besides the driver whose change can change a
// probe's answers without changing the driver, PATH or EnvVars: for
// rustc, rustup's settings (rustup default) and the workspace's
// rust-toolchain files (a directory override). A remembered probe holds
// only while their stamps are unchanged.
func StateFiles(root, driver string, env []string) []string {
	if !isRustc(driver) {
		return nil
	}
	home := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RUSTUP_HOME="); ok {
			home = v
		}
	}
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, ".rustup")
		}
	}
	files := []string{filepath.Join(root, "rust-toolchain"), filepath.Join(root, "rust-toolchain.toml")}
	if home != "" {
		files = append(files, filepath.Join(home, "settings.toml"))
	}
	return files
}

func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// probeTimeout bounds each question to the driver: a driver that hangs
// must not hang the build.
const probeTimeout = 10 * time.Second

// Probe asks the driver at driverPath (absolute) for its version and
// component programs, running it with flags (Flags of the action's argv,
// put before each question as the action passes them, so that a -B
// directory's assembler is the one named) and the action's environment
// env (the driver reads PATH and EnvVars, as it will when the action
// runs). root is the workspace root, the directory the driver runs in, for
// relative paths. The answers are kept raw: see Identity and Resolve.
func Probe(ctx context.Context, root, driverPath string, flags, env []string) (Identity, error) {
	var id Identity
	ask := func(arg string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		args := append(append([]string{}, flags...), arg)
		cmd := exec.CommandContext(ctx, driverPath, args...)
		cmd.Env = append([]string{}, env...)
		cmd.Dir = root
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s %s: %w: %s", driverPath, strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
		}
		return strings.TrimSpace(out.String()), nil
	}
	if isRustc(driverPath) {
		return probeRustc(ask)
	}
	if isBolt(driverPath) {
		return probeBolt(driverPath, ask)
	}
	var version []string
	for _, arg := range []string{"-dumpfullversion", "-dumpmachine"} {
		v, err := ask(arg)
		if err != nil {
			return Identity{}, err
		}
		version = append(version, v)
	}
	id.Version = strings.Join(version, " ")
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			id.Programs = append(id.Programs, p)
		}
	}
	askMore, direct := extraPrograms(flags)
	for _, name := range append(append([]string{}, components...), askMore...) {
		v, err := ask("-print-prog-name=" + name)
		if err != nil {
			return Identity{}, err
		}
		add(v)
	}
	for _, p := range direct {
		add(p)
	}
	return id, nil
}

// probeRustc asks rustc (or rustup's proxy, which runs the toolchain it
// is set to) for its version and its sysroot: the compiler that really
// runs is sysroot/bin/rustc, with its driver library in sysroot/lib.
// Their contents, which change with every toolchain, are what the key
// holds, not the proxy's.
func probeRustc(ask func(arg string) (string, error)) (Identity, error) {
	version, err := ask("-vV")
	if err != nil {
		return Identity{}, err
	}
	sysroot, err := ask("--print=sysroot")
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Version: version, Programs: []string{filepath.Join(sysroot, "bin", "rustc")}}
	libs, _ := filepath.Glob(filepath.Join(sysroot, "lib", "librustc_driver-*.so"))
	id.Programs = append(id.Programs, libs...)
	return id, nil
}

// probeBolt asks llvm-bolt its version and names the runtime libraries
// -instrument and -hugify link into the programs it writes: lib/
// libbolt_rt_*.a beside its bin/ directory (as llvm-bolt finds them).
func probeBolt(driverPath string, ask func(arg string) (string, error)) (Identity, error) {
	version, err := ask("--version")
	if err != nil {
		return Identity{}, err
	}
	real, err := filepath.EvalSymlinks(driverPath)
	if err != nil {
		real = driverPath
	}
	libs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(real)), "lib", "libbolt_rt_*.a"))
	return Identity{Version: version, Programs: libs}, nil
}
