package main

// A real many-file C library built as a partitioned unit: Lua 5.4 from
// Debian's source package (not in this repository: .ci/run fetches it with
// apt-get source and sets BLD_LUA_SRC; bench/lua/setup.sh makes the
// workspace). The interpreter built with liblua in 2 unity partitions, and
// with "auto" partitions, runs a workload that checks its own answers, and
// prints what the file-by-file build's interpreter prints (also as Lua's
// sh_test, under bld test); bytecode written by one build's luac runs on
// the other's lua.

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// luaWorkspace sets up Lua's sources from BLD_LUA_SRC with attrs added to
// //src:lua_lib, and builds the interpreter and the compiler.
func luaWorkspace(t *testing.T, src, attrs string) *testWorkspace {
	t.Helper()
	root := filepath.Join(t.TempDir(), "lua")
	setup := exec.Command("../../bench/lua/setup.sh", src, root, attrs)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("bench/lua/setup.sh: %v\n%s", err, out)
	}
	w := workspaceAt(t, root)
	w.mustBuild("build", "-j2", "//src:lua", "//src:luac")
	return w
}

func runLua(t *testing.T, w *testWorkspace, args ...string) string {
	t.Helper()
	cmd := exec.Command(w.path("bld-out/src/lua"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", cmd.Path, args, err, out)
	}
	return string(out)
}

func TestLuaPartitioned(t *testing.T) {
	src := os.Getenv("BLD_LUA_SRC")
	if src == "" {
		t.Skip("BLD_LUA_SRC is not set: it names an unpacked lua5.4 source package (apt-get source lua5.4), as .ci/run sets it")
	}
	workload, err := filepath.Abs("../../bench/lua/workload.lua")
	if err != nil {
		t.Fatal(err)
	}
	plain := luaWorkspace(t, src, "")
	want := runLua(t, plain, workload)
	wantContains(t, want, "primes 5133", "digest ")

	for _, attrs := range []string{"partitions = 2,", `partitions = "auto",`} {
		w := luaWorkspace(t, src, attrs)
		unity, _ := filepath.Glob(w.path("bld-out/src/_objs/lua_lib/partition_*.c"))
		if len(unity) < 2 {
			t.Errorf("%s: %d unity sources, want at least 2", attrs, len(unity))
		}
		if got := runLua(t, w, workload); got != want {
			t.Errorf("%s: the workload printed\n%s\nwant (file by file)\n%s", attrs, got, want)
		}
		// The same workload as Lua's sh_test, run by bld test.
		r := w.bld("test", "//src:workload_test")
		if r.code != 0 {
			t.Errorf("%s: bld test //src:workload_test:\n%s", attrs, r)
		}
		wantMatch(t, r.stderr, `//src:workload_test\s+PASSED`)
		// Bytecode from the partitioned luac runs on the file-by-file lua.
		luac := exec.Command(w.path("bld-out/src/luac"), "-o", w.path("workload.luac"), workload)
		if out, err := luac.CombinedOutput(); err != nil {
			t.Fatalf("luac: %v\n%s", err, out)
		}
		if got := runLua(t, plain, w.path("workload.luac")); got != want {
			t.Errorf("%s: bytecode from the partitioned luac printed\n%s\nwant\n%s", attrs, got, want)
		}
	}
}
