package snapshot

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

// FuzzLoad: any bytes in place of bld-out/.bld/analysis are either ignored
// or decode into a snapshot that bld can use as it does (Stale, then the
// action graph) without panicking, and that saves and loads back the same.
func FuzzLoad(f *testing.F) {
	root := f.TempDir()
	os.WriteFile(filepath.Join(root, "BUILD.star"), []byte("# empty\n"), 0o644)
	v := workspace.NewView(root)
	v.ReadFile("BUILD.star")
	v.IsFile("a.c")
	v.Glob("", []string{"*.c"}, nil)
	for _, s := range []*Snapshot{
		{Key: "k", Reads: v.Reads(), Env: map[string]EnvValue{"HOME": {Value: "/h", Set: true}},
			Actions: []*graph.Action{{Owner: "//:a", Mnemonic: "Genrule", Argv: []string{"sh", "-c", "x"}, Inputs: []string{"a.c"}, Outputs: []string{"bld-out/a"}}},
			Goals:   []string{"bld-out/a"},
			Index: NewIndex([]Package{{Path: "", Files: []string{"BUILD.star"}, Roots: []string{"a"}}},
				[]Target{{Label: label.Label{Name: "a"}, Actions: 1, Goals: []string{"bld-out/a"}}}, []string{"bld-out/a"}),
			Links: &Links{Edges: []int32{-1}, Goals: []int32{0}}},
		{Key: "k", Reads: &workspace.Reads{}},
		{Key: "other"},
	} {
		data, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if s.Index == nil {
			continue
		}
		// The same snapshot, patched (SaveNext).
		path := filepath.Join(f.TempDir(), "analysis")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			f.Fatal(err)
		}
		l, err := Open(path, s.Key)
		if err != nil || l == nil {
			f.Fatalf("Open = %v, %v", l, err)
		}
		upd := ReadsUpdate{Diff: &workspace.Diff{Files: map[string]string{"BUILD.star": "d2"}}, Fresh: &workspace.Reads{Exists: map[string]bool{"b.c": true}}}
		if err := l.SaveNext(path, next(l.Snapshot, 0, "y", 0, "bld-out/b", -1, nil), upd, true); err != nil {
			f.Fatal(err)
		}
		if data, err = os.ReadFile(path); err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte("not a snapshot"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "analysis")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path, "k")
		if err != nil || s == nil {
			return
		}
		s.Stale(root, func(string) (string, bool) { return "", false })
		s.Changes(root, func(string) (string, bool) { return "", false })
		if s.Index != nil {
			s.Reuse()
		}
		graph.New(s.Actions, func(string) bool { return true })
		if s.Links != nil {
			graph.FromEdges(s.Actions, s.Links.Edges) // whatever the edges, no panic
		}
		again := filepath.Join(dir, "again")
		if err := Save(again, s); err != nil {
			t.Fatalf("a decoded snapshot does not save: %v", err)
		}
		s2, err := Load(again, "k")
		if err != nil || s2 == nil {
			t.Fatalf("a decoded snapshot, saved, does not load: %v", err)
		}
		if diff := cmp.Diff(s, s2); diff != "" {
			t.Fatalf("snapshot changed through Save and Load (-first +second):\n%s", diff)
		}
	})
}

// FuzzSnapshotDecode: any body, behind a header whose length and checksum
// fit it (which FuzzLoad's random bytes rarely have), either fails to
// decode or decodes into a snapshot that encodes and decodes back the same.
func FuzzSnapshotDecode(f *testing.F) {
	for _, s := range []*Snapshot{
		{Key: "k", Reads: &workspace.Reads{Files: map[string]string{"BUILD.star": "d"}, Exists: map[string]bool{"a.c": true}},
			Env:     map[string]EnvValue{"HOME": {Value: "/h", Set: true}},
			Actions: []*graph.Action{{Owner: "//:a", Mnemonic: "Genrule", Argv: []string{"sh", "-c", "x"}, Inputs: []string{"a.c"}, Outputs: []string{"bld-out/a"}, More: &graph.More{ExecProperties: map[string]string{"k": "v"}, Content: []byte("c")}}},
			Goals:   []string{"bld-out/a"},
			Index: NewIndex([]Package{{Path: "", Files: []string{"BUILD.star"}, Roots: []string{"a"}}},
				[]Target{{Label: label.Label{Name: "a"}, Actions: 1, Goals: []string{"bld-out/a"}, Env: []string{"HOME"}}}, []string{"bld-out/a"}),
			Links: &Links{Edges: []int32{-1}, Goals: []int32{0}}},
		{},
	} {
		data, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[headerLen:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data := make([]byte, headerLen, headerLen+len(body))
		copy(data, fileMagic)
		binary.LittleEndian.PutUint64(data[len(fileMagic):], uint64(len(body)))
		binary.LittleEndian.PutUint32(data[len(fileMagic)+8:], crc32.ChecksumIEEE(body))
		data = append(data, body...)
		s, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(s)
		if err != nil {
			t.Fatalf("a decoded snapshot does not encode: %v", err)
		}
		s2, err := Decode(again)
		if err != nil {
			t.Fatalf("a decoded snapshot, encoded, does not decode: %v", err)
		}
		if diff := cmp.Diff(s, s2); diff != "" {
			t.Fatalf("snapshot changed through Encode and Decode (-first +second):\n%s", diff)
		}
		if s.Index != nil && s.Index.valid(len(s.Actions), len(s.Goals)) {
			s.Reuse()
		}
		if s.Links != nil {
			graph.FromEdges(s.Actions, s.Links.Edges) // whatever the edges, no panic
		}
	})
}
