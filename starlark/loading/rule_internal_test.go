package loading

import (
	"fmt"
	"testing"

	"bld/starlark/label"
)

// TestCheckTargetName checks that checkTargetName, which validates a
// plain name without making ":" + name, accepts and rejects exactly what
// label.Parse of ":" + name does, with the same error.
func TestCheckTargetName(t *testing.T) {
	names := []string{"a", "t00010", "a.txt", "a b", "", ".", "..", "a/b", "a/../b", "/a", "a/", "a:b", ":a",
		"@a", "//a", "a\tb", "a\nb", "x;y", "é", "-a", "a\x00b", "lib.so.1", "a//b"}
	for _, name := range names {
		for _, pkg := range []string{"", "p", "p/q"} {
			_, want := label.Parse(":"+name, "", pkg)
			got := checkTargetName(name, pkg)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("checkTargetName(%q, %q) = %v, want %v", name, pkg, got, want)
			}
		}
	}
}
