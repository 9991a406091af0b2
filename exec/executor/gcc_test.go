package executor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bld/exec/graph"
)

func TestCompileWithGcc(t *testing.T) {
	t.Parallel()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("gcc is not installed; this test needs the real compiler (see .ci/run)")
	}
	env := []string{"PATH=" + filepath.Dir(gcc) + ":/usr/bin:/bin"}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "hello"), 0o755)
	os.WriteFile(filepath.Join(root, "hello/main.c"), []byte("#include <stdio.h>\nint greet(void);\nint main(void) { return greet(); }\n"), 0o644)
	os.WriteFile(filepath.Join(root, "hello/greet.c"), []byte("#include <stdio.h>\nint greet(void) { puts(\"hello from bld\"); return 0; }\n"), 0o644)
	cc := func(src, obj string) *graph.Action {
		return &graph.Action{Owner: "//hello:hello", Mnemonic: "CcCompile", Env: env,
			Argv:   []string{"gcc", "-c", src, "-o", obj},
			Inputs: []string{src}, Outputs: []string{obj}}
	}
	actions := []*graph.Action{
		{Owner: "//hello:hello", Mnemonic: "CcLink", Env: env,
			Argv:    []string{"gcc", "-o", "bld-out/hello/hello", "bld-out/hello/main.o", "bld-out/hello/greet.o"},
			Inputs:  []string{"bld-out/hello/greet.o", "bld-out/hello/main.o"},
			Outputs: []string{"bld-out/hello/hello"}},
		cc("hello/main.c", "bld-out/hello/main.o"),
		cc("hello/greet.c", "bld-out/hello/greet.o"),
	}
	sum, rec, err := build(t, context.Background(), root, actions, 2, false, newMemCache())
	if err != nil {
		for _, r := range rec.results {
			t.Logf("%s: %s", r.Action.Mnemonic, r.Output)
		}
		t.Fatal(err)
	}
	if sum.Ran != 3 {
		t.Errorf("summary %+v", sum)
	}
	out, err := exec.Command(filepath.Join(root, "bld-out/hello/hello")).Output()
	if err != nil || string(out) != "hello from bld\n" {
		t.Errorf("built program printed %q, %v", out, err)
	}
}

func TestCompileErrorOutput(t *testing.T) {
	t.Parallel()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("gcc is not installed; this test needs the real compiler (see .ci/run)")
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "bad.c"), []byte("int main(void) { return nope; }\n"), 0o644)
	a := &graph.Action{Owner: "//:bad", Mnemonic: "CcCompile", Env: []string{"PATH=" + filepath.Dir(gcc) + ":/usr/bin:/bin"},
		Argv: []string{"gcc", "-c", "bad.c", "-o", "bld-out/bad.o"}, Inputs: []string{"bad.c"}, Outputs: []string{"bld-out/bad.o"}}
	_, rec, err := build(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache())
	if err == nil {
		t.Fatal("compiling bad.c succeeded")
	}
	r := rec.results["//:bad"]
	if r.ExitCode != 1 || !strings.Contains(string(r.Output), "bad.c:1:") || exists(filepath.Join(root, "bld-out/bad.o")) {
		t.Errorf("exit %d, output %q", r.ExitCode, r.Output)
	}
}
