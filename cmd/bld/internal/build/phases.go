package build

import (
	"time"

	"bld/exec/status"
)

// Phases records the stretches of a build that are not actions (loading,
// analysis, waiting for the lock, execution) for --trace and --timings.
// The zero value is ready; a nil *Phases records nothing.
type Phases struct {
	List []status.Phase
}

// Add records phase name, from start until now, and returns now: the start
// of whatever comes next.
func (p *Phases) Add(name string, start time.Time) time.Time {
	now := time.Now()
	if p != nil {
		p.List = append(p.List, status.Phase{Name: name, Start: start, End: now})
	}
	return now
}
