package analysis

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"

	"go.starlark.net/starlark"

	"bld/starlark/loading"
)

// Partitioning splits a unit's sources into groups compiled by separate
// processes (docs/rules.md#partitions).
//
// Membership is by rendezvous (highest random weight) hashing: a file goes
// to the partition i that maximizes SHA-256(i, name), where name is the
// file's workspace-relative path without the output directory. A file's
// partition therefore depends on its own name and on the partition count
// alone: adding or removing a file changes the membership of exactly one
// partition, editing a file (or any change of its size) changes none, and
// membership is the same in every run, at every -j and in every checkout.
// The price is balance: partitions are balanced by file count in
// expectation only, and not by size, since a rule that balanced sizes
// would move files between partitions when one of them is edited; where
// stability and balance conflict, stability wins (a partition's cache hit
// is worth more than a few percent of balance). With few files per
// partition some partitions can be empty.

// maxPartitions bounds a partition count; more processes than this for one
// unit repeat shared work (headers) for no gain on any machine bld targets.
const maxPartitions = 64

// AutoPartitionFiles is how many sources "auto" puts in a partition, on
// average: enough that the per-process cost (start, parsing the headers
// once more) is shared by several files.
const AutoPartitionFiles = 8

// AutoPartitionMax is the most partitions "auto" picks.
const AutoPartitionMax = 16

// AutoPartitions is the partition count "auto" picks for a unit of nfiles
// sources: the largest power of two not above nfiles/AutoPartitionFiles,
// between 1 and AutoPartitionMax. It depends on the file count alone, not
// on the machine's cores or the files' sizes, so that every checkout and
// CI runner derive the same partitions and share the cache; powers of two
// keep the count (and so every partition's membership) unchanged while
// files come and go, except when the unit doubles or halves.
func AutoPartitions(nfiles int) int {
	n := nfiles / AutoPartitionFiles
	if n <= 1 {
		return 1
	}
	n = 1 << (bits.Len(uint(n)) - 1)
	return min(n, AutoPartitionMax)
}

// Partition returns, for each of n partitions, the indexes (into names) of
// the names it holds, in the order of names. Some groups may be empty.
func Partition(names []string, n int) [][]int {
	groups := make([][]int, n)
	buf := make([]byte, 0, 64)
	for fi, name := range names {
		best, bestScore := 0, uint64(0)
		for i := range n {
			buf = strconv.AppendInt(buf[:0], int64(i), 10)
			buf = append(buf, 0)
			buf = append(buf, name...)
			sum := sha256.Sum256(buf)
			if score := binary.BigEndian.Uint64(sum[:8]); i == 0 || score > bestScore {
				best, bestScore = i, score
			}
		}
		groups[best] = append(groups[best], fi)
	}
	return groups
}

// partitionCount reads the n argument of ctx.partition: an int in
// 1..maxPartitions, or "auto" for AutoPartitions(nfiles).
func partitionCount(v starlark.Value, nfiles int) (int, error) {
	if s, ok := v.(starlark.String); ok {
		if s == "auto" {
			return AutoPartitions(nfiles), nil
		}
		return 0, fmt.Errorf("want an int or \"auto\", got %s", s)
	}
	var n int
	if err := starlark.AsInt(v, &n); err != nil {
		return 0, fmt.Errorf("want an int or \"auto\", got %s", v.Type())
	}
	if n < 1 || n > maxPartitions {
		return 0, fmt.Errorf("%d partitions: want 1 to %d", n, maxPartitions)
	}
	return n, nil
}

// partitionBuiltin implements ctx.partition(files, n): files is a list of
// Files (or of strings, each a name), n an int or "auto"; the result is a
// list of n lists (some possibly empty), each holding the elements of files
// that belong to that partition, in their order in files. See Partition.
func (rc *ruleContext) partitionBuiltin(_ *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var files, count starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "files", &files, "n", &count); err != nil {
		return nil, err
	}
	elems, err := loading.Elements(files)
	if err != nil {
		return nil, fmt.Errorf("%s: files: %v", b.Name(), err)
	}
	names := make([]string, len(elems))
	for i, e := range elems {
		switch e := e.(type) {
		case *File:
			names[i] = e.ShortPath()
		case starlark.String:
			names[i] = string(e)
		default:
			return nil, fmt.Errorf("%s: files: element %d is a %s; want File or string", b.Name(), i, e.Type())
		}
	}
	n, err := partitionCount(count, len(names))
	if err != nil {
		return nil, fmt.Errorf("%s: n: %v", b.Name(), err)
	}
	out := make([]starlark.Value, n)
	for i, group := range Partition(names, n) {
		members := make([]starlark.Value, len(group))
		for j, fi := range group {
			members[j] = elems[fi]
		}
		out[i] = starlark.NewList(members)
	}
	return starlark.NewList(out), nil
}
