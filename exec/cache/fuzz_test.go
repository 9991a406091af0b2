package cache

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseManifest: a read-set manifest either fails to parse or
// round-trips.
func FuzzParseManifest(f *testing.F) {
	m := &manifest{}
	m.add([]string{"a.h", "/usr/include/stdio.h"})
	m.add(nil)
	f.Add(m.marshal())
	f.Add([]byte(manifestHeader + "a\n\nb\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		again, err := parseManifest(m.marshal())
		if err != nil || !cmp.Equal(m.sets, again.sets) {
			t.Fatalf("round trip of %q: %v, %v", data, again, err)
		}
	})
}

// FuzzParseFastRecord: the action record, read back from disk, never
// panics whatever the bytes (its checksum protects it from torn writes,
// not from a crafted file).
func FuzzParseFastRecord(f *testing.F) {
	want := map[string]*fastEntry{
		"bld-out/a.o": {key: "k", paths: []string{"a.h"}, stamps: []stamp{{size: 1, mtime: 2, ctime: 3, ino: 4, exec: true}, {size: 5}},
			unsettled: []unsettledStamp{{path: "bld-out/a.o", i: 1, hash: [32]byte{7}}}},
	}
	r := loadFastRecord(f.TempDir() + "/actions")
	for id, e := range want {
		r.set(id, e)
	}
	// What save writes, parse reads back.
	if err := r.save(nil); err != nil {
		f.Fatal(err)
	}
	back := loadFastRecord(r.file)
	got := map[string]*fastEntry{}
	back.each(func(id string, _ int, e *fastEntry) { got[id] = e })
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(fastEntry{}, stamp{}, unsettledStamp{})); diff != "" {
		f.Fatalf("record read back (-saved +read):\n%s", diff)
	}
	r.dirty.Store(true)
	if err := r.save(nil); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(r.file)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(actionsHeader))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseFastRecord(data)
	})
}
