package executor

import (
	"context"
	"testing"

	"bld/exec/graph"
)

// Every finished action has its Ready time, and Ready <= Start <= End; a
// dependent becomes ready no sooner than its dependencies end. Checked
// for a build that runs everything at -j 1 (left and right wait for the
// token), for a no-op, and for a build whose actions are all restored.
func TestReadyTimes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cache := newMemCache()
	actions := []*graph.Action{
		sh("//p:gen", "sleep 0.05; echo gen > bld-out/gen", nil, []string{"bld-out/gen"}),
		sh("//p:left", "sleep 0.05; cat bld-out/gen > bld-out/left", []string{"bld-out/gen"}, []string{"bld-out/left"}),
		sh("//p:right", "sleep 0.05; cat bld-out/gen > bld-out/right", []string{"bld-out/gen"}, []string{"bld-out/right"}),
		sh("//p:join", "cat bld-out/left bld-out/right > bld-out/join", []string{"bld-out/left", "bld-out/right"}, []string{"bld-out/join"}),
		{Owner: "//p:file", Mnemonic: "FileWrite", Outputs: []string{"bld-out/file"}, More: &graph.More{Content: []byte("x")}},
	}
	deps := map[string][]string{"//p:left": {"//p:gen"}, "//p:right": {"//p:gen"}, "//p:join": {"//p:left", "//p:right"}}
	for _, round := range []struct {
		name      string
		restoring bool
		want      Status
	}{{"full build", false, StatusRan}, {"no-op", false, StatusCached}, {"restored", true, StatusRestored}} {
		cache.restoring = round.restoring
		_, rec, err := build(t, context.Background(), root, actions, 1, false, cache)
		if err != nil {
			t.Fatalf("%s: %v", round.name, err)
		}
		if len(rec.results) != len(actions) {
			t.Fatalf("%s: %d results, want %d", round.name, len(rec.results), len(actions))
		}
		for owner, r := range rec.results {
			if r.Status != round.want && owner != "//p:file" {
				t.Errorf("%s: %s %s, want %s", round.name, owner, r.Status, round.want)
			}
			if r.Ready.IsZero() || r.Start.Before(r.Ready) || r.End.Before(r.Start) {
				t.Errorf("%s: %s: ready %v, start %v, end %v: want ready <= start <= end, ready set",
					round.name, owner, r.Ready, r.Start, r.End)
			}
			for _, d := range deps[owner] {
				if r.Ready.Before(rec.results[d].End) {
					t.Errorf("%s: %s ready %v before its dependency %s ended (%v)", round.name, owner, r.Ready, d, rec.results[d].End)
				}
			}
		}
		if round.want == StatusRan {
			// At -j 1, left and right became ready together and one
			// waited for the other's token (and 50 ms of sleep).
			l, r := rec.results["//p:left"], rec.results["//p:right"]
			if wait := max(l.Start.Sub(l.Ready), r.Start.Sub(r.Ready)); wait < 40e6 {
				t.Errorf("%s: neither left nor right waited for the token (longest wait %v)", round.name, wait)
			}
		}
	}
}
