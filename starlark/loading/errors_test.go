package loading_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/starlark/loading"
)

// Unbounded recursion ends with a short backtrace: the first and last ten
// frames and a line counting the ones between, not a line per frame.
func TestRecursionBacktrace(t *testing.T) {
	l := newLoader(t, map[string]string{
		"p/BUILD.star": "def f(n):\n    return f(n + 1)\n\nf(0)\n",
	})
	_, err := l.LoadPackage(context.Background(), "p")
	if err == nil {
		t.Fatal("unbounded recursion ended without error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 30 {
		t.Fatalf("backtrace has %d lines, want at most 30:\n%s...", len(lines), strings.Join(lines[:30], "\n"))
	}
	f := "  p/BUILD.star:2:13: in f"
	want := []string{
		"Traceback (most recent call last):",
		"  p/BUILD.star:4:2: in <toplevel>",
		f, f, f, f, f, f, f, f, f,
		"  ... 99,981 more frames of f ...",
		f, f, f, f, f, f, f, f, f,
		"  p/BUILD.star:2:12: in f",
		"Error: Starlark stack overflow",
		"(a function called itself, directly or through others, without end: look for the recursion in the frames above)",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("backtrace (-want +got):\n%s", diff)
	}
}

// A shallow backtrace is printed whole, and fail() says "fail" once.
func TestShallowBacktrace(t *testing.T) {
	l := newLoader(t, map[string]string{
		"p/BUILD.star": "def g():\n    fail(\"my message\")\n\ndef f():\n    g()\n\nf()\n",
	})
	_, err := l.LoadPackage(context.Background(), "p")
	want := "Traceback (most recent call last):\n" +
		"  p/BUILD.star:7:2: in <toplevel>\n" +
		"  p/BUILD.star:5:6: in f\n" +
		"  p/BUILD.star:2:9: in g\n" +
		"Error in fail: my message"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// syntaxCases are syntax errors and where the offending token starts.
var syntaxCases = []struct{ src, want string }{
	{"x = 3 3\n", "p/BUILD.star:1:7: got int literal, want newline; " + oneStatement},
	{"genrule(name = \"a\" outs = [])\n", "p/BUILD.star:1:20: got identifier, want ','; add a ',' after \"a\" (1:16)"},
	{"def f(:\n", "p/BUILD.star:1:7: got ':', want ')'; add a ')' to close the '(' at 1:6"},
	{"def f()\n  pass\n", "p/BUILD.star:1:8: got newline, want ':'; add a ':' at the end of line 1"},
	{"def f():\npass\n", "p/BUILD.star:2:1: got pass, want indent; indent the lines of the block, under the line that ends with ':'"},
	{"x = 'a' 'b'\n", "p/BUILD.star:1:9: got string literal, want newline; Starlark does not join adjacent strings: put a '+' between them"},
	{"x = r'a' \"\"\"b\nc\"\"\"\n", "p/BUILD.star:1:10: got string literal, want newline; Starlark does not join adjacent strings: put a '+' between them"},
	{"x = \"\"\"abc\ndef\"\"\" 3\n", "p/BUILD.star:2:8: got int literal, want newline; " + oneStatement},
	{"x = (1,  # c\n 2\n y = 3\n", "p/BUILD.star:3:2: got identifier, want ')'; add a ',' after '2' (2:2), or a ')' to close the '(' at 1:5"},
	{"x = é é\n", "p/BUILD.star:1:7: got identifier, want newline; " + oneStatement},
	{"x = 1.5e+3 2\n", "p/BUILD.star:1:12: got int literal, want newline; " + oneStatement},
	{"f(1+1=2)\n", "p/BUILD.star:1:6: keyword argument must have form name=expr"},
	{"x = 1 < 2 < 3\n", "p/BUILD.star:1:11: < does not associate with < (use parens)"},
	{"load(x)\n", "p/BUILD.star:1:6: first operand of load statement must be a string literal"},
	{"for x y: pass\n", "p/BUILD.star:1:7: got identifier, want in"},
	// A comma missing between arguments across lines, between items, and
	// the hint's token cut short.
	{"genrule(\n    name = \"a\"\n    outs = [],\n)\n", "p/BUILD.star:3:5: got identifier, want ','; add a ',' after \"a\" (2:12)"},
	{"x = [1 2]\n", "p/BUILD.star:1:8: got int literal, want ']'; add a ',' after '1' (1:6), or a ']' to close the '[' at 1:5"},
	{"x = {'a': 1 'b': 2}\n", "p/BUILD.star:1:13: got string literal, want '}'; add a ',' after '1' (1:11), or a '}' to close the '{' at 1:5"},
	{"load('//abcdefghijklmnopqrstuvwxyz.star' 'x')\n", "p/BUILD.star:1:42: got string literal, want ','; add a ',' after '//abcdefghijklmnopq… (1:6)"},
	{"x = {'a' 1}\n", "p/BUILD.star:1:10: got int literal, want ':'; add a ':' after 'a' (1:6)"},
	// A closing bracket that does not match the open one.
	{"x = f(1]\n", "p/BUILD.star:1:8: got ']', want ','; the '(' at 1:6 is closed by ')', not ']'"},
	{"x = {'a': [1, 2}\n", "p/BUILD.star:1:16: got '}', want ']'; the '[' at 1:11 is closed by ']', not '}'"},
	// A file that ends inside brackets: the bracket never closed.
	{"genrule(name = \"x\", outs = [\"x\"], cmd = \"true\"\n", "p/BUILD.star:1:8: '(' is never closed (the file ends first); add the missing ')'"},
	{"x = f(1, [2,\n  3\n", "p/BUILD.star:1:10: '[' is never closed (the file ends first); add the missing ']'"},
	{"x = {'a': (1, 2)\n# c\n", "p/BUILD.star:1:5: '{' is never closed (the file ends first); add the missing '}'"},
	// Reported at the token's start already.
	{"x = 1 +\n", "p/BUILD.star:1:8: got newline, want primary expression; a value is missing here"},
	{"genrule(name = , outs = [])\n", "p/BUILD.star:1:16: got ',', want primary expression; a value is missing here"},
	{"x = )\n", "p/BUILD.star:1:5: unexpected ')'; it closes no open bracket: remove it"},
	{"x = f(1))\n", "p/BUILD.star:1:9: unexpected ')'; it closes no open bracket: remove it"},
	{"x = $\n", "p/BUILD.star:1:5: unexpected input character '$'"},
}

// oneStatement is the hint for two expressions on one line.
const oneStatement = "a line holds one statement: start a new line here, or join the two with an operator"

// A syntax error names the line and column where the offending token
// starts, not the column after it, which go.starlark.net's parser reports.
func TestSyntaxErrorColumn(t *testing.T) {
	for _, tc := range syntaxCases {
		l := newLoader(t, map[string]string{"p/BUILD.star": tc.src})
		_, err := l.LoadPackage(context.Background(), "p")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

// go.starlark.net reports "got X, want Y" past the token. If an upgrade
// fixes that, this fails: then remove syntaxError's correction.
func TestStarlarkReportsPastToken(t *testing.T) {
	_, err := loading.FileOptions.Parse("f", "x = 3 3\n", 0)
	if err == nil || err.Error() != "f:1:8: got int literal, want newline" {
		t.Errorf("go.starlark.net's error changed: %v; review syntaxError", err)
	}
}
