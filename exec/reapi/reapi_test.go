package reapi

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/digest"
)

func TestCommandEncoding(t *testing.T) {
	c := NewCommand([]string{"a", ""}, []string{"X=", "A-B=1"}, []string{"p", "o"})
	want := []byte{
		0x0a, 1, 'a', // arguments
		0x0a, 0, // an empty argument is still present
		0x12, 8, 0x0a, 3, 'A', '-', 'B', 0x12, 1, '1', // env, sorted by name
		0x12, 3, 0x0a, 1, 'X', // empty value omitted
		0x3a, 1, 'o', 0x3a, 1, 'p', // output_paths (7), sorted
	}
	if got := c.Marshal(); !bytes.Equal(got, want) {
		t.Errorf("Command encoding\n got % x\nwant % x", got, want)
	}
}

func TestActionEncoding(t *testing.T) {
	d := digest.Digest{Hash: "ab", Size: 300}
	a := &Action{CommandDigest: d, InputRootDigest: digest.Digest{Hash: "c"}, DoNotCache: true, Salt: []byte("s"),
		Platform: &Platform{Properties: []Property{{"OSFamily", "linux"}}}}
	want := []byte{
		0x0a, 7, 0x0a, 2, 'a', 'b', 0x10, 0xac, 0x02, // command_digest; size 300 as a varint
		0x12, 3, 0x0a, 1, 'c', // input_root_digest; size 0 omitted
		0x38, 1, // do_not_cache (7)
		0x4a, 1, 's', // salt (9)
		0x52, 19, 0x0a, 17, 0x0a, 8, 'O', 'S', 'F', 'a', 'm', 'i', 'l', 'y', 0x12, 5, 'l', 'i', 'n', 'u', 'x', // platform (10)
	}
	if got := a.Marshal(); !bytes.Equal(got, want) {
		t.Errorf("Action encoding\n got % x\nwant % x", got, want)
	}
}

func TestActionResultRoundTrip(t *testing.T) {
	r := &ActionResult{
		OutputFiles: []OutputFile{
			{Path: "bld-out/a", Digest: digest.OfBytes([]byte("a")), IsExecutable: true},
			{Path: "bld-out/b", Digest: digest.Empty},
		},
		ExitCode:     -1,
		StdoutDigest: digest.OfBytes([]byte("out")),
	}
	b := r.Marshal()
	got, err := UnmarshalActionResult(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Unknown fields (execution_metadata, 9; a fixed64) are skipped.
	b = append(b, 0x4a, 2, 0x0a, 0, 0x59, 1, 2, 3, 4, 5, 6, 7, 8)
	if got, err := UnmarshalActionResult(b); err != nil || !cmp.Equal(r, got) {
		t.Errorf("with unknown fields: %v, %v", got, err)
	}
	if _, err := UnmarshalActionResult(b[:len(b)-3]); err == nil {
		t.Errorf("truncated message decoded")
	}
}

func TestMerkleRoot(t *testing.T) {
	empty, err := MerkleRoot(nil, nil)
	if err != nil || empty != digest.Empty {
		t.Errorf("empty tree: %v, %v; want %v", empty, err, digest.Empty)
	}
	fa, fb := digest.OfBytes([]byte("a")), digest.OfBytes([]byte("b"))
	var emitted int
	got, err := MerkleRoot([]InputFile{{Path: "x/b", Digest: fb}, {Path: "a", Digest: fa, IsExecutable: true}},
		func(digest.Digest, []byte) { emitted++ })
	if err != nil {
		t.Fatal(err)
	}
	sub := (&Directory{Files: []FileNode{{Name: "b", Digest: fb}}}).Marshal()
	root := &Directory{
		Files:       []FileNode{{Name: "a", Digest: fa, IsExecutable: true}},
		Directories: []DirectoryNode{{Name: "x", Digest: digest.OfBytes(sub)}},
	}
	if want := digest.OfBytes(root.Marshal()); got != want || emitted != 2 {
		t.Errorf("MerkleRoot = %v (%d emitted), want %v (2)", got, emitted, want)
	}
	for _, bad := range [][]InputFile{
		{{Path: "/abs"}}, {{Path: "../up"}}, {{Path: "a//b"}}, {{Path: "a"}, {Path: "a/b"}},
		{{Path: "a", Digest: fa}, {Path: "a", Digest: fb}},
	} {
		if _, err := MerkleRoot(bad, nil); err == nil {
			t.Errorf("MerkleRoot(%v) succeeded", bad)
		}
	}
}
