package loading

import (
	"slices"
	"sort"

	"bld/starlark/label"
	"bld/starlark/workspace"
)

// recordLoad records that the file from (workspace-relative) loaded the
// module m; built-in modules, which are part of bld, are left out.
func (l *Loader) recordLoad(from string, m label.Label) {
	if m.Repo == label.BuiltinRepo {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.loads[from], m.Path()) {
		l.loads[from] = append(l.loads[from], m.Path())
	}
}

// PackageFiles returns, sorted, the workspace files that evaluating package
// pkg read: its BUILD.star and the .star files it loaded, directly or
// through other .star files. Its answers are complete for packages that
// loaded without error.
func (l *Loader) PackageFiles(pkg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := buildFile(pkg)
	seen := map[string]bool{start: true}
	todo := []string{start}
	for len(todo) > 0 {
		f := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, m := range l.loads[f] {
			if !seen[m] {
				seen[m] = true
				todo = append(todo, m)
			}
		}
	}
	files := make([]string, 0, len(seen))
	for f := range seen {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

// LoadedPackages returns, sorted, the packages loaded so far without error.
func (l *Loader) LoadedPackages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var pkgs []string
	for name, e := range l.packages {
		select {
		case <-e.done:
			if e.err == nil {
				pkgs = append(pkgs, name)
			}
		default:
		}
	}
	sort.Strings(pkgs)
	return pkgs
}

// PatternTargets returns the labels of pkg's targets and files that the
// patterns name, sorted: the part of Expand's answer that comes from pkg,
// so that Expand(patterns) is the sorted union of PatternTargets over the
// packages it loads. An error is Expand's for the same pattern.
func (l *Loader) PatternTargets(pkg *Package, patterns []label.Pattern) ([]label.Label, error) {
	var seen map[label.Label]bool
	var out []label.Label
	add := func(lb label.Label) {
		if seen == nil {
			// Sized for the whole package, which //... names: this
			// runs for every package a build loaded.
			seen, out = make(map[label.Label]bool, len(pkg.Targets)), make([]label.Label, 0, len(pkg.Targets))
		}
		if !seen[lb] {
			seen[lb] = true
			out = append(out, lb)
		}
	}
	for _, p := range patterns {
		if p.Recursive && !under(pkg.Path, p.Pkg) || !p.Recursive && p.Pkg != pkg.Path {
			continue
		}
		if err := l.matchIn(pkg, p, add); err != nil {
			return nil, err
		}
	}
	sortLabels(out)
	return out, nil
}

// under reports whether package pkg is at or below directory dir.
func under(pkg, dir string) bool {
	return dir == "" || pkg == dir || len(pkg) > len(dir) && pkg[len(dir)] == '/' && pkg[:len(dir)] == dir
}

// buildFile returns the path of package pkg's BUILD.star.
func buildFile(pkg string) string {
	if pkg == "" {
		return workspace.BuildFile
	}
	return pkg + "/" + workspace.BuildFile
}
