// Package program finds the file an action's argv[0] names. It is the one
// place that decides it: the runner starts that file, the action key hashes
// it, and the sandbox shows it to the command.
package program

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A Program is the file an action runs.
type Program struct {
	// Path is the file's absolute path.
	Path string
	// Name is how the file is remembered between builds: its clean
	// workspace-relative slash path when argv[0] (or the PATH entry it was
	// found in) is relative, else Path. It never depends on where the
	// workspace is for a program inside it named relatively.
	Name string
	// Info is what stat said of the file (symbolic links followed).
	Info fs.FileInfo
}

// InWorkspace reports whether the program was named relative to the
// workspace root (./gen.sh, tools/x, or found in a relative PATH entry).
func (p Program) InWorkspace() bool { return !filepath.IsAbs(p.Name) }

// Find resolves argv0 the way a shell with environment env would, without
// bld's own environment: a name with a slash is a path, relative ones taken
// from the workspace root; a bare name is searched in env's PATH (relative
// entries taken from the root; an empty entry is the root). A program is a
// regular file (after symbolic links) with an execute bit.
func Find(root, argv0 string, env []string) (Program, error) {
	if argv0 == "" {
		return Program{}, errors.New("empty command name")
	}
	if strings.Contains(argv0, "/") {
		p, err := at(root, argv0)
		if err != nil {
			return Program{}, fmt.Errorf("command %s: %w", argv0, err)
		}
		return p, nil
	}
	pathVar, ok := PathOf(env)
	if !ok {
		return Program{}, fmt.Errorf("command %s not found: the action's environment has no PATH", argv0)
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		if p, err := at(root, path.Join(filepath.ToSlash(dir), argv0)); err == nil {
			return p, nil
		}
	}
	return Program{}, fmt.Errorf("command %s not found in the action's PATH=%s", argv0, pathVar)
}

// PathOf returns the value of PATH in env ("KEY=value" entries; the last
// one wins, as for a shell) and whether it is set.
func PathOf(env []string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if val, found := strings.CutPrefix(kv, "PATH="); found {
			v, ok = val, true
		}
	}
	return v, ok
}

// at checks the program named by the slash path name.
func at(root, name string) (Program, error) {
	p := Program{Name: name, Path: name}
	if !filepath.IsAbs(name) {
		p.Name = path.Clean(name)
		p.Path = filepath.Join(root, filepath.FromSlash(p.Name))
	}
	fi, err := os.Stat(p.Path)
	if err != nil {
		return Program{}, err
	}
	if fi.IsDir() {
		return Program{}, fmt.Errorf("%s is a directory", p.Path)
	}
	if !fi.Mode().IsRegular() {
		return Program{}, fmt.Errorf("%s is not a regular file", p.Path)
	}
	if fi.Mode()&0o111 == 0 {
		return Program{}, fmt.Errorf("%s: %w (no execute bit)", p.Path, fs.ErrPermission)
	}
	p.Info = fi
	return p, nil
}
