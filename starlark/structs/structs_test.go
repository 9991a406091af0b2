package structs_test

import (
	"fmt"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"bld/starlark/structs"
)

// program exercises what a user sees of a struct: type, printing, dir(),
// fields, a missing field's error, equality, hashing, +, and freezing.
// Each line it prints, or the error that stops it, must be the same with
// bld's structs as with go.starlark.net's starlarkstruct.
const program = `
s = struct(b = 2, a = "x", c = [1])
t = struct(c = [1], a = "x", b = 2)
print(type(s), s, str(s), repr(s), dir(s))
print(s.a, s.b, s.c, hasattr(s, "a"), hasattr(s, "nope"), getattr(s, "nope", "default"))
print(s == t, s != t, s == struct(a = "x"), s == struct(a = "x", b = 2, d = [1]), s == 1)
print(struct() == struct(), struct(), dir(struct()), bool(struct()))
print(s + struct(b = 3, z = None), struct(a = 1) + struct(), struct() + struct(a = 1))
print(len(dict([(struct(a = 1, b = "y"), 1), (struct(b = "y", a = 1), 2), (struct(a = 2, b = "y"), 3)])))
print({struct(a = 1): 1, struct(b = 1): 2}[struct(a = 1)], struct(a = 1) in {struct(a = 1): 1})
print(struct(x = struct(y = 1)) == struct(x = struct(y = 1)), struct(x = struct(y = 1)).x.y)
print(struct(**{"k": 1, "j": 2}), struct(a = 2, **{"a": 1}))
print([struct(a = 1)] == [struct(a = 1)], struct(a = 1) in [struct(a = 1)])
`

// errs are programs that fail; each must fail with the same error.
var errs = []string{
	`struct(a = 1).nope`,
	`struct(apple = 1).appel`,
	`{struct(a = []): 1}`,
	`struct(a = 1) < struct(a = 2)`,
	`struct(1)`,
	`struct(a = 1) + 1`,
	`s = struct(l = []); s.l.append(1)`,
	`s = struct(a = 1); s.a = 2`,
}

func run(t *testing.T, src string, make func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) string {
	t.Helper()
	var out strings.Builder
	thread := &starlark.Thread{Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") }}
	predeclared := starlark.StringDict{"struct": starlark.NewBuiltin("struct", make)}
	globals, err := starlark.ExecFile(thread, "x.star", src, predeclared)
	if err != nil {
		fmt.Fprintf(&out, "error: %v\n", err)
	}
	globals.Freeze()
	if s, ok := globals["s"]; ok {
		// A frozen struct's list cannot change.
		if l, ok := s.(starlark.HasAttrs); ok {
			if v, _ := l.Attr("l"); v != nil {
				fmt.Fprintf(&out, "frozen: %v\n", v.(*starlark.List).Append(starlark.None))
			}
		}
	}
	return out.String()
}

func TestSameAsStarlarkstruct(t *testing.T) {
	for _, src := range append([]string{program}, errs...) {
		want := run(t, src, starlarkstruct.Make)
		got := run(t, src, structs.Make)
		if got != want {
			t.Errorf("%s\nbld's structs:\n%s\nstarlarkstruct:\n%s", src, got, want)
		}
	}
	// The program ran to its end.
	if out := run(t, program, structs.Make); strings.Contains(out, "error") || strings.Count(out, "\n") != 10 {
		t.Errorf("the program did not run to its end:\n%s", out)
	}
}

// TestAlloc checks that a struct from Alloc has its layout's fields, for
// every count of fields (one allocation up to 16, two beyond).
func TestAlloc(t *testing.T) {
	for n := 0; n <= 20; n++ {
		names := make([]string, n)
		kwargs := make([]starlark.Tuple, n)
		for i := range names {
			names[i] = fmt.Sprintf("f%02d", i)
			kwargs[i] = starlark.Tuple{starlark.String(names[i]), starlark.MakeInt(i)}
		}
		s, values := structs.Alloc(structs.NewLayout(names))
		if len(values) != n {
			t.Fatalf("%d fields: %d values", n, len(values))
		}
		for i := range values {
			values[i] = starlark.MakeInt(i)
		}
		if eq, err := starlark.Equal(s, structs.FromKeywords(kwargs)); err != nil || !eq {
			t.Errorf("%d fields: %v, want %v (%v)", n, s, structs.FromKeywords(kwargs), err)
		}
		if n > 0 {
			if v, err := s.Attr(names[n-1]); err != nil || v != starlark.MakeInt(n-1) {
				t.Errorf("%d fields: .%s = %v, %v", n, names[n-1], v, err)
			}
		}
	}
}

func TestNewLayoutUnsorted(t *testing.T) {
	for _, names := range [][]string{{"b", "a"}, {"a", "a"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLayout(%q) did not panic", names)
				}
			}()
			structs.NewLayout(names)
		}()
	}
}
