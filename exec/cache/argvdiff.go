package cache

import (
	"fmt"
	"strconv"
	"strings"
)

// maxArgvDiffCells bounds the work of diffArgv: the product of the lengths
// of the differing middles of two argv lists, past which it gives up on
// listing elements.
const maxArgvDiffCells = 1 << 22

// diffArgv lists how argv new differs from argv old as the elements to
// delete from old and insert into it, in order ("argv -O0 deleted",
// "argv -DEXTRA=1 inserted"), along a longest common subsequence, so that
// one inserted flag is one difference, not a change of every element
// after it. A change of one element is its deletion and an insertion.
func diffArgv(old, new []string) []string {
	// The common prefix and suffix are the usual case, and cost nothing.
	for len(old) > 0 && len(new) > 0 && old[0] == new[0] {
		old, new = old[1:], new[1:]
	}
	for len(old) > 0 && len(new) > 0 && old[len(old)-1] == new[len(new)-1] {
		old, new = old[:len(old)-1], new[:len(new)-1]
	}
	if len(old) == 0 && len(new) == 0 {
		return nil
	}
	if len(old)*len(new) > maxArgvDiffCells {
		return []string{fmt.Sprintf("argv changed: %d elements replaced by %d", len(old), len(new))}
	}
	// lcs[i][j] is the length of a longest common subsequence of old[i:]
	// and new[j:].
	lcs := make([][]int32, len(old)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(new)+1)
	}
	for i := len(old) - 1; i >= 0; i-- {
		for j := len(new) - 1; j >= 0; j-- {
			if old[i] == new[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var d []string
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case i < len(old) && j < len(new) && old[i] == new[j]:
			i, j = i+1, j+1
		case j == len(new) || i < len(old) && lcs[i+1][j] >= lcs[i][j+1]:
			d = append(d, "argv "+argString(old[i])+" deleted")
			i++
		default:
			d = append(d, "argv "+argString(new[j])+" inserted")
			j++
		}
	}
	return d
}

// argString spells an argv element for people: as is, unless it is empty
// or holds spaces, quotes or unprintable characters.
func argString(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'\\") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.Quote(s)
	}
	return s
}
