package sandbox

import (
	"fmt"
	"maps"
	"path"
	"slices"
)

// A mountPlan is what the namespace helper makes of an action's exec root
// (ModeNamespace). The exec root is a directory of a private tmpfs, so
// making it and throwing it away touches no disk; only the directories
// that receive outputs are on disk, bound from directories that bld
// prepared and reuses from action to action (Manager.takeDir), in the same
// file system as the workspace, so that collecting an output is a rename.
// In order, the helper:
//
//  1. binds each of Outs' Pool (read-write) on Dir in the exec root
//     (creating the mount point, and its parents, on the tmpfs);
//  2. creates each of Dirs in the exec root (below an output directory,
//     that is on disk, in its Pool);
//  3. for each of Inputs, creates an empty file or directory of the
//     input's kind (on the tmpfs, or in a Pool for an input that lies in
//     an output directory) and binds the input on it, read-only.
type mountPlan struct {
	Root   string    // the workspace's absolute path
	Inputs []string  // sorted; none lies in another (a directory input)
	Outs   []outBind // sorted by Dir; no Dir lies in another
	Dirs   []string  // the parents of every output, sorted
}

// An outBind is an output directory of the exec root and the host's
// directory it is.
type outBind struct {
	Dir  string // workspace-relative slash path ("." is the exec root itself)
	Pool string // absolute path, empty
}

// layout computes a mountPlan's paths from an action's inputs and outputs
// (workspace-relative slash paths): the inputs to bind (those inside a
// directory input are seen through it), the top output directories (each
// output's parent, except those inside another one), and every output's
// parent directory. An output inside an input directory is an error.
func layout(inputs, outputs []string) (binds, tops, dirs []string, err error) {
	isInput := map[string]bool{}
	for _, in := range slices.Sorted(slices.Values(inputs)) {
		if isInput[in] || hasAncestor(in, isInput) {
			continue
		}
		isInput[in] = true
		binds = append(binds, in)
	}
	isDir := map[string]bool{}
	for _, out := range outputs {
		if isInput[out] || hasAncestor(out, isInput) {
			return nil, nil, nil, fmt.Errorf("output %s lies inside an input directory", out)
		}
		isDir[path.Dir(out)] = true
	}
	dirs = slices.Sorted(maps.Keys(isDir))
	for _, d := range dirs {
		if !hasAncestor(d, isDir) {
			tops = append(tops, d)
		}
	}
	return binds, tops, dirs, nil
}

// hasAncestor reports whether a directory that p lies in ("." included)
// is in set.
func hasAncestor(p string, set map[string]bool) bool {
	for p != "." && p != "/" {
		p = path.Dir(p)
		if set[p] {
			return true
		}
	}
	return false
}
