package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchStore writes, in dir, a store of n packed records as maintenance
// leaves it: one merged pack of all but 15*1000 of them and 15 packs of
// a build each (1000 records), all sealed with their index. The records of
// the large pack past its first 1000 are a hole in the file (lookups that
// miss never read them), so that the store costs little disk. It returns
// keys of readable records.
func benchStore(b *testing.B, dir string, n int) []string {
	b.Helper()
	if err := os.MkdirAll(filepath.Join(dir, packDir), 0o777); err != nil {
		b.Fatal(err)
	}
	s := openStore(b, dir, Options{})
	body := encodeEntryBody([]byte("a result of about a hundred bytes: exit code, output digests and sizes, ......"), nil)
	var hits []string
	write := func(name string, from, count, real int) {
		var recs []indexRec
		buf := []byte(packHeader)
		off := int64(len(packHeader))
		for i := from; i < from+count; i++ {
			var k [32]byte
			k = sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i)))
			rec := encodeRecord(k, 1, body)
			if i-from < real {
				buf = append(buf, rec...)
				if i%100 == 0 {
					hits = append(hits, hex.EncodeToString(k[:]))
				}
			}
			recs = append(recs, indexRec{key: k, off: off, n: int64(len(rec)), used: 1})
			off += int64(len(rec))
		}
		if err := os.WriteFile(s.packPath(name), buf, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Truncate(s.packPath(name), off); err != nil {
			b.Fatal(err)
		}
		if err := s.writeIndex(name, off, recs); err != nil {
			b.Fatal(err)
		}
	}
	const small = 15
	write("1-merged", 0, n-small*1000, 1000)
	for i := range small {
		write(fmt.Sprint("2-build", i), n-(small-i)*1000, 1000, 1000)
	}
	return hits
}

// BenchmarkPackLookup1M looks entries up in a store of a million packed
// records: the first lookup of a Store, a miss (as in every build that
// runs an action), then misses and hits in a Store that has looked up
// before.
func BenchmarkPackLookup1M(b *testing.B) {
	dir := b.TempDir()
	hits := benchStore(b, dir, 1<<20)
	b.Run("first-miss", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			s := openStore(b, dir, Options{})
			if _, err := s.GetEntry(keyOf(fmt.Sprint("missing ", i))); err != ErrMissing {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	s := openStore(b, dir, Options{})
	defer s.Close()
	s.GetEntry(keyOf("warm up"))
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := s.GetEntry(keyOf(fmt.Sprint("missing ", i))); err != ErrMissing {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := s.GetEntry(hits[i%len(hits)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
