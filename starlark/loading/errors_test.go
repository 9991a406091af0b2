package loading_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
