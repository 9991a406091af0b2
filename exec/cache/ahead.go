package cache

import (
	"path/filepath"
	"strings"
	"sync/atomic"
)

// aheadStats are the stats of the outputs of a record's loaded entries,
// taken ahead of the checks, while the build loads its analysis snapshot
// and analyzes (PreloadRecord with a root): the up-to-date check of an
// action then compares its outputs' recorded stamps with these rather than
// stat'ing them on the way to the first command. They are taken slot by
// slot, in the record's order (the graph's), and stop when the checks
// begin (stop): a slot not reached by then is stat'ed by its check.
//
// A stat taken ahead is the file's stat now only while nothing of this
// build has written the file, which holds for the check of the action
// whose output it is, before that action runs: the graph gives each
// output one action, and other builds are held off by the workspace lock,
// which the caller holds from before the first stat (PreloadRecord's
// contract). It serves only the entry loaded from the file (an entry that
// replaced it, after the action ran, has the stamps of the outputs it
// wrote).
type aheadStats struct {
	// done is the number of slots whose outputs have their stats; stop,
	// once set, ends the stat'ing.
	done atomic.Int64
	stop atomic.Bool
	// off[i]:off[i+1] are slot i's outputs' places in st and regular, in
	// its identity's order (sorted).
	off     []int32
	st      []stamp
	regular []bool
}

// newAheadStats returns the aheadStats of r's slots, none taken yet.
func newAheadStats(r *fastRecord) *aheadStats {
	n := 0
	for i := range r.slots {
		n += strings.Count(r.slots[i].id, "\x00") + 1
	}
	return &aheadStats{off: make([]int32, len(r.slots)+1), st: make([]stamp, n), regular: make([]bool, n)}
}

// fill stats the outputs of r's slots as statFile would (with d, or as
// absolute paths), in order, until a.stop is set; the stats of a slot are
// published (done) once all are taken.
func (a *aheadStats) fill(r *fastRecord, d *rootDir) {
	k := 0
	for i := range r.slots {
		if a.stop.Load() { // a check from now on stats for itself
			return
		}
		a.off[i] = int32(k)
		id := r.slots[i].id
		for {
			p, rest, more := strings.Cut(id, "\x00")
			stat := d.stat
			if filepath.IsAbs(p) {
				stat = statStamp
			}
			if st, regular, err := stat(p); err == nil {
				a.st[k], a.regular[k] = st, regular
			}
			k++
			if !more {
				break
			}
			id = rest
		}
		a.off[i+1] = int32(k)
		a.done.Store(int64(i + 1))
	}
}

// aheadOutput returns the stamp taken ahead of output j (in identity
// order) of slot i and whether it is a regular file's (false: none, or
// an error), if there is one and e is the entry loaded in that slot (ok).
func (r *fastRecord) aheadOutput(i, j int, e *fastEntry) (st stamp, regular, ok bool) {
	a := r.ahead
	if a == nil || i < 0 || int64(i) >= a.done.Load() || i >= len(r.loaded) || e != &r.loaded[i] {
		return stamp{}, false, false
	}
	k := int(a.off[i]) + j
	if k >= int(a.off[i+1]) {
		return stamp{}, false, false
	}
	return a.st[k], a.regular[k], true
}
