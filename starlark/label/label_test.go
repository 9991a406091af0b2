package label

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in, pkg string
		want    Label
		wantErr bool
	}{
		{in: "//a/b:c", want: Label{Pkg: "a/b", Name: "c"}},
		{in: "//a/b", want: Label{Pkg: "a/b", Name: "b"}},
		{in: "//:x", want: Label{Name: "x"}},
		{in: ":x", pkg: "p", want: Label{Pkg: "p", Name: "x"}},
		{in: "x.c", pkg: "p", want: Label{Pkg: "p", Name: "x.c"}},
		{in: "sub/x.c", pkg: "p", want: Label{Pkg: "p", Name: "sub/x.c"}},
		{in: "@bld//rules:cc.star", want: Label{Repo: "bld", Pkg: "rules", Name: "cc.star"}},
		{in: "//", wantErr: true},
		{in: "//a/../b:c", wantErr: true},
		{in: "//a:", wantErr: true},
		{in: "//a//b:c", wantErr: true},
		{in: "../x.c", pkg: "p", wantErr: true},
		{in: "a:b", pkg: "p", wantErr: true},
		{in: "@other//a:b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, "", tt.pkg)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q, %q): err = %v, want error: %v", tt.in, tt.pkg, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.in, tt.pkg, got, tt.want)
		}
	}
}

func TestLabelString(t *testing.T) {
	for _, s := range []string{"//a/b:c", "//:x", "@bld//rules:cc.star"} {
		l, err := Parse(s, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if l.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, l.String())
		}
	}
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in, dir string
		want    Pattern
		wantErr bool
	}{
		{in: "//...", want: Pattern{Recursive: true}},
		{in: "//a/...", want: Pattern{Pkg: "a", Recursive: true}},
		{in: "...", dir: "a/b", want: Pattern{Pkg: "a/b", Recursive: true}},
		{in: "...", dir: "", want: Pattern{Recursive: true}},
		{in: "//a:all", want: Pattern{Pkg: "a", All: true}},
		{in: ":all", dir: "a", want: Pattern{Pkg: "a", All: true}},
		{in: "//a:x", want: Pattern{Pkg: "a", Name: "x"}},
		{in: "//a", want: Pattern{Pkg: "a", Name: "a"}},
		{in: ":x", dir: "a", want: Pattern{Pkg: "a", Name: "x"}},
		{in: ":x", dir: "", want: Pattern{Pkg: "", Name: "x"}},
		{in: "sub:x", dir: "a", want: Pattern{Pkg: "a/sub", Name: "x"}},
		{in: "sub/...", dir: "a", want: Pattern{Pkg: "a/sub", Recursive: true}},
		{in: "//a/../b:x", wantErr: true},
		{in: "@x//a:b", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParsePattern(tt.in, tt.dir)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePattern(%q, %q): err = %v, want error: %v", tt.in, tt.dir, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParsePattern(%q, %q) = %+v, want %+v", tt.in, tt.dir, got, tt.want)
		}
	}
}
