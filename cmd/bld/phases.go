package main

import (
	"time"

	"bld/exec/status"
)

// phases records the stretches of a build that are not actions (loading,
// analysis, waiting for the lock, execution) for --trace and --timings.
// The zero value is ready; a nil *phases records nothing.
type phases struct {
	list []status.Phase
}

// add records phase name, from start until now, and returns now: the start
// of whatever comes next.
func (p *phases) add(name string, start time.Time) time.Time {
	now := time.Now()
	if p != nil {
		p.list = append(p.list, status.Phase{Name: name, Start: start, End: now})
	}
	return now
}
