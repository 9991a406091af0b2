package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
)

// bigSnapshot returns the sample snapshot with n more actions, whose
// strings (more than writeTo's chunk in all, some longer than it, many
// of them "", some repeated) exercise the string table's every path.
func bigSnapshot(t *testing.T, n int) *Snapshot {
	t.Helper()
	s := sampleSnapshot(t)
	for i := range n {
		out := fmt.Sprintf("bld-out/p%d/t%d.txt", i/100, i)
		cmd := "cat p/a.c > " + out + strings.Repeat(" ", i%300)
		if i == n/2 {
			cmd = strings.Repeat("x", 300<<10) // longer than a chunk
		}
		s.Actions = append(s.Actions, &graph.Action{
			Owner: fmt.Sprintf("//p%d:t%d", i/100, i), Mnemonic: "Genrule",
			Argv: []string{"/bin/sh", "-e", "-c", cmd}, Env: []string{"PATH=/bin"},
			Inputs: []string{"p/a.c"}, Outputs: []string{out},
		})
		s.Goals = append(s.Goals, out)
	}
	// Links to be kept, not a graph's: the codec does not read them.
	s.Links = &Links{Goals: []int32{}}
	for _, a := range s.Actions {
		for range a.AllInputs() {
			s.Links.Edges = append(s.Links.Edges, int32(len(s.Links.Edges)%3-1))
		}
	}
	for i := range min(3, len(s.Actions)) {
		s.Links.Goals = append(s.Links.Goals, int32(i))
	}
	return s
}

// TestSaveIsEncode checks that Head.Save writes the bytes Encode returns,
// and that they decode to the snapshot, for snapshots whose string table
// fits in one of writeTo's chunks and for one that takes many.
func TestSaveIsEncode(t *testing.T) {
	for _, n := range []int{0, 1, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := bigSnapshot(t, n)
			want, err := Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			h, err := EncodeHead(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "analysis")
			if err := h.Save(path, s.Reads, s.Index, s.Links); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Save wrote %d bytes, not the %d of Encode (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
			back, err := Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s, back, cmp.AllowUnexported(Index{})); diff != "" {
				t.Errorf("Save then Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestEncodingUnchanged pins the bytes of the sample snapshots: the
// encoder's shortcuts (the id of "" kept aside, the table written in
// pieces) must not change them. The digests are those of the encoder
// before the shortcuts; a change of the format changes fileMagic and
// these digests together (bldsnap7, with the actions' FieldsDigests;
// bldsnap8, the CRC-32 (IEEE) checksum: its bodies are bldsnap7's, byte
// for byte; bldsnap9, the Links).
func TestEncodingUnchanged(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bbd5b99523f44d885c2bc28627f6f91287794e62b4dada0479189343c74e9b86"},
		{5000, "3a297f03120049a3d747a49b3e3c347ad3bbf62a68721d358bc0cb96b0d8ae57"},
	} {
		b, err := Encode(bigSnapshot(t, tc.n))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != tc.want {
			t.Errorf("%d more actions: the encoding's SHA-256 is %s, want %s", tc.n, got, tc.want)
		}
	}
}

// BenchmarkSave compares the two ways to end an encoding at 100,000
// generated actions: Finish then WriteFile (the whole file in memory) and
// Save (the string table streamed to the file).
func BenchmarkSave(b *testing.B) {
	t := &testing.T{}
	s := bigSnapshot(t, 100000)
	path := filepath.Join(b.TempDir(), "analysis")
	for _, bc := range []struct {
		name string
		save func(h *Head) error
	}{
		{"Finish+WriteFile", func(h *Head) error { return WriteFile(path, h.Finish(s.Reads, s.Index, s.Links)) }},
		{"Save", func(h *Head) error { return h.Save(path, s.Reads, s.Index, s.Links) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				h, err := EncodeHead(s)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := bc.save(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEncoderChunks checks that an encoder keeps its fields and its
// string table in chunks of at most chunkSize bytes (so that they fit in
// the free pages of a fragmented heap, without growing it), and that a
// snapshot spread over many chunks, a file's content longer than a chunk
// among its fields, encodes as it decodes.
func TestEncoderChunks(t *testing.T) {
	s := bigSnapshot(t, 5000)
	content := bytes.Repeat([]byte("0123456789abcdef"), 3*chunkSize/16+5)
	s.Actions = append(s.Actions, &graph.Action{Owner: "//p:big", Mnemonic: "FileWrite",
		More: &graph.More{Content: content}, Outputs: []string{"bld-out/p/big"}})
	s.Goals = append(s.Goals, "bld-out/p/big")
	s.Links = nil
	h, err := EncodeHead(s)
	if err != nil {
		t.Fatal(err)
	}
	e := h.take(s.Reads, s.Index, s.Links)
	e.close()
	if len(e.chunks) < 10 || e.nstrs <= strChunk {
		t.Fatalf("%d chunks of fields, %d strings: the test should span many chunks", len(e.chunks), e.nstrs)
	}
	for i, c := range e.chunks {
		if cap(c) > chunkSize {
			t.Errorf("fields chunk %d has a capacity of %d bytes, more than %d", i, cap(c), chunkSize)
		}
	}
	for i, c := range e.strs {
		if cap(c) > strChunk {
			t.Errorf("string chunk %d has a capacity of %d strings, more than %d", i, cap(c), strChunk)
		}
	}
	back, err := Decode(e.finish(fileMagic))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back, cmp.AllowUnexported(Index{})); diff != "" {
		t.Errorf("Encode then Decode (-want +got):\n%s", diff)
	}
}
