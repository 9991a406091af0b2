// Package filestat holds the stats of workspace files taken once during a
// build, so that each file is stat'ed once per build: the analysis
// snapshot's staleness check (starlark/workspace Reads.Diff) stats the
// source files the analysis asked about, and the action cache's up-to-date
// check (exec/cache) uses those stats instead of stat'ing the same files
// again.
//
// A Set is filled before the build runs and only read while it runs. It
// must hold only files that the build does not write: the caller removes
// the outputs of the build's actions (Drop) before handing it on, since an
// action that runs changes what its output's stat would say.
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
// and Drop must not run concurrently with anything else; Lookup may be
// called from many goroutines once filling is done. A nil *Set holds
// nothing.
type Set struct {
	m map[string]Stat
}

// New returns an empty Set with room for n paths.
func New(n int) *Set { return &Set{m: make(map[string]Stat, n)} }

// Add records the stat of rel, a file that exists.
func (s *Set) Add(rel string, st Stat) { s.m[rel] = st }

// Drop removes every path for which written reports true: the files the
// build may write.
func (s *Set) Drop(written func(rel string) bool) {
	if s == nil {
		return
	}
	for rel := range s.m {
		if written(rel) {
			delete(s.m, rel)
		}
	}
}

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
