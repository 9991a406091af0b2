package reapi

import (
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"bld/exec/digest"
)

// FuzzUnmarshalActionResult: cached action results are read back from
// disk; decoding never panics; what protobuf decodes (into the generated
// type) decodes to the same fields; and what decodes re-encodes to the
// bytes protobuf makes of it, which decode to an equal result.
func FuzzUnmarshalActionResult(f *testing.F) {
	seed, err := Marshal(&ActionResult{
		OutputFiles: []OutputFile{{Path: "bld-out/a", Digest: digest.Digest{Hash: "ab", Size: 1}, Contents: []byte("a")}},
		ExitCode:    1,
		StdoutRaw:   []byte("x"),
		StderrRaw:   []byte("y"),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x4a, 2, 0x0a, 0, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalActionResult(data)
		var ref repb.ActionResult
		if proto.Unmarshal(data, &ref) == nil {
			if err != nil {
				t.Fatalf("%x: protobuf decodes it, UnmarshalActionResult: %v", data, err)
			}
			if want := fromProtoResult(&ref); !sameResult(want, r) {
				t.Fatalf("%x: decoded otherwise than by protobuf (-protobuf +got):\n%s", data, cmp.Diff(want, r, equateEmpty))
			}
		}
		if err != nil {
			return
		}
		b, err := Marshal(r)
		if err != nil {
			t.Fatalf("%x decodes but does not encode: %v", data, err)
		}
		if want := protoMarshal(t, protoResult(r)); string(b) != string(want) {
			t.Fatalf("%x: re-encoded as % x, protobuf: % x", data, b, want)
		}
		r2, err := UnmarshalActionResult(b)
		if err != nil {
			t.Fatalf("re-encoding of %x does not decode: %v", data, err)
		}
		if !sameResult(r, r2) {
			t.Fatalf("re-encoding of %x decodes to another result:\n%s", data, cmp.Diff(r, r2, equateEmpty))
		}
	})
}
