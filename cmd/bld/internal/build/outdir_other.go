//go:build !linux

package build

// markTopDir does nothing where bld knows of no top-of-hierarchy flag.
func markTopDir(dir string) {}

// topDirMarked reports that the flag is unknown here (for tests).
func topDirMarked(dir string) (marked, known bool) { return false, false }
