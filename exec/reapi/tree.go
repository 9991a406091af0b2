package reapi

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

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
// emit (when not nil) children first, in name order, for a caller that
// uploads them; the encoding is emit's to keep. Paths must be clean,
// relative, without "..", valid UTF-8, and unique (a path listed twice
// with the same digest and executable bit counts once); a path may not be
// both a file and a directory. Empty directories are not represented.
// files may be in any order and are not modified.
func MerkleRoot(files []InputFile, emit func(digest.Digest, []byte)) (digest.Digest, error) {
	for _, f := range files {
		p := f.Path
		if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
			return digest.Digest{}, fmt.Errorf("input path %q is not a clean relative path inside the workspace", p)
		}
		if !utf8.ValidString(p) {
			return digest.Digest{}, fmt.Errorf("input path %q is not valid UTF-8, as REAPI requires", p)
		}
	}
	// In path-component order, the files of each directory, and of each
	// of its subdirectories, are one run of the list, in name order.
	if !slices.IsSortedFunc(files, compareInputs) {
		files = slices.Clone(files)
		slices.SortFunc(files, compareInputs)
	}
	t := &treeBuilder{files: files, emit: emit}
	return t.dir(0, len(files), 0)
}

// compareInputs orders input files by path, component by component.
func compareInputs(a, b InputFile) int { return comparePaths(a.Path, b.Path) }

// comparePaths orders slash-separated paths component by component: as
// bytes, but with '/' before every other byte, so that a directory's
// entries directly follow its name and precede the names it is a prefix
// of ("a", "a/b", "a.c").
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			switch {
			case a[i] == '/':
				return -1
			case b[i] == '/':
				return 1
			}
			return cmp.Compare(a[i], b[i])
		}
	}
	return cmp.Compare(len(a), len(b))
}

// A treeBuilder builds the Directory messages of files, sorted in
// path-component order, and encodes them without building messages.
type treeBuilder struct {
	files []InputFile
	// nodes is a stack: the entries of the directories being built, each
	// directory's above its parent's.
	nodes []node
	emit  func(digest.Digest, []byte)
	buf   []byte // the encoding buffer, reused when emit is nil
}

// A node is a FileNode or a DirectoryNode of a Directory.
type node struct {
	name         string
	digest       digest.Digest
	isDir        bool
	isExecutable bool
}

// size is the size of the fields of n's message.
func (n *node) size() int {
	s := strSize(fieldNodeName, n.name) + elemSize(fieldNodeDigest, digestSize(n.digest))
	if n.isExecutable {
		s += varintSize(fieldFileNodeExecutable, 1)
	}
	return s
}

// dir builds the Directory of files[lo:hi], whose paths all begin with
// the directory's path and a slash, off bytes, passes it to emit after
// its subdirectories, and returns its digest.
func (t *treeBuilder) dir(lo, hi, off int) (digest.Digest, error) {
	base := len(t.nodes)
	for i := lo; i < hi; {
		name, isDir, j := t.entry(i, hi, off)
		if !isDir {
			// A file: the same path again must say the same.
			f := t.files[i]
			for _, g := range t.files[i+1 : j] {
				if g.Digest != f.Digest || g.IsExecutable != f.IsExecutable {
					return digest.Digest{}, fmt.Errorf("input %s listed twice with different content", f.Path)
				}
			}
			if j < hi && isUnder(t.files[j].Path[off:], name) {
				return digest.Digest{}, fmt.Errorf("input %s: %s is both a file and a directory", t.files[j].Path, f.Path)
			}
			t.nodes = append(t.nodes, node{name: name, digest: f.Digest, isExecutable: f.IsExecutable})
			i = j
			continue
		}
		sub, err := t.dir(i, j, off+len(name)+1)
		if err != nil {
			return digest.Digest{}, err
		}
		t.nodes = append(t.nodes, node{name: name, digest: sub, isDir: true})
		i = j
	}
	nodes := t.nodes[base:]
	size := 0
	for i := range nodes {
		if nodes[i].isDir {
			size += elemSize(fieldDirectoryDirectories, nodes[i].size())
		} else {
			size += elemSize(fieldDirectoryFiles, nodes[i].size())
		}
	}
	var e encoder
	if t.emit == nil {
		e.b = slices.Grow(t.buf[:0], size)
	} else {
		e.b = make([]byte, 0, size)
	}
	// Files first (field 1), then directories (2), each in name order.
	for _, dirs := range []bool{false, true} {
		num := fieldNum(fieldDirectoryFiles)
		if dirs {
			num = fieldDirectoryDirectories
		}
		for i := range nodes {
			n := &nodes[i]
			if n.isDir != dirs {
				continue
			}
			e.header(num, n.size())
			e.str(fieldNodeName, n.name, "input name")
			e.digest(fieldNodeDigest, n.digest)
			if n.isExecutable {
				e.varint(fieldFileNodeExecutable, 1)
			}
		}
	}
	t.nodes = t.nodes[:base]
	if t.emit == nil {
		t.buf = e.b
	}
	b, err := e.done("a Directory")
	if err != nil {
		return digest.Digest{}, err
	}
	dg := digest.OfBytes(b)
	if t.emit != nil {
		t.emit(dg, b)
	}
	return dg, nil
}

// entry returns the entry of the directory (whose path and slash are off
// bytes) that begins at files[i]: its name, whether it is a subdirectory,
// and the index after its run (a file's run is the file listed again; a
// subdirectory's is every file below it).
func (t *treeBuilder) entry(i, hi, off int) (name string, isDir bool, j int) {
	p := t.files[i].Path
	rest := p[off:]
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		name = rest[:slash]
		for j = i + 1; j < hi && isUnder(t.files[j].Path[off:], name); j++ {
		}
		return name, true, j
	}
	for j = i + 1; j < hi && t.files[j].Path == p; j++ {
	}
	return rest, false, j
}

// isUnder reports whether the relative path p is below the directory dir.
func isUnder(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}
