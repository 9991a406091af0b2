package loading

import (
	"testing"

	"bld/starlark/label"
)

func TestModuleLabel(t *testing.T) {
	from := label.Label{Pkg: "a/b", Name: "BUILD.star"}
	tests := map[string]label.Label{
		"//tools/defs.star":   {Pkg: "tools", Name: "defs.star"},
		"//tools:defs.star":   {Pkg: "tools", Name: "defs.star"},
		"//defs.star":         {Pkg: "", Name: "defs.star"},
		":defs.star":          {Pkg: "a/b", Name: "defs.star"},
		"@bld//rules:cc.star": {Repo: "bld", Pkg: "rules", Name: "cc.star"},
		"@bld//rules/cc.star": {Repo: "bld", Pkg: "rules", Name: "cc.star"},
	}
	for in, want := range tests {
		got, err := moduleLabel(in, from)
		if err != nil || got != want {
			t.Errorf("moduleLabel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// TestSoftLimit checks the runtime's soft memory limit while Starlark
// runs: low for small live heaps, the bound past them, never above it.
func TestSoftLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		live  uint64
		bound int64
		want  int64
	}{
		{0, 4 << 30, 64 * mib},
		{10 * mib, 4 << 30, 64 * mib},
		{30 * mib, 4 << 30, 75 * mib},
		{63 * mib, 4 << 30, 157*mib + mib/2},
		{64 * mib, 4 << 30, 4 << 30},
		{500 * mib, 4 << 30, 4 << 30},
		{30 * mib, 50 * mib, 50 * mib},
	}
	for _, tt := range tests {
		if got := softLimit(tt.live, tt.bound); got != tt.want {
			t.Errorf("softLimit(%d MiB, %d MiB) = %d MiB, want %d MiB", tt.live/mib, tt.bound/mib, got/mib, tt.want/mib)
		}
	}
}
