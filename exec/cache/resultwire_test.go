package cache

import (
	"bytes"
	"strings"
	"testing"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// appendResult makes the bytes reapi.Marshal makes of the same result,
// which decode back to it.
func TestAppendResultIsMarshal(t *testing.T) {
	small := []byte("t00500\n")
	big := bytes.Repeat([]byte("x"), 300)
	results := []*actionResult{
		{},
		{OutputFiles: []outputFile{{Path: "bld-out/p/a.txt", Digest: digest.OfBytes(small), Contents: small}}},
		{OutputFiles: []outputFile{
			{Path: "bld-out/p/empty", Digest: digest.Empty},
			{Path: "bld-out/p/" + strings.Repeat("long/", 40) + "x", Digest: digest.OfBytes(big), IsExecutable: true, Contents: big},
			{Path: "bld-out/p/blob", Digest: digest.Digest{Hash: digest.OfBytes(big).Hash, Size: 1 << 40}, IsExecutable: true},
			{Path: "", Digest: digest.Digest{}},
		}},
		{StdoutDigest: digest.OfBytes(small), StdoutRaw: small},
		{OutputFiles: []outputFile{{Path: "o", Digest: digest.OfBytes(small), Contents: small}}, StdoutDigest: digest.OfBytes(big)},
		{StdoutDigest: digest.OfBytes(big), StdoutRaw: big},
	}
	for i, r := range results {
		want, err := reapi.Marshal(r.proto())
		if err != nil {
			t.Fatal(err)
		}
		got := appendResult([]byte("prefix"), r)
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("result %d: appendResult = %x\nwant %x", i, got[len("prefix"):], want)
		}
		if _, err := decodeResult(got[len("prefix"):]); err != nil && i != 2 { // result 2 has an empty hash
			t.Errorf("result %d does not decode: %v", i, err)
		}
	}
}
