// Package label parses and prints the names of targets and files: labels such
// as //pkg:name, and the target patterns the command line accepts.
package label

import (
	"fmt"
	"strings"
)

// BuiltinRepo is the repository name of the rule files embedded in bld, as in
// load("@bld//rules:cc.star", "cc_unit").
const BuiltinRepo = "bld"

// A Label names a target or a file of a package. Pkg is the package's
// directory relative to the workspace root ("" for the root package), Name the
// target or file name inside it (it may contain slashes for files in
// subdirectories). Repo is "" for the workspace, or BuiltinRepo.
type Label struct {
	Repo string
	Pkg  string
	Name string
}

// String prints the label in canonical form: //pkg:name, or @repo//pkg:name.
func (l Label) String() string {
	s := "//" + l.Pkg + ":" + l.Name
	if l.Repo != "" {
		s = "@" + l.Repo + s
	}
	return s
}

// Less orders labels by repository, package, then name, as query output
// lists them (//a:x before //a/b:y).
func Less(a, b Label) bool {
	if a.Repo != b.Repo {
		return a.Repo < b.Repo
	}
	if a.Pkg != b.Pkg {
		return a.Pkg < b.Pkg
	}
	return a.Name < b.Name
}

// Path is the label's file path relative to its repository root: pkg/name.
func (l Label) Path() string {
	if l.Pkg == "" {
		return l.Name
	}
	return l.Pkg + "/" + l.Name
}

// Parse parses s as a label. A relative label (":name" or "name") is taken
// relative to the package pkg, which is also the context of a repository-
// relative label's repository (repo).
//
// Accepted forms: //pkg:name, //pkg (meaning //pkg:<last component of pkg>),
// :name, name, and @repo//pkg:name.
func Parse(s, repo, pkg string) (Label, error) {
	orig := s
	l := Label{Repo: repo}
	if strings.HasPrefix(s, "@") {
		i := strings.Index(s, "//")
		if i < 0 {
			return Label{}, fmt.Errorf("invalid label %q: a repository name must be followed by //", orig)
		}
		l.Repo = s[1:i]
		if l.Repo != BuiltinRepo {
			return Label{}, fmt.Errorf("invalid label %q: unknown repository @%s (only @%s, the built-in rules, exists)", orig, l.Repo, BuiltinRepo)
		}
		s = s[i:]
	}
	switch {
	case strings.HasPrefix(s, "//"):
		s = s[2:]
		if i := strings.IndexByte(s, ':'); i >= 0 {
			l.Pkg, l.Name = s[:i], s[i+1:]
		} else {
			l.Pkg = s
			l.Name = s[strings.LastIndexByte(s, '/')+1:]
			if l.Name == "" {
				return Label{}, fmt.Errorf("invalid label %q: the root package has no default target; write //:name", orig)
			}
		}
	case strings.HasPrefix(s, ":"):
		l.Pkg, l.Name = pkg, s[1:]
	default:
		if strings.Contains(s, ":") {
			return Label{}, fmt.Errorf("invalid label %q: an absolute label starts with //", orig)
		}
		l.Pkg, l.Name = pkg, s
	}
	if err := checkPackage(l.Pkg); err != nil {
		return Label{}, fmt.Errorf("invalid label %q: %v", orig, err)
	}
	if err := checkName(l.Name); err != nil {
		return Label{}, fmt.Errorf("invalid label %q: %v", orig, err)
	}
	return l, nil
}

func checkPackage(pkg string) error {
	if pkg == "" {
		return nil
	}
	if strings.HasPrefix(pkg, "/") || strings.HasSuffix(pkg, "/") {
		return fmt.Errorf("package name %q must not start or end with /", pkg)
	}
	for part := range strings.SplitSeq(pkg, "/") {
		switch part {
		case "":
			return fmt.Errorf("package name %q contains //", pkg)
		case ".", "..":
			return fmt.Errorf("package name %q must not contain . or .. components", pkg)
		}
	}
	return checkChars(pkg)
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty target name")
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("target name %q must not start or end with /", name)
	}
	for part := range strings.SplitSeq(name, "/") {
		switch part {
		case "":
			return fmt.Errorf("target name %q contains //", name)
		case "..":
			return fmt.Errorf("target name %q must not contain .. (refer to a file of another package by that package's label)", name)
		}
	}
	return checkChars(name)
}

func checkChars(s string) error {
	for _, r := range s {
		if r < ' ' || r == '\x7f' || r == ':' || r == '\\' {
			return fmt.Errorf("%q contains the character %q", s, r)
		}
	}
	return nil
}
