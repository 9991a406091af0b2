package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTrimRespectsBound(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{MaxSize: -1, PackMax: -1})
	keys := someResults(t, s, 20, 10000)
	// Make entry i used at time base+i, so the oldest are the first.
	base := time.Now().Add(-48 * time.Hour)
	for i, k := range keys {
		tm := base.Add(time.Duration(i) * time.Minute)
		os.Chtimes(s.entryPath(k), tm, tm)
	}
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	bound := before.Size / 2
	rep, err := s.Trim(bound)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.Size > bound || rep.After != after.Size || rep.Before != before.Size {
		t.Errorf("after Trim(%d): size %d, report %+v", bound, after.Size, rep)
	}
	if after.Entries == 0 || after.Entries >= len(keys) || rep.RemovedEntries != len(keys)-after.Entries {
		t.Errorf("after Trim: %d entries of %d, report %+v", after.Entries, len(keys), rep)
	}
	// The most recently used survive, with their blobs; the least
	// recently used are gone, with theirs.
	if e, err := s.GetEntry(keys[len(keys)-1]); err != nil {
		t.Errorf("most recent entry trimmed: %v", err)
	} else if _, err := s.ReadBlob(e.Refs[0]); err != nil {
		t.Errorf("blob of the most recent entry: %v", err)
	}
	if _, err := os.Stat(s.entryPath(keys[0])); err == nil {
		t.Errorf("least recent entry kept")
	}
	if after.Blobs != after.Entries || rep.RemovedBlobs != rep.RemovedEntries {
		t.Errorf("after Trim: %d blobs for %d entries, report %+v", after.Blobs, after.Entries, rep)
	}
	if rep, err := s.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify after Trim: %+v, %v", rep, err)
	}
}

// A blob no entry refers to goes by its own use time.
func TestTrimUnreferencedBlob(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{MaxSize: -1})
	keys := someResults(t, s, 2, 1000)
	orphan, err := s.PutBytes(make([]byte, 5000))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(s.blobPath(orphan.Hash), old, old)
	st, _ := s.Stats()
	rep, err := s.Trim(st.Size - 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.RemovedBlobs != 1 || rep.RemovedEntries != 0 {
		t.Errorf("Trim: %+v, want the orphan blob alone removed", rep)
	}
	for _, k := range keys {
		if _, err := s.GetEntry(k); err != nil {
			t.Errorf("entry %s: %v", k, err)
		}
	}
}

func TestRecordBuild(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxSize: -1})
	if err := s.RecordBuild(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stats.json")); !os.IsNotExist(err) {
		t.Errorf("an idle build was recorded")
	}
	someResults(t, s, 3, 100)
	if err := s.RecordBuild(1, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordBuild(3, 0); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Builds) != 2 {
		t.Fatalf("recorded %d builds, want 2: %+v", len(st.Builds), st.Builds)
	}
	if b := st.Builds[0]; b.Hits != 1 || b.Misses != 3 || b.Stored <= 300 || b.Stored > st.Size {
		t.Errorf("first build %+v, want 1 hit, 3 misses, the bytes stored (of %d)", b, st.Size)
	}
	if b := st.Builds[1]; b.Hits != 3 || b.Misses != 0 || b.Stored != 0 {
		t.Errorf("second build %+v, want 3 hits and nothing stored", b)
	}
}

func TestRecordBuildTrims(t *testing.T) {
	const max = 60000
	s := openStore(t, t.TempDir(), Options{MaxSize: max})
	someResults(t, s, 20, 10000)
	if err := s.RecordBuild(0, 20); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size > max/10*9 || st.Entries == 0 {
		t.Errorf("after RecordBuild with MaxSize %d: size %d, %d entries", max, st.Size, st.Entries)
	}
}

func TestVerifyFindsFlippedByte(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{PackMax: -1})
	keys := someResults(t, s, 4, 100)
	if rep, err := s.Verify(); err != nil || !rep.OK() || rep.Blobs != 4 || rep.Entries != 4 {
		t.Fatalf("Verify of a good store: %+v, %v", rep, err)
	}
	e, err := s.GetEntry(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := e.Refs[0].Hash
	flipByte(t, s.blobPath(bad), 3)
	flipByte(t, s.entryPath(keys[1]), 100)
	rep, err := s.Verify()
	if err != nil {
		t.Fatal(err)
	}
	want := VerifyReport{Blobs: 4, Entries: 4, BadBlobs: []string{bad}, BadEntries: []string{keys[1]}, DanglingEntries: []string{keys[0]}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("Verify (-want +got):\n%s", diff)
	}
	for _, p := range []string{s.blobPath(bad), s.entryPath(keys[0]), s.entryPath(keys[1])} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not removed", p)
		}
	}
	if rep, err := s.Verify(); err != nil || !rep.OK() {
		t.Errorf("second Verify: %+v, %v", rep, err)
	}
}

// Temporary files abandoned by a killed writer are removed once old.
func TestScanRemovesAbandonedTemporaries(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	stale := filepath.Join(dir, "cas", "ab", tmpPrefix+"1")
	fresh := filepath.Join(dir, "ac", tmpPrefix+"2")
	writeFile(t, stale, "half a blob", 0o644)
	writeFile(t, fresh, "being written", 0o644)
	old := time.Now().Add(-2 * tmpMaxAge)
	os.Chtimes(stale, old, old)
	if _, err := s.Stats(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("abandoned temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("temporary file being written removed: %v", err)
	}
}
