//go:build !(linux && (amd64 || arm64))

package filestat

import (
	"os"
	"path/filepath"
)

// A Dir stats files by their slash-separated paths relative to a
// directory (the workspace root), following symbolic links. A Dir is safe
// for concurrent use until Close.
type Dir struct{ root string }

// OpenDir returns a Dir of root.
func OpenDir(root string) *Dir { return &Dir{root: root} }

// Stat returns the Stat of root/rel, rel a slash-separated path relative
// to root.
func (d *Dir) Stat(rel string) (Stat, error) {
	fi, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(rel)))
	if err != nil {
		return Stat{}, err
	}
	return Of(fi), nil
}

// Close releases what d holds.
func (d *Dir) Close() {}
