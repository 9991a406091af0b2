package filestat

import (
	"sync"
	"sync/atomic"

	"bld/exec/crash"
)

// An Ahead stats a list of workspace files on a goroutine of its own, from
// the start of a build, while the build does something else (decodes its
// analysis snapshot), so that the check that needs their stats (the
// snapshot's staleness check) finds many of them taken. The list is only
// a guess of the paths that check will ask about: a path it asks about
// that the list lacks, or that the goroutine has not reached, is stat'ed
// by the check itself, and a path the list has that the check does not
// ask about costs only its stat.
//
// The check never waits for the goroutine (Take): it takes the stats
// published so far, so a goroutine that the kernel has preempted for
// another process delays nothing but itself (docs/benchmarks.md, incr11
// and incr12).
//
// A stat taken ahead is a stat of this build: a file edited after it is
// this build's change during the build, as for a stat taken later (the
// next build sees it).
type Ahead struct {
	stop atomic.Bool
	done chan struct{}
	// list is set once the list is read (nil: none, or not read yet);
	// taken is how many of its paths have their stats in it, each
	// published by the store of taken that counts it.
	list  atomic.Pointer[aheadList]
	taken atomic.Int64
	// listed: 0 before the list is read, 1 when there is one, 2 when
	// there is none.
	listed   atomic.Int32
	once     sync.Once
	files    *Set
	notFiles map[string]bool
}

// aheadList is an Ahead's list and the stats of its paths: st[i] is path
// i's stat when file[i].
type aheadList struct {
	paths []string
	st    []Stat
	file  []bool
}

// StatAhead starts stat'ing, relative to root (as Dir does), the paths
// that list returns; list is called on the goroutine that stats them, so
// that reading them takes nothing from the caller either. Take stops it
// and returns what it took.
func StatAhead(root string, list func() []string) *Ahead {
	a := &Ahead{done: make(chan struct{})}
	crash.Go(func() {
		defer close(a.done)
		paths := list()
		if len(paths) == 0 {
			a.listed.Store(2)
			return
		}
		a.listed.Store(1)
		if a.stop.Load() {
			return
		}
		l := &aheadList{paths: paths, st: make([]Stat, len(paths)), file: make([]bool, len(paths))}
		a.list.Store(l)
		d := OpenDir(root)
		defer d.Close()
		for i, p := range paths {
			if a.stop.Load() { // the check stats the rest for itself
				return
			}
			st, err := d.Stat(p)
			l.st[i], l.file[i] = st, err == nil && !st.Mode.IsDir()
			a.taken.Store(int64(i + 1))
		}
	})
	return a
}

// Done is closed once a has stopped: its list is stat'ed, or Take has
// stopped it.
func (a *Ahead) Done() <-chan struct{} { return a.done }

// Listed reports whether a found a list to stat, once Done is closed
// (before, a list not read yet counts as none).
func (a *Ahead) Listed() bool { return a != nil && a.listed.Load() == 1 }

// Take stops the stats, without waiting for the one being taken, and
// returns those taken so far: files holds the stat of each path found to
// be a file (a Set that is the caller's from now on), notFiles each path
// found not to be one (missing, a directory, or a stat that failed). Both
// are nil when no list was read or no stat taken yet, and for a nil
// *Ahead. A later Take returns the same.
func (a *Ahead) Take() (files *Set, notFiles map[string]bool) {
	if a == nil {
		return nil, nil
	}
	a.once.Do(func() {
		a.stop.Store(true)
		l := a.list.Load()
		n := int(a.taken.Load())
		if l == nil || n == 0 {
			return
		}
		a.files, a.notFiles = New(n), map[string]bool{}
		for i, p := range l.paths[:n] {
			if l.file[i] {
				a.files.Add(p, l.st[i])
			} else {
				a.notFiles[p] = true
			}
		}
	})
	return a.files, a.notFiles
}
