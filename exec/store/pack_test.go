package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// storeFiles lists the files of the store under dir, relative, but for
// stats.json, stats.lock and the temporary directories.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if de.IsDir() && rel == tmpRoot {
			return fs.SkipDir
		}
		if !de.IsDir() && rel != "stats.json" && rel != "stats.lock" {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// packs returns the pack files in dir.
func packFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, packDir, "*"+packExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Small entries go to one pack per Store: no file per entry; a Store that
// wrote them reads them back, and so does another one, whether the pack
// is sealed or still being written.
func TestPackedEntries(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	var keys []string
	for i := range 50 {
		k := keyOf(fmt.Sprint("packed ", i))
		if err := s.PutEntry(k, []byte(fmt.Sprint("payload ", i)), nil); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	// A large entry is a file of its own.
	large := keyOf("large")
	big := strings.Repeat("x", DefaultPackMax+1)
	if err := s.PutEntry(large, []byte(big), nil); err != nil {
		t.Fatal(err)
	}
	files := storeFiles(t, dir)
	if len(files) != 2 || !strings.HasPrefix(files[0], filepath.Join(acDir, large[:2])) || !strings.HasSuffix(files[1], packExt) {
		t.Fatalf("store files after 50 small entries and a large one: %v, want one entry file and one pack", files)
	}
	check := func(what string, s *Store) {
		t.Helper()
		for i, k := range keys {
			e, err := s.GetEntry(k)
			if err != nil || string(e.Payload) != fmt.Sprint("payload ", i) || time.Since(e.Used) > time.Minute {
				t.Errorf("%s: GetEntry %d = %q %v, %v", what, i, e.Payload, e.Used, err)
			}
		}
		if e, err := s.GetEntry(large); err != nil || string(e.Payload) != big {
			t.Errorf("%s: large entry: %v", what, err)
		}
		if _, err := s.GetEntry(keyOf("unknown")); !errors.Is(err, ErrMissing) {
			t.Errorf("%s: unknown key: %v, want ErrMissing", what, err)
		}
	}
	check("the writer", s)
	other := openStore(t, dir, Options{})
	check("another Store, pack being written", other)

	// Entries added after the other Store indexed the pack are found:
	// a miss looks at the rest of the packs being written.
	late := keyOf("late")
	if err := s.PutEntry(late, []byte("late"), nil); err != nil {
		t.Fatal(err)
	}
	if e, err := other.GetEntry(late); err != nil || string(e.Payload) != "late" {
		t.Errorf("entry added later: %q, %v", e.Payload, err)
	}
	if err := s.RecordBuild(0, 51); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+indexExt)); len(m) != 1 {
		t.Errorf("indexes after RecordBuild: %v, want one", m)
	}
	check("a third Store, pack sealed", openStore(t, dir, Options{}))
	// A Store that writes entry files still reads the packs.
	check("a Store without packs", openStore(t, dir, Options{PackMax: -1}))
	// After sealing, the writer starts a new pack.
	if err := s.PutEntry(keyOf("next build"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := len(packFiles(t, dir)); got != 2 {
		t.Errorf("%d packs after a second build stored, want 2", got)
	}
	st, err := s.Stats()
	if err != nil || st.Entries != 53 || st.PackedEntries != 52 || st.Packs != 2 {
		t.Errorf("Stats = %+v, %v; want 53 entries, 52 packed in 2 packs", st, err)
	}
	if rep, err := s.Verify(); err != nil || !rep.OK() || rep.Entries != 53 {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// A pack's last record cut short (a writer killed mid-write, or still
// writing) is ignored, and what precedes it is read; a record that does not
// verify is a miss (ErrCorrupt), never its content; Verify drops it.
func TestPackDamage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, pack string, size int64)
		corrupt int // index of the key that must be ErrCorrupt, -1 none
		missing int // keys from this one on are missing, -1 none
	}{
		{"torn tail", func(t *testing.T, pack string, size int64) {
			f, err := os.OpenFile(pack, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			rec := encodeRecord([32]byte{1}, 1, []byte("0\nnever whole"))
			f.Write(rec[:len(rec)-3])
			f.Close()
		}, -1, -1},
		{"truncated", func(t *testing.T, pack string, size int64) {
			os.Truncate(pack, size-5)
		}, -1, 4},
		{"flipped payload", func(t *testing.T, pack string, size int64) {
			flipByte(t, pack, size-2)
		}, 4, -1},
		{"flipped length", func(t *testing.T, pack string, size int64) {
			// The third record's length, in a pack being written (no
			// index): the records after it are lost.
			os.Remove(strings.TrimSuffix(pack, packExt) + indexExt)
			flipByte(t, pack, int64(len(packHeader))+2*recordSizeOf(t)+5)
		}, -1, 2},
		{"garbage", func(t *testing.T, pack string, size int64) {
			os.WriteFile(pack, []byte("garbage"), 0o644)
		}, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openStore(t, dir, Options{})
			var keys []string
			for i := range 5 {
				k := keyOf(fmt.Sprint("entry ", i))
				if err := w.PutEntry(k, []byte(fmt.Sprintf("payload %d", i)), nil); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			w.Close()
			pack := packFiles(t, dir)[0]
			fi, _ := os.Stat(pack)
			tc.damage(t, pack, fi.Size())
			s := openStore(t, dir, Options{})
			for i, k := range keys {
				e, err := s.GetEntry(k)
				switch {
				case i == tc.corrupt:
					if !errors.Is(err, ErrCorrupt) {
						t.Errorf("entry %d: %q, %v, want ErrCorrupt", i, e.Payload, err)
					}
					if _, err := s.GetEntry(k); !errors.Is(err, ErrMissing) {
						t.Errorf("entry %d again: %v, want ErrMissing", i, err)
					}
				case tc.missing >= 0 && i >= tc.missing:
					if !errors.Is(err, ErrMissing) {
						t.Errorf("entry %d: %q, %v, want ErrMissing", i, e.Payload, err)
					}
				case err != nil || string(e.Payload) != fmt.Sprintf("payload %d", i):
					t.Errorf("entry %d: %q, %v", i, e.Payload, err)
				}
			}
			rep, err := s.Verify()
			if err != nil || (tc.corrupt >= 0) != (len(rep.BadEntries) > 0) {
				t.Errorf("Verify = %+v, %v", rep, err)
			}
			if rep, err := s.Verify(); err != nil || !rep.OK() {
				t.Errorf("second Verify = %+v, %v", rep, err)
			}
			// Verify rewrote the pack: what was readable still is, in a
			// fresh Store.
			s2 := openStore(t, dir, Options{})
			for i, k := range keys {
				_, err := s2.GetEntry(k)
				bad := i == tc.corrupt || tc.missing >= 0 && i >= tc.missing
				if bad != (err != nil) {
					t.Errorf("after Verify, entry %d: %v", i, err)
				}
			}
		})
	}
}

// recordSizeOf is the size of the records TestPackDamage writes (their
// payloads are all as long).
func recordSizeOf(t *testing.T) int64 {
	return int64(len(encodeRecord([32]byte{}, 0, encodeEntryBody([]byte("payload 0"), nil))))
}

// A damaged index is ignored: the pack is scanned instead.
func TestPackDamagedIndex(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	keys := someResults(t, s, 5, 10)
	if err := s.RecordBuild(0, 5); err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+indexExt))
	if len(idx) != 1 {
		t.Fatalf("indexes: %v", idx)
	}
	flipByte(t, idx[0], 40)
	r := openStore(t, dir, Options{})
	for _, k := range keys {
		if _, err := r.GetEntry(k); err != nil {
			t.Errorf("GetEntry with a damaged index: %v", err)
		}
	}
}

