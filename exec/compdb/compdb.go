// Package compdb makes a JSON compilation database (compile_commands.json,
// https://clang.llvm.org/docs/JSONCompilationDatabase.html) from an action
// graph, for clangd and other tools that need each source's compile
// command.
package compdb

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"bld/exec/graph"
)

// An Entry is one source's compile command.
type Entry struct {
	// Directory is where the command runs: the workspace root, where the
	// workspace-relative paths of the arguments are valid.
	Directory string `json:"directory"`
	// File is the source file, absolute.
	File string `json:"file"`
	// Arguments is the command line, argv[0] first.
	Arguments []string `json:"arguments"`
	// Output is the object file, absolute.
	Output string `json:"output,omitempty"`
}

// sourceExts are the extensions of C-family sources that are compiled
// (headers are not).
var sourceExts = map[string]bool{
	".c": true, ".cc": true, ".cpp": true, ".cxx": true, ".c++": true, ".C": true,
	".m": true, ".mm": true, ".S": true, ".s": true,
}

// IsSource reports whether p names a C-family source file.
func IsSource(p string) bool { return sourceExts[path.Ext(p)] }

// Entries returns the compile commands of the actions, in their order. An
// action is a compile when its argv has "-c FILE" with FILE one of its
// Inputs and a C-family source (so "sh -c CMD" is not one). When the action
// has other C-family sources among its Inputs, FILE is a unity source
// including them (a partition of a unit): each of them gets an entry, with
// the same arguments but "-c <it>", because that is the file an editor
// opens. root is the workspace root, the entries' directory: the real
// checkout, never a sandbox's exec root.
func Entries(actions []*graph.Action, root string) []Entry {
	var out []Entry
	for _, a := range actions {
		ci := slices.Index(a.Argv, "-c")
		if ci < 0 || ci+1 >= len(a.Argv) {
			continue
		}
		file := a.Argv[ci+1]
		if !IsSource(file) || !slices.Contains(a.Inputs, file) {
			continue
		}
		var object string
		if oi := slices.Index(a.Argv, "-o"); oi >= 0 && oi+1 < len(a.Argv) {
			object = abs(root, a.Argv[oi+1])
		}
		var members []string
		for _, in := range a.Inputs {
			if in != file && IsSource(in) {
				members = append(members, in)
			}
		}
		if len(members) == 0 {
			members = []string{file}
		}
		for _, m := range members {
			args := slices.Clone(a.Argv)
			args[ci+1] = m
			out = append(out, Entry{Directory: root, File: abs(root, m), Arguments: args, Output: object})
		}
	}
	return out
}

func abs(root, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return filepath.Join(root, filepath.FromSlash(p))
}
