package label

import "testing"

// FuzzParse: a label either fails to parse or parses into one whose
// String parses back to itself; patterns never panic.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"//a/b:c", ":x", "x", "//a", "@bld//rules:cc.star", "//a:b/c.txt", "//:", "///", "//a/../b:c", "//a:b:c", "..."} {
		f.Add(seed, "pkg")
	}
	f.Fuzz(func(t *testing.T, s, pkg string) {
		ParsePattern(s, pkg)
		l, err := Parse(s, "", pkg)
		if err != nil {
			return
		}
		again, err := Parse(l.String(), "", "")
		if err != nil || again != l {
			t.Fatalf("Parse(%q, %q) = %v, whose String %q parses to %v, %v", s, pkg, l, l.String(), again, err)
		}
	})
}
