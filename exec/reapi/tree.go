package reapi

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

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
	t := &treeBuilder{
		files:   files,
		nodes:   make([]repb.FileNode, len(files)),
		digests: make([]repb.Digest, len(files)),
		emit:    emit,
	}
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
// path-component order. nodes and digests hold the FileNode and the
// Digest of files[i] at i, so that a tree costs two allocations for its
// files, not two per file.
type treeBuilder struct {
	files   []InputFile
	nodes   []repb.FileNode
	digests []repb.Digest
	emit    func(digest.Digest, []byte)
	buf     []byte // the encoding buffer, reused when emit is nil
}

// dir builds the Directory of files[lo:hi], whose paths all begin with
// the directory's path and a slash, off bytes, passes it to emit after
// its subdirectories, and returns its digest.
func (t *treeBuilder) dir(lo, hi, off int) (digest.Digest, error) {
	var nf, nd int
	for i := lo; i < hi; {
		_, isDir, j := t.entry(i, hi, off)
		if isDir {
			nd++
		} else {
			nf++
		}
		i = j
	}
	d := &repb.Directory{}
	if nf > 0 {
		d.Files = make([]*repb.FileNode, 0, nf)
	}
	var subs []repb.DirectoryNode
	var subDigests []repb.Digest
	if nd > 0 {
		d.Directories = make([]*repb.DirectoryNode, 0, nd)
		subs, subDigests = make([]repb.DirectoryNode, nd), make([]repb.Digest, nd)
	}
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
			dg := &t.digests[i]
			dg.Hash, dg.SizeBytes = f.Digest.Hash, f.Digest.Size
			n := &t.nodes[i]
			n.Name, n.Digest, n.IsExecutable = name, dg, f.IsExecutable
			d.Files = append(d.Files, n)
			i = j
			continue
		}
		sub, err := t.dir(i, j, off+len(name)+1)
		if err != nil {
			return digest.Digest{}, err
		}
		k := len(d.Directories)
		dg := &subDigests[k]
		dg.Hash, dg.SizeBytes = sub.Hash, sub.Size
		n := &subs[k]
		n.Name, n.Digest = name, dg
		d.Directories = append(d.Directories, n)
		i = j
	}
	var b []byte
	var err error
	if t.emit == nil {
		t.buf, err = MarshalAppend(t.buf[:0], d)
		b = t.buf
	} else {
		b, err = Marshal(d)
	}
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
