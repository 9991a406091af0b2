package reapi

import (
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"
)

// FuzzUnmarshalActionResult: cached action results are read back from
// disk; decoding never panics, and what decodes re-encodes to bytes that
// decode to an equal message.
func FuzzUnmarshalActionResult(f *testing.F) {
	seed, err := Marshal(&repb.ActionResult{
		OutputFiles: []*repb.OutputFile{{Path: "bld-out/a", Digest: &repb.Digest{Hash: "ab", SizeBytes: 1}, Contents: []byte("a")}},
		ExitCode:    1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalActionResult(data)
		if err != nil {
			return
		}
		b, err := Marshal(r)
		if err != nil {
			t.Fatalf("%x decodes but does not encode: %v", data, err)
		}
		r2, err := UnmarshalActionResult(b)
		if err != nil {
			t.Fatalf("re-encoding of %x does not decode: %v", data, err)
		}
		if !proto.Equal(r, r2) {
			t.Fatalf("re-encoding of %x decodes to another message", data)
		}
	})
}
