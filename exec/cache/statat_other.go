//go:build !(linux && (amd64 || arm64))

package cache

import "path/filepath"

// A rootDir stats files by their path relative to the workspace root.
type rootDir struct{ root string }

func openRootDir(root string) *rootDir { return &rootDir{root: root} }

// stat is statStamp of root/rel, rel a workspace-relative path.
func (d *rootDir) stat(rel string) (stamp, bool, error) {
	return statStamp(filepath.Join(d.root, filepath.FromSlash(rel)))
}

func (d *rootDir) close() {}
