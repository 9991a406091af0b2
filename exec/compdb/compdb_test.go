package compdb

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
)

func TestEntries(t *testing.T) {
	flags := []string{"-iquote", ".", "-Ilib", "-ffile-prefix-map=/tmp/bld-sandbox/execroot=."}
	argv := func(src, obj string) []string {
		return append(append([]string{"gcc"}, flags...), "-MD", "-MF", obj+".d", "-c", src, "-o", obj)
	}
	actions := []*graph.Action{
		{Mnemonic: "CcCompile", Argv: argv("lib/a.c", "bld-out/lib/a.o"), Inputs: []string{"lib/a.c"}, More: &graph.More{Discoverable: []string{"lib/a.h"}}},
		// A partition: the unity file and its members.
		{Mnemonic: "CcCompile", Argv: argv("bld-out/lib/_objs/lib/partition_c_0.c", "bld-out/lib/p0.o"),
			Inputs: []string{"bld-out/lib/_objs/lib/partition_c_0.c", "lib/b.c", "lib/c.c", "lib/d.h"}},
		// A generated source compiled alone.
		{Mnemonic: "CcCompile", Argv: argv("bld-out/app/version.c", "bld-out/app/version.o"), Inputs: []string{"bld-out/app/version.c"}},
		// Not compiles: a shell command, a link, a write.
		{Mnemonic: "Genrule", Argv: []string{"/bin/sh", "-e", "-c", "gcc -c x.c"}, Inputs: []string{"x.c"}},
		{Mnemonic: "CcLink", Argv: []string{"gcc", "-o", "app", "a.o"}, Inputs: []string{"a.o"}},
		{Mnemonic: "FileWrite", More: &graph.More{Content: []byte("x")}},
	}
	got := Entries(actions, "/home/me/src")
	want := []Entry{
		{Directory: "/home/me/src", File: "/home/me/src/lib/a.c", Arguments: argv("lib/a.c", "bld-out/lib/a.o"), Output: "/home/me/src/bld-out/lib/a.o"},
		{Directory: "/home/me/src", File: "/home/me/src/lib/b.c", Arguments: argv("lib/b.c", "bld-out/lib/p0.o"), Output: "/home/me/src/bld-out/lib/p0.o"},
		{Directory: "/home/me/src", File: "/home/me/src/lib/c.c", Arguments: argv("lib/c.c", "bld-out/lib/p0.o"), Output: "/home/me/src/bld-out/lib/p0.o"},
		{Directory: "/home/me/src", File: "/home/me/src/bld-out/app/version.c", Arguments: argv("bld-out/app/version.c", "bld-out/app/version.o"), Output: "/home/me/src/bld-out/app/version.o"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// The actions' argv are not changed.
	if actions[1].Argv[len(actions[1].Argv)-3] != "bld-out/lib/_objs/lib/partition_c_0.c" {
		t.Error("Entries modified an action's argv")
	}
}
