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

// An Identity is what a probe learned of a driver.
type Identity struct {
	// Version is the driver's -dumpfullversion and -dumpmachine output.
	Version string
	// Programs are the absolute paths of the component programs that
	// exist, in the order of components, without duplicates.
	Programs []string
}

// IsDriver reports whether a program named name (argv[0], or its base
// name) is a C/C++ compiler driver worth probing: gcc, g++, cc, c++, clang,
// clang++, with an optional target prefix (x86_64-linux-gnu-gcc) or
// version suffix (gcc-12, clang-15).
func IsDriver(name string) bool {
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
// component programs, running it with the action's environment env (the
// driver searches PATH, as it will when the action runs). root is the
// workspace root, for relative PATH entries.
func Probe(ctx context.Context, root, driverPath string, env []string) (Identity, error) {
	var id Identity
	ask := func(arg string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, driverPath, arg)
		cmd.Env = append([]string{}, env...)
		cmd.Dir = root
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s %s: %w: %s", driverPath, arg, err, strings.TrimSpace(errOut.String()))
		}
		return strings.TrimSpace(out.String()), nil
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
	for _, name := range components {
		v, err := ask("-print-prog-name=" + name)
		if err != nil {
			return Identity{}, err
		}
		if v == "" {
			continue
		}
		p := v
		if !filepath.IsAbs(p) {
			prog, err := program.Find(root, v, env)
			if err != nil {
				continue // not installed (lto1 without LTO, say)
			}
			p = prog.Path
		} else if _, err := program.Find(root, p, env); err != nil {
			continue
		}
		if !seen[p] {
			seen[p] = true
			id.Programs = append(id.Programs, p)
		}
	}
	return id, nil
}
