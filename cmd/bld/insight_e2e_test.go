package main

import (
	"strings"
	"testing"
)

// Output of actions, successful and restored too, is headed by the action;
// two actions with one progress message are told apart by their target;
// -s prints each command as it starts; a failed build ends with the list of
// what failed. Not a terminal here, so no colour.
func TestOutputHeadersAndSubcommands(t *testing.T) {
	gen := `genrule(name = "x", srcs = ["where.c"], outs = ["x.o"], message = "Compiling src/where.c",
    cmd = "echo 'tool says hi'; cp $< $@")
`
	w := newWorkspace(t, map[string]string{
		"a/BUILD.star": gen,
		"a/where.c":    "a\n",
		"b/BUILD.star": gen + `genrule(name = "bad", outs = ["bad.txt"], cmd = "echo broken >&2; exit 3")
`,
		"b/where.c": "b\n",
	})
	r := w.mustBuild("build", "-j1", "-s", "//a:x", "//b:x")
	wantContains(t, r.stderr,
		"Compiling src/where.c (//a:x)\n",
		"Compiling src/where.c (//b:x)\n",
		"From //a:x (Genrule): Compiling src/where.c (//a:x):\ntool says hi\n",
		"From //b:x (Genrule): Compiling src/where.c (//b:x):\ntool says hi\n",
		"SUBCOMMAND: //a:x (Genrule): Compiling src/where.c (//a:x)\n/bin/sh -e -c 'echo '\\''tool says hi'\\''; cp a/where.c bld-out/a/x.o'\n")
	if strings.Contains(r.stderr, "\x1b[1m") || strings.Contains(r.stderr, "\x1b[32m") {
		t.Errorf("colour escapes when stderr is not a terminal:\n%q", r.stderr)
	}

	// Restored from the cache: the output is shown again, headed as such,
	// and nothing runs, so no subcommand.
	w.mustBuild("clean")
	r = w.mustBuild("build", "-s", "//a:x")
	wantContains(t, r.stderr, "From //a:x (Genrule, restored): Compiling src/where.c:\ntool says hi\n")
	if strings.Contains(r.stderr, "SUBCOMMAND") {
		t.Errorf("a restored action printed a subcommand:\n%s", r.stderr)
	}

	r = w.bld("build", "-k", "//b:all")
	if r.code != 1 {
		t.Fatalf("want a failed build, got:\n%s", r)
	}
	wantContains(t, r.stderr, "FAILED: //b:bad (Genrule)\n", "broken\n",
		"bld: 1 action failed:\n  //b:bad (Genrule): Generating bld-out/b/bad.txt\nbld: 2 actions:")
}

func TestUseColor(t *testing.T) {
	for _, tc := range []struct {
		terminal bool
		vars     []string
		want     bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, []string{"NO_COLOR=1"}, false},
		{true, []string{"NO_COLOR="}, true}, // set but empty: no-color.org says colour
	} {
		env := &environment{isTerminal: tc.terminal, vars: tc.vars}
		if got := useColor(env); got != tc.want {
			t.Errorf("useColor(terminal=%v, %q) = %v, want %v", tc.terminal, tc.vars, got, tc.want)
		}
	}
}
