package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A panic in a command is reported as a bug of bld, with exit 37.
func TestPanicIsInternalError(t *testing.T) {
	commands["panic-for-test"] = &command{usage: "bld panic-for-test", run: func(context.Context, *environment, []string) error {
		panic("boom")
	}}
	defer delete(commands, "panic-for-test")
	var stderr bytes.Buffer
	env := &environment{stdout: &bytes.Buffer{}, stderr: &stderr, dir: t.TempDir()}
	if code := run(context.Background(), env, []string{"panic-for-test"}); code != exitInternal {
		t.Errorf("exit %d, want %d", code, exitInternal)
	}
	for _, want := range []string{"bld: internal error: boom", "This is a bug in bld"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// Bad command lines exit 2: an invalid pattern, an --events file that
// cannot be written.
func TestBadCommandLineExit(t *testing.T) {
	w := newWorkspace(t, map[string]string{"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")
`})
	for _, args := range [][]string{
		{"build", "//p:g:h"},
		{"build", "--events", "/nonexistent-dir/ev.json", "//p:g"},
	} {
		if r := w.bld(args...); r.code != exitUsage {
			t.Errorf("bld %v: exit %d, want %d:\n%s", args, r.code, exitUsage, r)
		}
	}
}

// A source label that names a directory says so, and what to do.
func TestDirectoryAsSource(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": `genrule(name = "g", srcs = ["d"], outs = ["o"], cmd = "ls $< > $@")
`,
		"p/d/": "",
	})
	r := w.bld("build", "//p:g")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%s", exitFailed, r)
	}
	wantContains(t, r.stderr, "p/BUILD.star:1:", "p/d is a directory, not a file", `glob(["d/**"])`)
}
