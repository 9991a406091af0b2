package main

import (
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestGenruleQuotesPaths builds genrules over files whose names hold
// spaces, quotes, ;, $, backticks and unicode, in a package whose directory
// name has a space: the real sh must see each path as one word and run
// nothing the names spell.
func TestGenruleQuotesPaths(t *testing.T) {
	names := []string{
		"a b.txt",
		"a.txt;touch INJECTED;.txt",
		"q'uote.txt",
		`d"q.txt`,
		"$(touch INJECTED).txt",
		"`touch INJECTED`.txt",
		"$HOME.txt",
		"ünï cödé.txt",
		"plain.txt",
	}
	files := map[string]string{
		"my pkg/BUILD.star": `genrule(name = "all", srcs = glob(["*.txt"]), outs = ["all out.txt"], cmd = "cat $(SRCS) > $@")
genrule(
    name = "two",
    srcs = ["q'uote.txt"],
    tools = ["a.txt;touch INJECTED;.txt"],
    outs = ["tw'o $x.txt"],
    cmd = "cat $< $(location :a.txt;touch INJECTED;.txt) > $@ && echo $(@D) >> $@",
)
`,
	}
	var want strings.Builder
	for _, n := range names {
		files["my pkg/"+n] = n + "\n"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted) // glob's order
	for _, n := range sorted {
		want.WriteString(n + "\n")
	}
	// Without the sandbox a command the names spelled would run in the
	// workspace itself, where the walk below finds what it leaves.
	for _, sandbox := range []string{"--sandbox=off", "--sandbox=auto"} {
		t.Run(sandbox, func(t *testing.T) {
			w := newWorkspace(t, files)
			w.mustBuild("build", sandbox, "//...")
			if got := w.read("bld-out/my pkg/all out.txt"); got != want.String() {
				t.Errorf("all out.txt:\n%s\nwant:\n%s", got, want.String())
			}
			if got, want := w.read("bld-out/my pkg/tw'o $x.txt"), "q'uote.txt\na.txt;touch INJECTED;.txt\nbld-out/my pkg\n"; got != want {
				t.Errorf("tw'o $x.txt: %q, want %q", got, want)
			}
			noInjected(t, w.root)
		})
	}
}

// noInjected fails the test if a file whose name starts with INJECTED is
// anywhere under root.
func noInjected(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), "INJECTED") {
			t.Errorf("a file name ran a command: %s exists", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
