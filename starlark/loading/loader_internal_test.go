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
