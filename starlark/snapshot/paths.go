package snapshot

import (
	"fmt"
	"strings"
	"unsafe"

	"bld/exec/store"
)

// A paths file lists the files whose existence a snapshot's staleness
// check asks about (the keys of its Reads' Exists), so that a build can
// start stat'ing them (filestat.StatAhead) before it has read and decoded
// the snapshot, which holds them last. It is a hint, not part of the
// snapshot: a list that is missing, stale or damaged costs stats, never an
// answer (Changes stats what the list lacks itself). Its format is
// pathsHeader, then each path followed by a NUL.
const pathsHeader = "bld-paths 1\n"

// WritePaths writes the paths file of reads to file, atomically: its
// existence questions, sorted (the order of the directories they are in).
func WritePaths(file string, exists map[string]bool) error {
	keys := sortedKeys(exists)
	n := len(pathsHeader)
	for _, k := range keys {
		n += len(k) + 1
	}
	data := make([]byte, 0, n)
	data = append(data, pathsHeader...)
	for _, k := range keys {
		data = append(data, k...)
		data = append(data, 0)
	}
	if err := store.WriteFileAtomic(file, data, 0o644); err != nil {
		return fmt.Errorf("saving the analysis snapshot's paths: %w", err)
	}
	return nil
}

// ReadPaths returns the paths that the paths file file lists, or nil if
// there is none, or it cannot be read or is not one.
func ReadPaths(file string) []string {
	data, err := readFile(file)
	if err != nil || !strings.HasPrefix(string(data), pathsHeader) {
		return nil
	}
	// data is never modified: the paths are pieces of it.
	rest := unsafe.String(unsafe.SliceData(data), len(data))[len(pathsHeader):]
	if rest == "" || rest[len(rest)-1] != 0 {
		return nil
	}
	return strings.Split(rest[:len(rest)-1], "\x00")
}