// Marking an entry used appends it again with the new use time; trimming
// drops the least recently used packed entries, and their blobs, and keeps
// the others.
func TestPackTrimAndRecency(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Add(-48 * time.Hour)
	s := openStore(t, dir, Options{MaxSize: -1})
	s.now = func() time.Time { return now }
	var keys []string
	for i := range 20 {
		now = now.Add(time.Minute)
		keys = append(keys, someResultsFrom(t, s, i))
	}
	// The oldest is used again, two hours later.
	now = now.Add(2 * time.Hour)
	e, err := s.GetEntry(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	s.MarkUsed(keys[0], e.Used)
	if e, err := s.GetEntry(keys[0]); err != nil || !e.Used.Equal(now) {
		t.Errorf("after MarkUsed: used %v, %v; want %v", e.Used, err, now)
	}
	// Marking it again does nothing: it is recent.
	fi, _ := os.Stat(packFiles(t, dir)[0])
	s.MarkUsed(keys[0], now)
	if fi2, _ := os.Stat(packFiles(t, dir)[0]); fi2.Size() != fi.Size() {
		t.Errorf("MarkUsed of a recent entry appended to the pack")
	}
	if err := s.RecordBuild(0, 0); err != nil {
		t.Fatal(err)
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
	if after.Size > bound || rep.After != after.Size || rep.RemovedEntries == 0 || rep.RemovedBlobs != rep.RemovedEntries {
		t.Errorf("Trim(%d): %+v; stats after %+v", bound, rep, after)
	}
	r := openStore(t, dir, Options{})
	if _, err := r.GetEntry(keys[0]); err != nil {
		t.Errorf("the entry used last was trimmed: %v", err)
	}
	if _, err := r.GetEntry(keys[1]); !errors.Is(err, ErrMissing) {
		t.Errorf("the least recently used entry: %v, want trimmed", err)
	}
	if e, err := r.GetEntry(keys[19]); err != nil {
		t.Errorf("a recent entry was trimmed: %v", err)
	} else if _, err := r.ReadBlob(e.Refs[0]); err != nil {
		t.Errorf("its blob: %v", err)
	}
	if got := len(packFiles(t, dir)); got != 1 {
		t.Errorf("%d packs after trim, want 1", got)
	}
	if rep, err := r.Verify(); err != nil || !rep.OK() || rep.Entries != after.Entries {
		t.Errorf("Verify after Trim: %+v, %v (stats %+v)", rep, err, after)
	}
}

// someResultsFrom stores result i as someResults does and returns its key.
func someResultsFrom(t *testing.T, s *Store, i int) string {
	k := keyOf(fmt.Sprint("action ", i))
	putResult(t, s, k, fmt.Sprintf("%d%0*d\n", i, 2000, 0))
	return k
}

// Past maxPacks sealed packs, RecordBuild merges them into one, dropping
// older records of a key; every entry is still read.
func TestPackMerge(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{}
	for b := range maxPacks + 2 {
		s := openStore(t, dir, Options{})
		for i := range 3 {
			k := keyOf(fmt.Sprint("build ", b, " entry ", i))
			if i == 0 {
				k = keyOf("shared") // every build stores it again
			}
			p := fmt.Sprint("from build ", b, " ", i)
			if err := s.PutEntry(k, []byte(p), nil); err != nil {
				t.Fatal(err)
			}
			want[k] = p
		}
		if err := s.RecordBuild(0, 3); err != nil {
			t.Fatal(err)
		}
		if n := len(packFiles(t, dir)); n > maxPacks+1 {
			t.Fatalf("build %d: %d packs", b, n)
		}
	}
	if n := len(packFiles(t, dir)); n >= maxPacks {
		t.Errorf("%d packs after %d builds, want them merged", n, maxPacks+2)
	}
	r := openStore(t, dir, Options{})
	got := map[string]string{}
	for k := range want {
		e, err := r.GetEntry(k)
		if err != nil {
			t.Errorf("GetEntry: %v", err)
		}
		got[k] = string(e.Payload)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries after merge (-want +got):\n%s", diff)
	}
	st, err := r.Stats()
	if err != nil || st.PackedEntries != len(want) {
		t.Errorf("Stats: %+v, %v; want %d entries", st, err, len(want))
	}
}

// A pack being written is never merged, trimmed or rewritten by another
// process's maintenance.
func TestPackBeingWrittenIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	w := openStore(t, dir, Options{})
	k := keyOf("being written")
	if err := w.PutEntry(k, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	m := openStore(t, dir, Options{})
	if _, err := m.Trim(0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	if e, err := openStore(t, dir, Options{}).GetEntry(k); err != nil || string(e.Payload) != "x" {
		t.Errorf("entry of a pack being written after Trim(0): %q, %v", e.Payload, err)
	}
}

// A writer killed with SIGKILL while it appends leaves a store that the
// next Store reads: every entry it read back before the kill is there,
// and RecordBuild indexes the abandoned pack.
func TestPackKilledWriter(t *testing.T) {
	if os.Getenv("BLD_PACK_WRITER_DIR") != "" {
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPackWriterProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "BLD_PACK_WRITER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until it has stored some entries, then kill it.
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "stored 200") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("writer: %v: %s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s := openStore(t, dir, Options{})
	n := 0
	for i := 0; ; i++ {
		e, err := s.GetEntry(keyOf(fmt.Sprint("killed ", i)))
		if errors.Is(err, ErrMissing) {
			break
		}
		if err != nil || string(e.Payload) != strings.Repeat(strconv.Itoa(i), 100) {
			t.Fatalf("entry %d: %.20q, %v", i, e.Payload, err)
		}
		n++
	}
	if n < 200 {
		t.Errorf("%d entries readable after the kill, want at least the 200 stored", n)
	}
	if err := s.PutEntry(keyOf("after"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordBuild(0, 1); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, packDir, "*"+indexExt)); len(m) != 2 {
		t.Errorf("indexes after RecordBuild: %v, want the abandoned pack's and the new one's", m)
	}
	if rep, err := s.Verify(); err != nil || !rep.OK() || rep.Entries != n+1 {
		t.Errorf("Verify: %+v, %v; want %d entries", rep, err, n+1)
	}
}

func TestPackWriterProcess(t *testing.T) {
	dir := os.Getenv("BLD_PACK_WRITER_DIR")
	if dir == "" {
		t.Skip("run by TestPackKilledWriter")
	}
	s := openStore(t, dir, Options{})
	for i := 0; ; i++ {
		if err := s.PutEntry(keyOf(fmt.Sprint("killed ", i)), []byte(strings.Repeat(strconv.Itoa(i), 100)), nil); err != nil {
			t.Fatal(err)
		}
		if i == 200 {
			fmt.Println("stored 200")
		}
	}
}

// A damaged record a Store found is dropped by its RecordBuild: the store
// is clean again without a Verify.
func TestPackDamagedRecordDroppedByRecordBuild(t *testing.T) {
	dir := t.TempDir()
	w := openStore(t, dir, Options{})
	good, bad := keyOf("good"), keyOf("bad")
	w.PutEntry(good, []byte("good payload"), nil)
	w.PutEntry(bad, []byte("bad payload"), nil)
	if err := w.RecordBuild(0, 2); err != nil {
		t.Fatal(err)
	}
	pack := packFiles(t, dir)[0]
	fi, _ := os.Stat(pack)
	flipByte(t, pack, fi.Size()-2) // in the last record, bad's
	s := openStore(t, dir, Options{})
	if _, err := s.GetEntry(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetEntry of the damaged record: %v, want ErrCorrupt", err)
	}
	if err := s.RecordBuild(0, 1); err != nil {
		t.Fatal(err)
	}
	if got := packFiles(t, dir); len(got) != 1 || got[0] == pack {
		t.Errorf("packs after RecordBuild: %v, want one rewritten", got)
	}
	r := openStore(t, dir, Options{})
	if e, err := r.GetEntry(good); err != nil || string(e.Payload) != "good payload" {
		t.Errorf("good entry: %q, %v", e.Payload, err)
	}
	if rep, err := r.Verify(); err != nil || !rep.OK() || rep.Entries != 1 {
		t.Errorf("Verify = %+v, %v; want 1 good entry", rep, err)
	}
}
