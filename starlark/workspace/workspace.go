// Package workspace finds the workspace root, its packages, and the files a
// glob matches.
//
// The workspace root is the nearest directory, from the working directory
// upward, that holds a file named WORKSPACE.star. A package is a directory
// beneath the root holding a file named BUILD.star; its name is its path
// relative to the root, with slashes.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	// WorkspaceFile marks the workspace root.
	WorkspaceFile = "WORKSPACE.star"
	// BuildFile marks a package.
	BuildFile = "BUILD.star"
	// OutputDir is where actions write, relative to the root.
	OutputDir = "bld-out"
	// StateDir holds bld's own state (the action records, the file digests,
	// the sandbox), relative to the root. No target may declare a file in it.
	StateDir = OutputDir + "/.bld"
)

// ErrNoWorkspace is returned by FindRoot outside any workspace.
var ErrNoWorkspace = errors.New("not inside a bld workspace")

// FindRoot returns the absolute workspace root containing dir, and dir's path
// relative to it ("" at the root).
func FindRoot(dir string) (root, rel string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, WorkspaceFile)); err == nil {
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", "", err
			}
			if rel == "." {
				rel = ""
			}
			return d, filepath.ToSlash(rel), nil
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("%w: no %s in %s or any directory above it; create an empty %s at the root of your project",
				ErrNoWorkspace, WorkspaceFile, abs, WorkspaceFile)
		}
	}
}

// IsPackage reports whether pkg (relative to root) holds a BUILD.star file.
func IsPackage(root, pkg string) bool {
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(pkg), BuildFile))
	return err == nil && fi.Mode().IsRegular()
}

// skipDir reports whether a directory is never searched for packages or
// globbed: the output directory and hidden directories such as .git.
func skipDir(rel, name string) bool {
	return rel == OutputDir || (strings.HasPrefix(name, ".") && name != ".")
}

// Packages returns, sorted, every package at or beneath the directory dir
// (relative to root). Symbolic links to directories are not followed.
//
// Every build of //... asks it of the whole workspace: it reads each
// directory once and learns from its entries which are directories and
// whether it holds a BUILD.star, stat'ing only a BUILD.star that is a
// symbolic link (at 10,000 targets, filepath.WalkDir's path for every
// file and a stat per directory were 15 ms of a no-op's CPU).
func Packages(root, dir string) ([]string, error) {
	start := filepath.Join(root, filepath.FromSlash(dir))
	if fi, err := os.Stat(start); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("no directory %q in the workspace", "//"+dir)
	}
	if skipDir(dir, filepath.Base(start)) {
		return nil, nil
	}
	var pkgs []string
	buf := make([]byte, 16<<10)
	var walk func(abs, rel string) error
	walk = func(abs, rel string) error {
		var subs []string // the names of the directories to walk
		isPkg := false
		err := readDir(abs, buf, func(name string, typ fs.FileMode) {
			switch {
			case typ.IsDir():
				sub := name
				if rel != "" {
					sub = rel + "/" + name
				}
				if !skipDir(sub, name) {
					subs = append(subs, strings.Clone(name))
				}
			case name == BuildFile:
				// A link is followed as IsPackage follows it.
				isPkg = typ.IsRegular() || typ&fs.ModeSymlink != 0 && IsPackage(root, rel)
			}
		})
		if err != nil {
			return err
		}
		if isPkg {
			pkgs = append(pkgs, rel)
		}
		for _, name := range subs {
			sub := name
			if rel != "" {
				sub = rel + "/" + name
			}
			if err := walk(abs+string(filepath.Separator)+name, sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(start, dir); err != nil {
		return nil, fmt.Errorf("listing packages under //%s: %w", dir, err)
	}
	sort.Strings(pkgs)
	return pkgs, nil
}
