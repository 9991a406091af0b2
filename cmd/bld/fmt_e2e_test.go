package main

// bld fmt formats BUILD.star files in buildifier's BUILD mode and other
// .star files in its default mode, idempotently; --check changes nothing
// and exits 1 when a file is not formatted; a file that does not parse is
// an error with its position, left as it was.

import (
	"strings"
	"testing"
)

func TestFmt(t *testing.T) {
	messyBuild := `cc_binary(srcs=["b.c","a.c"],name="app",deps=[":lib"])
cc_unit(name="lib",srcs=["l.c"])
`
	messyStar := "def f(x):\n  return [x,\n    1]\n"
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": messyBuild,
		"p/defs.star":  messyStar,
		"q/BUILD.star": "genrule(\n    name = \"g\",\n    outs = [\"g.txt\"],\n    cmd = \"true > $@\",\n)\n",
		"p/a.c":        "int a;\n",
		"p/b.c":        "int main(void) { return 0; }\n",
		"p/l.c":        "int l;\n",
	})
	r := w.bld("fmt", "--check")
	if r.code != 1 {
		t.Fatalf("--check on messy files: exit %d, want 1:\n%s", r.code, r)
	}
	if r.stdout != "p/BUILD.star\np/defs.star\n" {
		t.Errorf("--check listed %q", r.stdout)
	}
	if w.read("p/BUILD.star") != messyBuild {
		t.Errorf("--check changed a file")
	}
	// //... names the same files as no argument; another label is refused
	// (fmt takes files).
	if r := w.bld("fmt", "--check", "//..."); r.code != 1 || r.stdout != "p/BUILD.star\np/defs.star\n" {
		t.Errorf("--check //...: exit %d, listed %q; want 1 and both messy files", r.code, r.stdout)
	}
	if r := w.bld("fmt", "--check", "//p/..."); r.code == 0 || !strings.Contains(r.stderr, "//p/...: name files by their paths, or //... for every one") {
		t.Errorf("--check //p/...: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
	if r := w.bld("fmt", "--check", "q/BUILD.star"); r.code != 0 || r.stdout != "" {
		t.Errorf("--check of a formatted file: exit %d, listed %q; want 0 and nothing", r.code, r.stdout)
	}
	w.mustBuild("fmt", "//...")
	build := w.read("p/BUILD.star")
	// BUILD mode: name first, lists sorted, one element a line.
	wantContains(t, build, "cc_binary(\n    name = \"app\",\n    srcs = [\n        \"a.c\",\n        \"b.c\",\n    ],\n    deps = [\":lib\"],\n)\n")
	if star := w.read("p/defs.star"); !strings.Contains(star, "    return [\n") {
		t.Errorf("defs.star not formatted:\n%s", star)
	}
	if r := w.bld("fmt", "--check"); r.code != 0 {
		t.Errorf("--check after fmt: exit %d:\n%s", r.code, r)
	}
	// Idempotent, and the formatted workspace still builds the same graph.
	w.mustBuild("fmt")
	if w.read("p/BUILD.star") != build {
		t.Errorf("a second fmt changed the file")
	}
	w.mustBuild("build", "--nobuild", "//...")

	w.write("p/broken.star", "def f(:\n")
	r = w.bld("fmt", "p/broken.star")
	if r.code != 1 {
		t.Errorf("a file that does not parse: exit %d, want 1", r.code)
	}
	wantContains(t, r.stderr, "p/broken.star:1:")
	if w.read("p/broken.star") != "def f(:\n" {
		t.Errorf("a broken file was changed")
	}
}
