package reapi

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"bld/exec/digest"
)

// An InputFile is one file of an input root: a slash-separated path
// relative to the root, its content digest and executable bit.
type InputFile struct {
	Path         string
	Digest       digest.Digest
	IsExecutable bool
}

// MerkleRoot builds the REAPI input tree of files, a Directory per
// directory level with entries sorted by name, and returns the digest of
// the root Directory. Each Directory's digest and encoding are passed to
// emit (when not nil) children first, for a caller that uploads them.
// Paths must be clean, relative, without "..", and unique; a path may not
// be both a file and a directory. Empty directories are not represented.
func MerkleRoot(files []InputFile, emit func(digest.Digest, []byte)) (digest.Digest, error) {
	type node struct {
		files map[string]FileNode
		dirs  map[string]*node
	}
	newNode := func() *node { return &node{files: map[string]FileNode{}, dirs: map[string]*node{}} }
	root := newNode()
	for _, f := range files {
		p := f.Path
		if p == "" || path.Clean(p) != p || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || p == "." {
			return digest.Digest{}, fmt.Errorf("input path %q is not a clean relative path inside the workspace", p)
		}
		n := root
		parts := strings.Split(p, "/")
		for _, dir := range parts[:len(parts)-1] {
			if _, clash := n.files[dir]; clash {
				return digest.Digest{}, fmt.Errorf("input %s: %s is both a file and a directory", p, dir)
			}
			c := n.dirs[dir]
			if c == nil {
				c = newNode()
				n.dirs[dir] = c
			}
			n = c
		}
		name := parts[len(parts)-1]
		if _, clash := n.dirs[name]; clash {
			return digest.Digest{}, fmt.Errorf("input %s is both a file and a directory", p)
		}
		if old, dup := n.files[name]; dup && old != (FileNode{name, f.Digest, f.IsExecutable}) {
			return digest.Digest{}, fmt.Errorf("input %s listed twice with different content", p)
		}
		n.files[name] = FileNode{Name: name, Digest: f.Digest, IsExecutable: f.IsExecutable}
	}
	var build func(n *node) digest.Digest
	build = func(n *node) digest.Digest {
		var d Directory
		for _, name := range sortedKeys(n.files) {
			d.Files = append(d.Files, n.files[name])
		}
		for _, name := range sortedKeys(n.dirs) {
			d.Directories = append(d.Directories, DirectoryNode{Name: name, Digest: build(n.dirs[name])})
		}
		b := d.Marshal()
		dg := digest.OfBytes(b)
		if emit != nil {
			emit(dg, b)
		}
		return dg
	}
	return build(root), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
