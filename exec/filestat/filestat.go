// Package filestat holds the stats of workspace files taken once during a
// build, so that each file is stat'ed once per build: the analysis
// snapshot's staleness check (starlark/workspace Reads.Diff) stats the
// source files the analysis asked about, and the action cache's up-to-date
// check (exec/cache) uses those stats instead of stat'ing the same files
// again.
//
// A Set is filled before the build runs and only read while it runs. It
// may hold files that the build writes (an output whose existence the
// analysis asked about): its user takes from it only the stats of paths
// that no action of the build writes (exec/cache asks the action graph),
// since an action that runs changes what its output's stat would say.
// (Removing the outputs from the Set instead cost a 100,000-action no-op
// a pass over the Set and a lookup by path of each entry, ~2 ms at 10,000.)
package filestat

import (
	"io/fs"
)

// A Stat is what the build compares of a file's stat (symbolic links
// followed): its size, modification and status-change times (Unix ns; the
// status-change time 0 where the system has none), inode, and mode (type
// and permission bits, as fs.FileMode). It is a value: a Set of them is a
// map of plain structs, not of FileInfo objects for the collector to trace.
type Stat struct {
	Size, Mtime, Ctime int64
	Ino                uint64
	Mode               fs.FileMode
}

// Of returns the Stat of fi, a result of os.Stat or os.Lstat.
func Of(fi fs.FileInfo) Stat {
	_, ino, ctime := Identity(fi)
	return Stat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ctime: ctime, Ino: ino, Mode: fi.Mode()}
}

// A Set maps workspace-relative, slash-separated paths to the Stat
// (symbolic links followed) of each, taken during this build. Add
// must not run concurrently with anything else; Lookup may be
// called from many goroutines once filling is done. A nil *Set holds
// nothing.
type Set struct {
	m map[string]Stat
}

// New returns an empty Set with room for n paths.
func New(n int) *Set { return &Set{m: make(map[string]Stat, n)} }

// Add records the stat of rel, a file that exists.
func (s *Set) Add(rel string, st Stat) { s.m[rel] = st }

// Lookup returns the stat of rel taken during this build, if there is one.
func (s *Set) Lookup(rel string) (Stat, bool) {
	if s == nil {
		return Stat{}, false
	}
	st, ok := s.m[rel]
	return st, ok
}

// Len is the number of paths in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.m)
}
