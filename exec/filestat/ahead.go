package filestat

import (
	"sync/atomic"

	"bld/exec/crash"
)

// An Ahead stats a list of workspace files on a goroutine of its own, from
// the start of a build, while the build does something else (decodes its
// analysis snapshot), so that the check that needs their stats (the
// snapshot's staleness check) finds most of them taken. The list is only
// a guess of the paths that check will ask about: a path it asks about
// that the list lacks is stat'ed by the check itself, and a path the list
// has that the check does not ask about costs only its stat.
//
// A stat taken ahead is a stat of this build: a file edited after it is
// this build's change during the build, as for a stat taken later (the
// next build sees it).
type Ahead struct {
	stop atomic.Bool
	done chan struct{}
	// files are the stats of the paths that are files; notFiles the
	// paths that are not (missing, a directory, a stat that failed).
	files    *Set
	notFiles map[string]bool
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
		if len(paths) == 0 || a.stop.Load() {
			return
		}
		files, notFiles := New(len(paths)), map[string]bool{}
		// Published at the end (close(done)): Take reads them only
		// after that.
		defer func() { a.files, a.notFiles = files, notFiles }()
		d := OpenDir(root)
		defer d.Close()
		for _, p := range paths {
			if a.stop.Load() { // the check stats the rest for itself
				return
			}
			if st, err := d.Stat(p); err == nil && !st.Mode.IsDir() {
				files.Add(p, st)
			} else {
				notFiles[p] = true
			}
		}
	})
	return a
}

// Done is closed once a has stopped: its list is stat'ed, or Take has
// stopped it.
func (a *Ahead) Done() <-chan struct{} { return a.done }

// Take stops the stats (the one being taken ends first) and returns those
// taken: files holds the stat of each path found to be a file (a Set
// that is the caller's from now on), notFiles each path found not to be
// one (missing, a directory, or a stat that failed). Both are nil when no
// list was found or Take came before the first stat, and for a nil
// *Ahead. A later Take returns the same.
func (a *Ahead) Take() (files *Set, notFiles map[string]bool) {
	if a == nil {
		return nil, nil
	}
	a.stop.Store(true)
	<-a.done
	return a.files, a.notFiles
}
