package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"bld/exec/depfile"
)

// rewriteDepfile rewrites the depfile at file so that its paths are clean
// workspace-relative slash paths: relative ones are cleaned ("./x" is "x"),
// absolute ones under one of prefixes (the exec root's real path, the
// workspace root, the fixed paths) lose the prefix, and other absolute paths
// (system headers) are kept.
func rewriteDepfile(file string, prefixes []string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading depfile: %w", err)
	}
	rules, err := depfile.Parse(data)
	if err != nil {
		return fmt.Errorf("depfile %s: %w", filepath.Base(file), err)
	}
	mapPath := func(p string) string { return depfile.Relative(p, prefixes) }
	for i := range rules {
		mapAll(rules[i].Targets, mapPath)
		mapAll(rules[i].Prereqs, mapPath)
	}
	if err := os.WriteFile(file, depfile.Format(rules), 0o644); err != nil {
		return fmt.Errorf("rewriting depfile: %w", err)
	}
	return nil
}

func mapAll(s []string, f func(string) string) {
	for i := range s {
		s[i] = f(s[i])
	}
}
