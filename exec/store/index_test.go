package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rawIndex returns an index file with header header for a pack of size
// size holding recs in their order, with a valid checksum.
func rawIndex(header string, size int64, recs []indexRec) []byte {
	b := []byte(header)
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = append(b, r.key[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.off))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.n))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.used))
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// packRecords returns the records of the pack file p, in their order.
func packRecords(t *testing.T, p string) []indexRec {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []indexRec
	if _, err := scanPack(f, 0, true, func(r indexRec, _ []byte) { recs = append(recs, r) }, nil); err != nil {
		t.Fatal(err)
	}
	return recs
}

// indexedPack returns the one pack s opened, after a lookup.
func indexedPack(t *testing.T, s *Store) *packFile {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.packs.packs) != 1 {
		t.Fatalf("the Store opened %d packs, want 1", len(s.packs.packs))
	}
	for _, p := range s.packs.packs {
		return p
	}
	return nil
}

// A sealed pack's index holds the most recent record of each key, sorted
// by key; a Store looks its records up there, without reading them into
// its index in memory.
func TestIndexSortedNewest(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1e9, 0)
	w := openStore(t, dir, Options{})
	w.now = func() time.Time { return now }
	keys := someResults(t, w, 20, 10)
	now = now.Add(2 * TouchInterval)
	for _, k := range keys[:5] {
		w.MarkUsed(k, time.Unix(1e9, 0)) // appended again, used now
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pack := packFiles(t, dir)[0]
	fi, _ := os.Stat(pack)
	recs := packRecords(t, pack)
	if len(recs) != 25 {
		t.Fatalf("%d records in the pack, want 25", len(recs))
	}
	newest := map[[32]byte]indexRec{}
	for _, r := range recs {
		if r.used >= newest[r.key].used {
			newest[r.key] = r
		}
	}
	var want []indexRec
	for _, r := range newest {
		want = append(want, r)
	}
	sort.Slice(want, func(i, j int) bool { return bytes.Compare(want[i].key[:], want[j].key[:]) < 0 })
	data, err := os.ReadFile(strings.TrimSuffix(pack, packExt) + indexExt)
	if err != nil {
		t.Fatal(err)
	}
	if got := rawIndex(indexHeader, fi.Size(), want); !bytes.Equal(data, got) {
		t.Errorf("index:\n%x\nwant (sorted, newest of each key):\n%x", data, got)
	}

	r := openStore(t, dir, Options{})
	for i, k := range keys {
		e, err := r.GetEntry(k)
		wantUsed := time.Unix(1e9, 0)
		if i < 5 {
			wantUsed = now
		}
		if err != nil || !e.Used.Equal(wantUsed) {
			t.Errorf("entry %d: used %v, %v; want used %v", i, e.Used, err, wantUsed)
		}
	}
	if _, err := r.GetEntry(keyOf("not stored")); !errors.Is(err, ErrMissing) {
		t.Errorf("a key not stored: %v, want ErrMissing", err)
	}
	if p := indexedPack(t, r); p.idx == nil || len(r.packs.index) != 0 {
		t.Errorf("the sealed pack was not looked up in its index: idx %v, %d records in memory", p.idx, len(r.packs.index))
	}
}

// An index this version cannot use (an older version's; entries out of
// order) is ignored: the pack is scanned and every entry read. RecordBuild
// writes an older version's index again.
func TestIndexNotUsable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		header    string
		reverse   bool
		rewritten bool
	}{
		{"version 1", "bld-pack-index-1\n", false, true},
		{"unsorted", indexHeader, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openStore(t, dir, Options{})
			keys := someResults(t, w, 10, 10)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			pack := packFiles(t, dir)[0]
			idx := strings.TrimSuffix(pack, packExt) + indexExt
			fi, _ := os.Stat(pack)
			recs := packRecords(t, pack)
			sort.Slice(recs, func(i, j int) bool {
				return (bytes.Compare(recs[i].key[:], recs[j].key[:]) < 0) != tc.reverse
			})
			if err := os.WriteFile(idx, rawIndex(tc.header, fi.Size(), recs), 0o644); err != nil {
				t.Fatal(err)
			}
			r := openStore(t, dir, Options{})
			for i, k := range keys {
				if _, err := r.GetEntry(k); err != nil {
					t.Errorf("entry %d: %v", i, err)
				}
			}
			if p := indexedPack(t, r); p.idx != nil {
				t.Errorf("the index was used")
			}
			if err := r.RecordBuild(0, 1); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(idx)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.HasPrefix(data, []byte(indexHeader)) && !tc.reverse; got != tc.rewritten {
				t.Errorf("index after RecordBuild starts %q, rewritten %v, want %v", data[:len(indexHeader)], got, tc.rewritten)
			}
		})
	}
}

// A large index is not read into memory but sampled, and searched a block
// at a time: every key is found, keys between, before and after them are
// not; an index changed in place after it was opened (truncated) makes
// misses, not failures.
func TestIndexLarge(t *testing.T) {
	dir := t.TempDir()
	w := openStore(t, dir, Options{})
	n := indexInMemory/indexEntry + 3*indexStride + 5
	var keys []string
	for i := range n {
		k := keyOf(fmt.Sprint("large ", i))
		if err := w.PutEntry(k, []byte(fmt.Sprint("payload ", i)), nil); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir, Options{})
	if _, err := r.GetEntry(keyOf("missing")); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing key: %v", err)
	}
	p := indexedPack(t, r)
	if p.idx == nil || p.idx.entries != nil || p.idx.count != n || len(p.idx.sample) != (n+indexStride-1)/indexStride {
		t.Fatalf("the index of %d records was not sampled: %+v", n, p.idx)
	}
	var got []string
	for i, k := range keys {
		e, err := r.GetEntry(k)
		if err != nil {
			t.Errorf("entry %d: %v", i, err)
			continue
		}
		got = append(got, string(e.Payload))
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint("payload ", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
	for _, k := range []string{"0000000000000000000000000000000000000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"} {
		if _, err := r.GetEntry(k); !errors.Is(err, ErrMissing) {
			t.Errorf("key %s: %v, want ErrMissing", k, err)
		}
	}
	for i := range 100 {
		if _, err := r.GetEntry(keyOf(fmt.Sprint("not stored ", i))); !errors.Is(err, ErrMissing) {
			t.Errorf("a key not stored: %v, want ErrMissing", err)
		}
	}
	idx := filepath.Join(dir, packDir, p.name+indexExt)
	if err := os.Truncate(idx, int64(indexHead)); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys[n-10:] {
		if e, err := r.GetEntry(k); err == nil && string(e.Payload) != want[n-10+i] || err != nil && !errors.Is(err, ErrMissing) {
			t.Errorf("entry %d after its index was truncated: %q, %v; want it or ErrMissing", n-10+i, e.Payload, err)
		}
	}
}
