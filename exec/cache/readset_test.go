package cache

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
)

func TestReadSetOf(t *testing.T) {
	a := &graph.Action{
		Inputs:  []string{"src/a.c"},
		More:    &graph.More{Depfile: "bld-out/a.d", Discoverable: []string{"inc/b.h", "src/a.h", "src/unused.h"}},
		Outputs: []string{"bld-out/a.d", "bld-out/a.o"},
	}
	data := []byte("bld-out/a.o: src/a.c ./src/a.h \\\n" +
		" /tmp/bld-sandbox/execroot/inc/b.h /ws/root/src/a.h /usr/include/stdio.h \\\n" +
		" src/undeclared.h src/gone.h ../elsewhere/x.h\n" +
		"src/a.h:\n")
	exists := func(rel string) bool { return rel == "src/undeclared.h" }
	got, err := readSetOf("/ws/root", a, data, exists)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/include/stdio.h", "/ws/elsewhere/x.h", "inc/b.h", "src/a.h", "src/undeclared.h"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readSetOf (-want +got):\n%s", diff)
	}
	if _, err := readSetOf("/ws/root", a, []byte("no colon here\n"), exists); err == nil {
		t.Errorf("a malformed depfile was accepted")
	}
}

func TestManifest(t *testing.T) {
	m := &manifest{}
	for i := 0; i < maxReadSets+3; i++ {
		m.add([]string{"a.h", string(rune('b'+i)) + ".h"})
	}
	m.add([]string{"a.h", "d.h"}) // seen before: moves to the front, once
	m.add(nil)                    // an action that read nothing else
	got, err := parseManifest(m.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.sets, got.sets); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if len(got.sets) != maxReadSets || got.sets[0] != nil || got.sets[1][1] != "d.h" {
		t.Errorf("sets = %q, want %d sets, newest first", got.sets, maxReadSets)
	}
	count := 0
	for _, s := range got.sets {
		if len(s) == 2 && s[1] == "d.h" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("d.h's set appears %d times", count)
	}
	for _, bad := range []string{"", "bld-readsets 2\n", manifestHeader + "a.h\n", manifestHeader + "a.h"} {
		if _, err := parseManifest([]byte(bad)); err == nil {
			t.Errorf("parseManifest(%q) succeeded", bad)
		}
	}
}
