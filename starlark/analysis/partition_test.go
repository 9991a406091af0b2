package analysis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// membership returns each partition's names, as sets keyed by partition.
func membership(names []string, n int) []map[string]bool {
	var out []map[string]bool
	for _, group := range Partition(names, n) {
		set := map[string]bool{}
		for _, i := range group {
			set[names[i]] = true
		}
		out = append(out, set)
	}
	return out
}

func changedPartitions(before, after []map[string]bool) int {
	changed := 0
	for i := range before {
		if !cmp.Equal(before[i], after[i]) {
			changed++
		}
	}
	return changed
}

func sourceNames(rng *rand.Rand, n int) []string {
	dirs := []string{"src", "src/core", "lib", "lib/util"}
	seen := map[string]bool{}
	var names []string
	for len(names) < n {
		name := fmt.Sprintf("pkg/%s/f%03d.c", dirs[rng.IntN(len(dirs))], rng.IntN(1000))
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// TestPartitionStableUnderEdits makes 200 random single-file additions,
// removals and edits to a 60-file unit and checks that each changes the
// membership of at most 2 of its 4 partitions (the bound; rendezvous
// hashing gives 1 for an addition or removal and 0 for an edit).
func TestPartitionStableUnderEdits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := sourceNames(rng, 60)
	const n = 4
	counts := map[string]map[int]int{"add": {}, "remove": {}, "edit": {}}
	for step := range 200 {
		before := membership(names, n)
		next := slices.Clone(names)
		var kind string
		switch rng.IntN(3) {
		case 0:
			kind = "add"
			for {
				name := fmt.Sprintf("pkg/src/new%04d.c", rng.IntN(10000))
				if !slices.Contains(next, name) {
					// Insert in sorted position, as a glob would list it.
					next = append(next, name)
					slices.Sort(next)
					break
				}
			}
		case 1:
			kind = "remove"
			i := rng.IntN(len(next))
			next = slices.Delete(next, i, i+1)
		default:
			// An edit changes a file's content and size, which membership
			// must not depend on: the names are the same.
			kind = "edit"
		}
		after := membership(next, n)
		changed := changedPartitions(before, after)
		counts[kind][changed]++
		if changed > 2 {
			t.Fatalf("step %d (%s): %d partitions changed membership, want at most 2", step, kind, changed)
		}
		if kind == "edit" && changed != 0 {
			t.Fatalf("step %d: an edit changed %d partitions", step, changed)
		}
		names = next
	}
	for _, kind := range []string{"add", "remove", "edit"} {
		t.Logf("%-6s partitions changed: %v", kind, counts[kind])
	}
}

// TestPartitionDeterministic checks that membership does not depend on the
// order files are listed in, and that every file is in exactly one group.
func TestPartitionDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := sourceNames(rng, 60)
	want := membership(names, 4)
	shuffled := slices.Clone(names)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if diff := cmp.Diff(want, membership(shuffled, 4)); diff != "" {
		t.Errorf("membership depends on order (-sorted +shuffled):\n%s", diff)
	}
	total := 0
	var sizes []int
	for _, g := range want {
		total += len(g)
		sizes = append(sizes, len(g))
	}
	if total != len(names) {
		t.Errorf("groups hold %d files, want %d", total, len(names))
	}
	t.Logf("60 files in 4 partitions: %v", sizes)
}

// TestPartitionFixed pins the assignment of a few names: membership is part
// of cache keys shared between checkouts and bld versions, and must not
// change by accident (a change of hash or of its input spelling).
func TestPartitionFixed(t *testing.T) {
	names := []string{"a.c", "b.c", "c.c", "d.c", "e.c", "f.c", "g.c", "h.c"}
	var got []string
	for _, g := range Partition(names, 3) {
		var members []string
		for _, i := range g {
			members = append(members, names[i])
		}
		got = append(got, strings.Join(members, " "))
	}
	want := []string{"a.c b.c c.c d.c e.c f.c", "h.c", "g.c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Partition changed (-want +got):\n%s", diff)
	}
}

func TestAutoPartitions(t *testing.T) {
	for _, tc := range []struct{ files, want int }{
		{0, 1}, {1, 1}, {15, 1}, {16, 2}, {31, 2}, {32, 4}, {63, 4}, {64, 8}, {127, 8}, {128, 16}, {10000, 16},
	} {
		if got := AutoPartitions(tc.files); got != tc.want {
			t.Errorf("AutoPartitions(%d) = %d, want %d", tc.files, got, tc.want)
		}
	}
}
