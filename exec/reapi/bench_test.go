package reapi

import (
	"fmt"
	"testing"

	"bld/exec/digest"
)

// benchInputs returns n input files spread over directories of up to 16
// files, two levels deep, as a compile action's headers are.
func benchInputs(n int) []InputFile {
	files := make([]InputFile, n)
	for i := range files {
		p := fmt.Sprintf("src/pkg%d/sub%d/file%d.h", i/64, i/16%4, i)
		files[i] = InputFile{Path: p, Digest: digest.OfBytes([]byte(p)), IsExecutable: i%7 == 0}
	}
	return files
}

func BenchmarkMerkleRoot(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		files := benchInputs(n)
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := MerkleRoot(files, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkActionKey is what the cache does per action key: the Command,
// the input root of 100 files, the Action, and its digest.
func BenchmarkActionKey(b *testing.B) {
	files := benchInputs(100)
	argv := []string{"gcc", "-c", "-O2", "-Wall", "-Isrc", "-Ibld-out/src", "-o", "bld-out/src/a.o", "src/a.c", "-MD", "-MF", "bld-out/src/a.d"}
	env := []string{"LANG=C", "HOME=/nonexistent", "TMPDIR=/tmp", "SOURCE_DATE_EPOCH=0"}
	outs := []string{"bld-out/src/a.o", "bld-out/src/a.d"}
	salt := []byte("bld-key 2\ntool 0123456789012345678901234567890123456789012345678901234567890123/1000\nexecroot /bld/execroot\n")
	b.ReportAllocs()
	for b.Loop() {
		cmd, _, err := DigestOf(NewCommand(argv, env, outs))
		if err != nil {
			b.Fatal(err)
		}
		root, err := MerkleRoot(files, nil)
		if err != nil {
			b.Fatal(err)
		}
		act := &Action{CommandDigest: cmd, InputRootDigest: root, Salt: salt}
		if _, _, err := DigestOf(act); err != nil {
			b.Fatal(err)
		}
	}
}
