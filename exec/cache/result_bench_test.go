package cache

import (
	"bytes"
	"fmt"
	"testing"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// BenchmarkResult is what the cache does with the result of each action
// it stores (the encoding) and restores (the decoding): a result of n
// outputs, half of them inlined, and an inlined output log.
func BenchmarkResult(b *testing.B) {
	for _, n := range []int{1, 10} {
		r := &actionResult{StdoutRaw: []byte("warning: unused variable\n")}
		r.StdoutDigest = digest.OfBytes(r.StdoutRaw)
		for i := range n {
			of := outputFile{Path: fmt.Sprintf("bld-out/src/pkg/file%d.o", i), Digest: digest.OfBytes([]byte{byte(i)}), IsExecutable: i == 0}
			if i%2 == 0 {
				of.Contents = bytes.Repeat([]byte{byte(i)}, 2000)
				of.Digest = digest.OfBytes(of.Contents)
			}
			r.OutputFiles = append(r.OutputFiles, of)
		}
		b.Run(fmt.Sprintf("outputs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				payload, err := reapi.Marshal(r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := decodeResult(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
