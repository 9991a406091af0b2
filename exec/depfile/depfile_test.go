package depfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Rule
	}{
		{"gcc", "bld-out/a.o: a.c a.h \\\n include/b.h\n",
			[]Rule{{Targets: []string{"bld-out/a.o"}, Prereqs: []string{"a.c", "a.h", "include/b.h"}}}},
		{"crlf continuation", "a.o: a.c \\\r\n  b.h\r\n",
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"a.c", "b.h"}}}},
		{"escaped space", `a.o: my\ dir/a.c /usr/include/x.h`,
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"my dir/a.c", "/usr/include/x.h"}}}},
		{"backslashes before space", `a.o: x\\\ y z\\ w`,
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{`x\ y`, `z\\`, "w"}}}},
		{"dollar and hash", `a.o: cost$$.h \#1.h # a comment`,
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"cost$.h", "#1.h"}}}},
		{"other backslash kept", `a.o: dir\file.h`,
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{`dir\file.h`}}}},
		{"gcc -MP phony rules", "a.o: a.c a.h\n\na.h:\n",
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"a.c", "a.h"}}, {Targets: []string{"a.h"}}}},
		{"rustc dep-info", "/w/bld-out/lib.rmeta: src/lib.rs src/m.rs\n\n/w/bld-out/lib.d: src/lib.rs src/m.rs\n\nsrc/lib.rs:\nsrc/m.rs:\n\n# env-dep:CARGO_PKG_NAME=x\n",
			[]Rule{
				{Targets: []string{"/w/bld-out/lib.rmeta"}, Prereqs: []string{"src/lib.rs", "src/m.rs"}},
				{Targets: []string{"/w/bld-out/lib.d"}, Prereqs: []string{"src/lib.rs", "src/m.rs"}},
				{Targets: []string{"src/lib.rs"}},
				{Targets: []string{"src/m.rs"}},
			}},
		// rustc 1.95 escapes spaces but not "#": a "#" inside a name
		// is part of it, also after an escaped space; a comment starts
		// at the start of a line or after a blank.
		{"rustc dep-info, # in names", "out.d: p/lib.rs p/a\\ b.rs p/d#1.txt p/x\\ #y.rs\n\np/d#1.txt:\n\n# env-dep:TZ\n#c\n  # c\n",
			[]Rule{
				{Targets: []string{"out.d"}, Prereqs: []string{"p/lib.rs", "p/a b.rs", "p/d#1.txt", "p/x #y.rs"}},
				{Targets: []string{"p/d#1.txt"}},
			}},
		{"comment after a continuation", "a.o: a.c \\\n# gone\n",
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"a.c"}}}},
		{"two targets, colon in a prerequisite", "a.o a.d: c:x.h\n",
			[]Rule{{Targets: []string{"a.o", "a.d"}, Prereqs: []string{"c:x.h"}}}},
		{"no trailing newline, tabs", "a.o:\ta.c\t\\\n\tb.h",
			[]Rule{{Targets: []string{"a.o"}, Prereqs: []string{"a.c", "b.h"}}}},
		{"empty", "\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
			// Format then Parse gives the same rules back.
			again, err := Parse(Format(got))
			if err != nil {
				t.Fatalf("Parse(Format(...)): %v\n%s", err, Format(got))
			}
			if diff := cmp.Diff(tt.want, again); diff != "" {
				t.Errorf("round trip through\n%s(-want +got):\n%s", Format(got), diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"a.o a.c\n", ": a.c\n", "a.o: a.c\nstray\n"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", in)
		}
	}
}

func TestFormat(t *testing.T) {
	rules := []Rule{
		{Targets: []string{"bld-out/a.o"}, Prereqs: []string{"a.c", "my dir/a.h", "$x#.h"}},
		{Targets: []string{"a.h"}},
	}
	want := "bld-out/a.o: \\\n  a.c \\\n  my\\ dir/a.h \\\n  $$x\\#.h\n\na.h:\n"
	if got := string(Format(rules)); got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
}

func TestPrerequisites(t *testing.T) {
	rules := []Rule{{Targets: []string{"a"}, Prereqs: []string{"x", "y"}}, {Targets: []string{"b"}, Prereqs: []string{"y", "z"}}}
	if diff := cmp.Diff([]string{"x", "y", "z"}, Prerequisites(rules)); diff != "" {
		t.Errorf("Prerequisites (-want +got):\n%s", diff)
	}
}
