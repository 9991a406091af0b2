package status

import (
	"bld/exec/executor"
	"bld/exec/graph"
)

// Multi returns an Observer that tells each of obs every event, in order.
func Multi(obs ...executor.Observer) executor.Observer { return multi(obs) }

type multi []executor.Observer

func (m multi) Planned(actions []*graph.Action) {
	for _, o := range m {
		o.Planned(actions)
	}
}

func (m multi) Started(id int, a *graph.Action) {
	for _, o := range m {
		o.Started(id, a)
	}
}

func (m multi) Finished(r executor.Result) {
	for _, o := range m {
		o.Finished(r)
	}
}
