// Package ship packages a local gcc toolchain as input-root files, so that
// a remote worker with no compiler installed compiles and links exactly
// what the local machine would (sccache-dist's idea, done the REAPI way).
//
// A Toolchain is the driver, the programs it starts (cc1, cc1plus,
// collect2, lto-wrapper, as, ld), the files a default link reads (crt*.o,
// libgcc, libc.so and what it names), the shared libraries every program
// loads with the dynamic loader itself, and the headers the caller names
// (those the depfiles of local compiles showed) or, optionally, the whole
// include directories gcc searches. Each file is kept at its local
// absolute path re-rooted under Prefix, a workspace-relative directory
// ".bld-toolchain/<12 hex digits of ID>" of the input root.
//
// Rewrite turns a command for the local driver into one that runs the
// shipped driver through the shipped loader (never the worker's: the
// programs' PT_INTERP is an absolute path the worker may not have), makes
// the driver start every program through the same loader (gcc -wrapper),
// finds the programs, headers and libraries under Prefix (--sysroot, -B),
// and links with ld directly instead of through collect2 (a specs file),
// since collect2 would start ld with the worker's loader. RewriteDepfile
// maps the paths a shipped compile reports back to the local ones.
//
// CanRewrite says which commands Rewrite cannot ship faithfully: a link
// with link-time optimization (ld's plugin starts lto-wrapper without the
// shipped loader, and lto1 is not shipped), a command with its own
// --sysroot, -fuse-ld= (ld is always the linker), -specs or -wrapper, or
// a response file. Package probes the driver without the command's flags,
// so -B directories of a command are searched on the worker before the
// package's (they must be in the input root). With -g, the debug
// information names the worker's absolute input-root path (gcc makes
// system include directories absolute, and -ffile-prefix-map cannot name
// a path the worker chooses), as DW_AT_comp_dir does, so objects built
// with -g differ from local ones; without -g they are byte-identical
// (tested).
//
// The shipped headers are part of the package: with the depfile-named
// headers, each new header changes the ID, the Prefix and so every remote
// action's key; with Options.IncludeDirs the package is stable but large.
package ship

import (
	"bytes"
	"path"
	"strings"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// PrefixDir is the input-root directory that holds shipped toolchains.
const PrefixDir = ".bld-toolchain"

// A Toolchain is a packaged toolchain. It is plain data, safe to persist
// as JSON; it must not be modified after Package returns it.
type Toolchain struct {
	// ID is the content digest of the package: of the sorted list of its
	// files' local paths, digests and executable bits. Two toolchains with
	// the same ID have the same Files (the "strong" key).
	ID digest.Digest
	// Prefix is the workspace-relative directory the files are under:
	// PrefixDir + "/" + the first 12 hex digits of ID.Hash.
	Prefix string
	// Files are the input-root files of the package, sorted by Path, each
	// Path being Prefix joined with a local absolute path.
	Files []reapi.InputFile
	// Local maps the Path of each file copied from this machine to the
	// local file holding its content (symbolic links are followed:
	// the package has no links).
	Local map[string]string
	// Generated maps the Path of each file made by Package (the link
	// specs) to its content.
	Generated map[string][]byte
	// Driver is the local absolute path of the driver, symbolic links
	// resolved (gcc finds its programs relative to its real location).
	Driver string
	// Loader is the local absolute path of the dynamic loader the
	// programs name (PT_INTERP).
	Loader string
	// LibraryDirs are the local directories of the shared libraries the
	// programs load, in search order.
	LibraryDirs []string
	// ProgramDirs are the local directories of the programs the driver
	// found in PATH (as, ld), passed as -B.
	ProgramDirs []string
	// Specs is the local-style absolute path (under Prefix) of the specs
	// file that makes ld the linker.
	Specs string
}

// In returns the input-root path of the local absolute path p.
func (t *Toolchain) In(p string) string {
	return t.Prefix + path.Clean("/"+p)
}

// Size returns the number of files of t and the sum of their sizes.
func (t *Toolchain) Size() (files int, bytes int64) {
	for _, f := range t.Files {
		bytes += f.Digest.Size
	}
	return len(t.Files), bytes
}

// libraryPath is the loader's --library-path value: the shipped library
// directories, workspace-relative, colon-separated.
func (t *Toolchain) libraryPath() string {
	dirs := make([]string, len(t.LibraryDirs))
	for i, d := range t.LibraryDirs {
		dirs[i] = t.In(d)
	}
	return strings.Join(dirs, ":")
}

// Rewrite returns the command that runs argv (whose argv[0] is this
// toolchain's driver, however named) with the shipped toolchain, from a
// working directory that is the input root, on a machine that has neither
// a compiler nor a compatible loader or C library: the shipped loader runs
// the shipped driver with the shipped libraries, and the arguments -wrapper
// (every program the driver starts goes through the loader), --sysroot
// (headers, crt files and libraries), -B for ProgramDirs (as, ld) and
// -specs (ld, not collect2, links) are appended, after the command's own
// arguments so that its own -B directories come first. The environment is
// env without GCC_EXEC_PREFIX and COMPILER_PATH, which would point the
// driver at local directories. argv and env are not modified.
func (t *Toolchain) Rewrite(argv, env []string) (newArgv, newEnv []string) {
	loader, lp := t.In(t.Loader), t.libraryPath()
	newArgv = append(newArgv, loader, "--library-path", lp, t.In(t.Driver))
	if len(argv) > 1 {
		newArgv = append(newArgv, argv[1:]...)
	}
	newArgv = append(newArgv, "-wrapper", loader+",--library-path,"+lp,
		"--sysroot="+t.Prefix)
	for _, d := range t.ProgramDirs {
		newArgv = append(newArgv, "-B"+t.In(d)+"/")
	}
	newArgv = append(newArgv, "-specs="+t.In(t.Specs))
	for _, kv := range env {
		if strings.HasPrefix(kv, "GCC_EXEC_PREFIX=") || strings.HasPrefix(kv, "COMPILER_PATH=") {
			continue
		}
		newEnv = append(newEnv, kv)
	}
	return newArgv, newEnv
}

// RewriteDepfile returns a copy of the depfile data that a compile run by
// Rewrite wrote, with each path of a shipped file, relative
// (Prefix/usr/include/stdio.h) or absolute (the worker's input root, then
// Prefix/...), replaced by the local path it was shipped from
// (/usr/include/stdio.h), so that the local key logic sees what a local
// compile would have reported. Other paths are unchanged.
func (t *Toolchain) RewriteDepfile(data []byte) []byte {
	marker := []byte(t.Prefix + "/")
	var out bytes.Buffer
	last := 0 // data[:last] is written
	for {
		i := bytes.Index(data[last:], marker)
		if i < 0 {
			break
		}
		i += last
		start := i
		if start > 0 && data[start-1] != '/' && !isSep(data, start-1) {
			// Prefix inside a longer name (x.bld-toolchain/...): not ours.
			out.Write(data[last : i+len(marker)])
			last = i + len(marker)
			continue
		}
		for start > last && !isSep(data, start-1) {
			start-- // back over the worker's input root path
		}
		out.Write(data[last:start])
		out.WriteByte('/')
		last = i + len(marker)
	}
	out.Write(data[last:])
	return out.Bytes()
}

// isSep reports whether data[k] ends a name in Make syntax: white space
// not escaped by an odd number of backslashes.
func isSep(data []byte, k int) bool {
	switch data[k] {
	case '\n', '\r':
		return true
	case ' ', '\t':
		n := 0
		for j := k - 1; j >= 0 && data[j] == '\\'; j-- {
			n++
		}
		return n%2 == 0
	}
	return false
}
