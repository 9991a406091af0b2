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

// A Set maps workspace-relative, slash-separated paths to the result of
// os.Stat (symbolic links followed) on each, taken during this build. Add
// and Drop must not run concurrently with anything else; Lookup may be
// called from many goroutines once filling is done. A nil *Set holds
// nothing.
type Set struct {
	m map[string]fs.FileInfo
}

// New returns an empty Set with room for n paths.
func New(n int) *Set { return &Set{m: make(map[string]fs.FileInfo, n)} }

// Add records the stat of rel, a file that exists.
func (s *Set) Add(rel string, fi fs.FileInfo) { s.m[rel] = fi }

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
func (s *Set) Lookup(rel string) (fs.FileInfo, bool) {
	if s == nil {
		return nil, false
	}
	fi, ok := s.m[rel]
	return fi, ok
}

// Len is the number of paths in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.m)
}
