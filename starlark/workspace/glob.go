package workspace

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Glob returns, sorted, the files of package pkg (paths relative to the
// package) matched by any include pattern and by no exclude pattern. A
// pattern is a slash-separated path whose components may use the wildcards
// of path.Match, and whose component "**" matches any number of
// directories. Glob does not descend into subpackages, the output directory
// or hidden directories, and matches files only.
func Glob(root, pkg string, include, exclude []string) ([]string, error) {
	for _, p := range append(append([]string(nil), include...), exclude...) {
		if err := checkPattern(p); err != nil {
			return nil, err
		}
	}
	base := filepath.Join(root, filepath.FromSlash(pkg))
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			wsRel := rel
			if pkg != "" {
				wsRel = pkg + "/" + rel
			}
			if skipDir(wsRel, d.Name()) || IsPackage(root, wsRel) {
				return filepath.SkipDir
			}
			return nil
		}
		if matchAny(include, rel) && !matchAny(exclude, rel) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("glob in //%s: %w", pkg, err)
	}
	sort.Strings(files)
	return files, nil
}

func checkPattern(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
		return fmt.Errorf("invalid glob pattern %q: patterns are relative to the package and must not contain ..", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "**" {
			continue
		}
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("invalid glob pattern %q: %v", p, err)
		}
	}
	return nil
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if match(strings.Split(p, "/"), strings.Split(name, "/")) {
			return true
		}
	}
	return false
}

// match matches path components against pattern components, "**" matching
// zero or more components.
func match(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if match(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
