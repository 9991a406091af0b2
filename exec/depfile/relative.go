package depfile

import (
	"path"
	"path/filepath"
	"strings"
)

// Relative maps a path a depfile names to the form bld keeps: a relative
// path is cleaned ("./x" is "x"; one that climbs out stays "../x" for the
// caller to judge); an absolute path under one of roots (the directories
// the workspace was seen at by the command: the workspace root, an exec
// root, the sandbox's fixed path) becomes relative to it; any other
// absolute path (a system header) is kept, cleaned.
func Relative(p string, roots []string) string {
	p = filepath.ToSlash(p)
	if !path.IsAbs(p) {
		return path.Clean(p)
	}
	p = path.Clean(p)
	for _, root := range roots {
		if rel, ok := strings.CutPrefix(p, filepath.ToSlash(root)+"/"); ok {
			return rel
		}
	}
	return p
}
