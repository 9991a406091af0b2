package sandbox

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"bld/exec/graph"
)

// notFound matches the lines in which tools say they could not find a file:
// gcc ("fatal error: local.h: No such file or directory"), sh ("./gen.sh:
// not found"), cat, python ("can't open file"), program.Find ("no such file
// or directory").
var notFound = regexp.MustCompile(`(?i)no such file|not found|cannot open|can't open|could not open|cannot find|can't find|unable to open`)

// pathToken is what may be a file name in such a line.
var pathToken = regexp.MustCompile(`[A-Za-z0-9_.+@%=,/-]+`)

// Hints returns, for a sandboxed action that failed with output (its command's
// output and its error), one line per workspace file that the output says
// was not found and that exists in the workspace at root without being an
// input of a:
//
//	bld: local.h exists in the workspace but is not an input of this action; declare it (...)
//
// A name counts when it exists relative to the root or to the directory of
// one of a's inputs (where a compiler looks for quoted includes).
func Hints(root string, a *graph.Action, output string) []string {
	declared := map[string]bool{}
	dirs := map[string]bool{".": true}
	for _, in := range a.AllInputs() {
		declared[in] = true
		dirs[path.Dir(in)] = true
	}
	for _, out := range a.Outputs {
		declared[out] = true
	}
	var hints []string
	seen := map[string]bool{}
	for _, line := range strings.Split(output, "\n") {
		if !notFound.MatchString(line) {
			continue
		}
		for _, tok := range pathToken.FindAllString(line, -1) {
			for _, p := range candidates(root, tok, dirs) {
				if seen[p] || declared[p] {
					continue
				}
				seen[p] = true
				if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err == nil && !fi.IsDir() {
					hints = append(hints, fmt.Sprintf("bld: %s exists in the workspace but is not an input of this action; "+
						"declare it (hdrs or srcs of a cc rule, srcs or tools of a genrule, inputs of ctx.actions.run)", p))
				}
			}
		}
	}
	return hints
}

// candidates returns the workspace-relative paths that tok, a name from a
// tool's message, may stand for.
func candidates(root, tok string, dirs map[string]bool) []string {
	tok = strings.TrimRight(tok, ".,")
	if tok == "" || !strings.ContainsAny(tok, "./") {
		return nil // a word, not a file name
	}
	if path.IsAbs(tok) {
		for _, pre := range []string{FixedExecRoot, root} {
			if rel, ok := strings.CutPrefix(tok, filepath.ToSlash(pre)+"/"); ok {
				if i := strings.Index(rel, "bld-out/.bld/sandbox/"); i == 0 {
					// An exec root's real path: drop bld-out/.bld/sandbox/<n>/.
					parts := strings.SplitN(rel, "/", 5)
					if len(parts) < 5 {
						return nil
					}
					rel = parts[4]
				}
				return []string{path.Clean(rel)}
			}
		}
		return nil
	}
	var out []string
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		p := path.Join(d, tok)
		if p == "." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "bld-out/.bld/") {
			continue
		}
		out = append(out, p)
	}
	return out
}
