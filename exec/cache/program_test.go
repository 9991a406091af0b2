package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bld/exec/graph"
)

// An action that must run gets, in its Check, the program its key
// covers (argv[0] as program.Find resolved it), for the runner to start;
// an action whose program cannot be found gets none (the runner then
// fails to find it and says so).
func TestCheckGivesTheKeyedProgram(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"src/a.c": "a\n", "bin/gen": "#!/bin/sh\n# gen\n"})
	c := openCache(t, t.TempDir(), root, Options{})
	defer closeCache(t, c)
	env := []string{"PATH=bin:/usr/bin:/bin"}
	for _, tc := range []struct {
		argv0, name, path string
	}{
		{"gen", "bin/gen", filepath.Join(root, "bin/gen")},
		{"./bin/gen", "bin/gen", filepath.Join(root, "bin/gen")},
		{"/bin/sh", "/bin/sh", "/bin/sh"},
		{"no-such-tool", "", ""},
	} {
		a := &graph.Action{Owner: "//:" + tc.argv0, Mnemonic: "Gen", Argv: []string{tc.argv0, "src/a.c"}, Env: env,
			Inputs: []string{"src/a.c", "bin/gen"}, Outputs: []string{"bld-out/" + strings.ReplaceAll(tc.argv0, "/", "_")}}
		check, err := c.Check(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if check.UpToDate {
			t.Fatalf("%s: up to date", tc.argv0)
		}
		switch {
		case tc.name == "" && check.Program != nil:
			t.Errorf("%s: program %+v; want none", tc.argv0, *check.Program)
		case tc.name == "":
		case check.Program == nil:
			t.Errorf("%s: no program", tc.argv0)
		case check.Program.Name != tc.name || check.Program.Path != tc.path:
			t.Errorf("%s: program %s at %s; want %s at %s", tc.argv0, check.Program.Name, check.Program.Path, tc.name, tc.path)
		}
	}
}

// When the program an action runs changes between its check and the end
// of its run, its result is not stored under the key the check computed
// (which covers the program as it was): a later build with the program
// as it was then does not take the result as that program's.
func TestProgramChangedAfterCheckNotStored(t *testing.T) {
	root := t.TempDir()
	orig := "#!/bin/sh\n# gen, version 1\n"
	writeFiles(t, root, map[string]string{"src/a.c": "a\n", "tools/gen": orig})
	var warnings []string
	c := openCache(t, t.TempDir(), root, Options{Warn: func(m string) { warnings = append(warnings, m) }})
	defer closeCache(t, c)
	a := &graph.Action{Owner: "//:gen", Mnemonic: "Gen", Argv: []string{"tools/gen", "src/a.c"}, Env: []string{"PATH=/usr/bin:/bin"},
		Inputs: []string{"src/a.c", "tools/gen"}, Outputs: []string{"bld-out/o"}}
	ctx := context.Background()
	check, err := c.Check(ctx, a)
	if err != nil || check.UpToDate || check.Program == nil {
		t.Fatalf("check: %+v, %v", check, err)
	}
	// The program changes while the action runs.
	writeFiles(t, root, map[string]string{"tools/gen": "#!/bin/sh\n# gen, version 2, longer\n"})
	runAction(t, root, a)
	if err := c.Store(ctx, a, check.Key, nil); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "tools/gen changed while //:gen (Gen) ran") {
		t.Errorf("warnings %q; want one saying tools/gen changed", warnings)
	}
	// The program as it was when checked: same content, so the same key.
	p := filepath.Join(root, "tools/gen")
	writeFiles(t, root, map[string]string{"tools/gen": orig})
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p, later, later)
	os.Remove(filepath.Join(root, "bld-out/o"))
	again, err := c.Check(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != check.Key {
		t.Fatalf("the key changed with the program restored: %s, was %s", again.Key, check.Key)
	}
	if again.UpToDate {
		t.Error("the result of the run with the changed program was stored under the key of the program as checked")
	}
}
