package label

import (
	"fmt"
	"path"
	"strings"
)

// A Pattern selects targets on the command line: a single label, every
// target of a package (//pkg:all), or every target beneath a directory
// (//pkg/...).
type Pattern struct {
	// Pkg is the package, or for a recursive pattern the directory.
	Pkg string
	// Name is the target name of a single-target pattern.
	Name string
	// All selects every target of Pkg.
	All bool
	// Recursive selects every target of every package at or below Pkg.
	Recursive bool
}

func (p Pattern) String() string {
	switch {
	case p.Recursive:
		if p.Pkg == "" {
			return "//..."
		}
		return "//" + p.Pkg + "/..."
	case p.All:
		return "//" + p.Pkg + ":all"
	default:
		return Label{Pkg: p.Pkg, Name: p.Name}.String()
	}
}

// ParsePattern parses a target pattern. Relative patterns (":name",
// "sub:name", "sub/...", "...") are taken relative to dir, the working
// directory relative to the workspace root.
func ParsePattern(s, dir string) (Pattern, error) {
	orig := s
	if !strings.HasPrefix(s, "//") {
		if strings.HasPrefix(s, "@") {
			return Pattern{}, fmt.Errorf("invalid target pattern %q: targets of other repositories cannot be built", orig)
		}
		rel := s
		name := ""
		if i := strings.IndexByte(s, ':'); i >= 0 {
			rel, name = s[:i], s[i:]
		}
		joined := path.Join(dir, rel)
		if joined == "." {
			joined = ""
		}
		s = "//" + joined + name
	}
	body := s[2:]
	if body == "..." || strings.HasSuffix(body, "/...") {
		pkg := strings.TrimSuffix(strings.TrimSuffix(body, "..."), "/")
		if err := checkPackage(pkg); err != nil {
			return Pattern{}, fmt.Errorf("invalid target pattern %q: %v", orig, err)
		}
		return Pattern{Pkg: pkg, Recursive: true}, nil
	}
	for _, all := range []string{":all", ":*", ":all-targets"} {
		if strings.HasSuffix(body, all) {
			pkg := strings.TrimSuffix(body, all)
			if err := checkPackage(pkg); err != nil {
				return Pattern{}, fmt.Errorf("invalid target pattern %q: %v", orig, err)
			}
			return Pattern{Pkg: pkg, All: true}, nil
		}
	}
	l, err := Parse(s, "", "")
	if err != nil {
		return Pattern{}, fmt.Errorf("invalid target pattern %q: %v", orig, err)
	}
	return Pattern{Pkg: l.Pkg, Name: l.Name}, nil
}
