package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var aqueryFiles = map[string]string{
	"lib/BUILD.star": `cc_unit(name = "greet", srcs = ["greet.c"], hdrs = ["greet.h"], includes = ["."])
`,
	"lib/greet.c": "#include \"greet.h\"\nint greet(void) { return 42; }\n",
	"lib/greet.h": "int greet(void);\n",
	"app/BUILD.star": `genrule(name = "version", outs = ["version.c"], cmd = "echo 'int version = 1;' > $@")
cc_binary(name = "app", srcs = ["main.c", ":version"], deps = ["//lib:greet"])
`,
	"app/main.c": "#include <stdio.h>\n#include \"greet.h\"\nextern int version;\nint main(void) { printf(\"%d %d\\n\", greet(), version); return 0; }\n",
}

func TestAquery(t *testing.T) {
	w := newWorkspace(t, aqueryFiles)
	r := w.bld("aquery", "--output=json", "//lib:greet")
	if r.code != 0 {
		t.Fatalf("aquery failed:\n%s", r)
	}
	var doc struct {
		Actions []aqueryAction `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	type brief struct {
		Label, Mnemonic string
		Inputs, Outputs []string
	}
	var got []brief
	for _, a := range doc.Actions {
		got = append(got, brief{a.Label, a.Mnemonic, a.Inputs, a.Outputs})
	}
	want := []brief{
		{"//lib:greet", "CcCompile", []string{"lib/greet.c"}, []string{"bld-out/lib/_objs/greet/lib/greet.d", "bld-out/lib/_objs/greet/lib/greet.o"}},
		{"//lib:greet", "CcArchive", []string{"bld-out/lib/_objs/greet/lib/greet.o"}, []string{"bld-out/lib/libgreet.a"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions of //lib:greet (-want +got):\n%s", diff)
	}
	cc := doc.Actions[0]
	if i := slices.Index(cc.Argv, "-c"); i < 0 || cc.Argv[i+1] != "lib/greet.c" || cc.Argv[0] != "gcc" {
		t.Errorf("compile argv %q", cc.Argv)
	}
	if !slices.Contains(cc.Env, "LANG=C") || cc.Depfile != "bld-out/lib/_objs/greet/lib/greet.d" || !slices.Contains(cc.Discoverable, "lib/greet.h") {
		t.Errorf("compile env %q, depfile %q, discoverable %q", cc.Env, cc.Depfile, cc.Discoverable)
	}
	if w.exists("bld-out/lib/libgreet.a") {
		t.Error("aquery built something")
	}

	// Text, and deps(): the app's own actions and those of what it uses.
	r = w.bld("aquery", "deps(//app)")
	if r.code != 0 {
		t.Fatalf("aquery failed:\n%s", r)
	}
	wantContains(t, r.stdout,
		"action 'Compiling lib/greet.c'\n  Label: //lib:greet\n  Mnemonic: CcCompile\n  Inputs: [lib/greet.c]\n",
		"action 'Generating bld-out/app/version.c'\n  Label: //app:version\n  Mnemonic: Genrule\n",
		"  Command Line: /bin/sh -e -c 'echo '\\''int version = 1;'\\'' > bld-out/app/version.c'\n",
		"action 'Linking bld-out/app/app'\n")
	if n := strings.Count(r.stdout, "\naction '"); n != 6-1 {
		t.Errorf("%d actions after the first, want 5 (compile and archive of lib; genrule, 2 compiles and link of app):\n%s", n, r.stdout)
	}
	if r := w.bld("aquery", "--output=xml", "//app"); r.code != 2 {
		t.Errorf("--output=xml: %s", r)
	}
}

// compile_commands.json: one entry per source, the real checkout as
// directory, the original sources of a partitioned unit (not its unity
// files), and commands gcc runs as they are from that directory.
func TestCompileCommands(t *testing.T) {
	files := partitionedUnit(6, "partitions = 2,")
	w := newWorkspace(t, files)
	w.mustBuild("build", "--nobuild", "--compile_commands", "//app")
	type entry struct {
		Directory string   `json:"directory"`
		File      string   `json:"file"`
		Arguments []string `json:"arguments"`
		Output    string   `json:"output"`
	}
	var entries []entry
	if err := json.Unmarshal([]byte(w.read("compile_commands.json")), &entries); err != nil {
		t.Fatal(err)
	}
	var gotFiles []string
	for _, e := range entries {
		if e.Directory != w.root {
			t.Errorf("directory %q, want the checkout %q", e.Directory, w.root)
		}
		rel, err := filepath.Rel(w.root, e.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("file %q is not in the checkout", e.File)
		}
		if i := slices.Index(e.Arguments, "-c"); i < 0 || e.Arguments[i+1] != rel {
			t.Errorf("%s: arguments %q do not compile it", rel, e.Arguments)
		}
		gotFiles = append(gotFiles, rel)
	}
	slices.Sort(gotFiles)
	want := []string{"app/main.c", "lib/f00.c", "lib/f01.c", "lib/f02.c", "lib/f03.c", "lib/f04.c", "lib/f05.c"}
	if diff := cmp.Diff(want, gotFiles); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if w.exists("bld-out/app/app") {
		t.Error("--nobuild built the app")
	}

	// After a build (which makes the output directories), every command
	// compiles its file from the directory, as clangd's would.
	w.mustBuild("build", "--compile_commands", "//app")
	for _, e := range entries {
		args := slices.Clone(e.Arguments)
		args[slices.Index(args, "-o")+1] = filepath.Join(t.TempDir(), "x.o")
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = e.Directory
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", e.File, err, out)
		}
	}
}
