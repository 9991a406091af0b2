package loading

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"bld/exec/crash"
	"bld/starlark/label"
)

// Expand resolves target patterns to the labels of the targets they name,
// sorted and unique. Packages are loaded in parallel. As in Bazel, //...
// and :all leave out targets tagged "manual", which only a pattern naming
// them builds. A single-target
// pattern may name a declared output or a source file (Resolve decides). A
// pattern that names nothing is an error: a package without BUILD.star
// (*NoSuchPackageError), a label that is not a target or file
// (*NoSuchTargetError), a recursive pattern with no package beneath it.
// bld build and bld query both resolve their patterns here, so they accept
// and reject the same ones with the same errors.
func (l *Loader) Expand(ctx context.Context, patterns []label.Pattern) ([]label.Label, error) {
	return l.ExpandKeepGoing(ctx, patterns, nil)
}

// ExpandKeepGoing is Expand that, with report not nil (-k), goes past a
// package that fails to load and a single-target pattern that names
// nothing: it reports each such error and expands the other patterns, as
// Bazel's --keep_going does. A pattern that cannot be read at all (a
// recursive pattern with no package beneath it) is still an error.
func (l *Loader) ExpandKeepGoing(ctx context.Context, patterns []label.Pattern, report func(error)) ([]label.Label, error) {
	var pkgs []string
	below := map[string][]string{} // packages below each recursive pattern's directory
	for _, p := range patterns {
		if p.Recursive {
			found, err := l.view.Packages(p.Pkg)
			if err != nil {
				return nil, fmt.Errorf("pattern %s: %v", p, err)
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("pattern %s matches no package: there is no BUILD.star under %s", p, "//"+p.Pkg)
			}
			below[p.Pkg] = found
			pkgs = append(pkgs, found...)
		} else {
			pkgs = append(pkgs, p.Pkg)
		}
	}
	loaded, err := l.loadAll(ctx, pkgs, report)
	if err != nil {
		return nil, err
	}
	// Sized for every target of the packages loaded; one pattern names
	// each label once (each package is matched once, each target once).
	n := 0
	for _, pkg := range loaded {
		if pkg != nil {
			n += len(pkg.Targets)
		}
	}
	var seen map[label.Label]bool
	if len(patterns) > 1 {
		seen = make(map[label.Label]bool, n)
	}
	out := make([]label.Label, 0, n)
	add := func(lb label.Label) {
		if seen == nil {
			out = append(out, lb)
			return
		}
		if !seen[lb] {
			seen[lb] = true
			out = append(out, lb)
		}
	}
	for _, p := range patterns {
		matched := []string{p.Pkg}
		if p.Recursive {
			matched = below[p.Pkg]
		}
		for _, pkg := range matched {
			if loaded[pkg] == nil {
				continue // reported
			}
			if err := l.matchIn(loaded[pkg], p, add); err != nil {
				if report == nil || ctx.Err() != nil {
					return nil, err
				}
				report(err)
			}
		}
	}
	sortLabels(out)
	return out, nil
}

// matchIn adds the labels of pkg's targets that pattern p names, given
// that p covers pkg: every target but the manual ones for a recursive or
// :all pattern, the one target or file (Resolve decides) for a label. It
// is the one home of that decision for Expand and PatternTargets.
func (l *Loader) matchIn(pkg *Package, p label.Pattern, add func(label.Label)) error {
	if p.Recursive || p.All {
		for _, name := range pkg.TargetNames() {
			if !pkg.Targets[name].Manual() {
				add(label.Label{Pkg: pkg.Path, Name: name})
			}
		}
		return nil
	}
	lb := label.Label{Pkg: p.Pkg, Name: p.Name}
	if _, err := l.Resolve(pkg, lb); err != nil {
		return err
	}
	add(lb)
	return nil
}

// loadAll loads packages in parallel, returning the first error in the
// order given (so that the error reported does not depend on timing); with
// report not nil, it reports each package's error instead, in that order,
// and leaves the package out of the map.
func (l *Loader) loadAll(ctx context.Context, pkgs []string, report func(error)) (map[string]*Package, error) {
	type result struct {
		pkg *Package
		err error
	}
	results := make([]result, len(pkgs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, p := range pkgs {
		wg.Add(1)
		sem <- struct{}{}
		crash.Go(func() {
			defer wg.Done()
			defer func() { <-sem }()
			pkg, err := l.LoadPackage(ctx, p)
			results[i] = result{pkg, err}
		})
	}
	wg.Wait()
	out := make(map[string]*Package, len(pkgs))
	reported := map[string]bool{}
	for i, r := range results {
		if r.err != nil {
			if report == nil || ctx.Err() != nil {
				return nil, r.err
			}
			if !reported[pkgs[i]] {
				reported[pkgs[i]] = true
				report(r.err)
			}
			continue
		}
		out[pkgs[i]] = r.pkg
	}
	return out, nil
}

func sortLabels(ls []label.Label) {
	slices.SortFunc(ls, func(a, b label.Label) int {
		if label.Less(a, b) {
			return -1
		}
		if label.Less(b, a) {
			return 1
		}
		return 0
	})
}
