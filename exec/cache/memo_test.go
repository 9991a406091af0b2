package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bld/exec/digest"
)

func TestMemoTrustsOnlyOldStamps(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second).Add(123456789)
	os.Chtimes(p, old, old)
	m := loadMemo(filepath.Join(root, "memo"))
	d, _, err := m.fileDigest("f", p)
	if err != nil || d != digest.OfBytes([]byte("one")) {
		t.Fatalf("fileDigest = %v, %v", d, err)
	}
	// An old, unchanged file is trusted: a planted digest comes back, so
	// the file was not read.
	fake := digest.OfBytes([]byte("two")) // the same size as "one", as a stamp vouches for
	e, ok := newMemoEntry(m.m["f"].st, fake, m.m["f"].hashedAt)
	if !ok {
		t.Fatal("newMemoEntry refused the digest of a blob")
	}
	m.m["f"] = e
	if d, _, _ := m.fileDigest("f", p); d != fake {
		t.Errorf("non-racy entry was not trusted")
	}
	// Persisted and reloaded, it still is.
	m.dirty = true
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	m2 := loadMemo(filepath.Join(root, "memo"))
	if d, _, _ := m2.fileDigest("f", p); d.Hash != fake.Hash {
		t.Errorf("reloaded memo: %v, want the planted digest", d)
	}
	// A racy entry (modified within the granularity of its hashing) is
	// not trusted, even though the stat matches.
	e = m.m["f"]
	e.hashedAt = e.st.mtime + int64(racyWindow)/2
	m.m["f"] = e
	if d, _, _ := m.fileDigest("f", p); d == fake {
		t.Errorf("racy entry was trusted")
	}
	// A coarse (whole-second) timestamp widens the window.
	if !(memoEntry{st: stamp{mtime: int64(10 * time.Second)}, hashedAt: int64(11 * time.Second)}).racy() {
		t.Errorf("whole-second mtime 1s before hashing is not racy")
	}
	if (memoEntry{st: stamp{mtime: int64(10*time.Second) + 5}, hashedAt: int64(11 * time.Second)}).racy() {
		t.Errorf("ns mtime 1s before hashing is racy")
	}
	// A changed file is re-hashed.
	if err := os.WriteFile(p, []byte("two!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := m.fileDigest("f", p); d != digest.OfBytes([]byte("two!")) {
		t.Errorf("changed file: %v", d)
	}
}

// statStamp says what os.Stat and stampOf say, without a FileInfo.
func TestStatStamp(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("content"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link, dir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st, regular, err := statStamp(p)
		if err != nil || st != stampOf(fi) || regular != fi.Mode().IsRegular() {
			t.Errorf("statStamp(%s) = %+v, %v, %v; want %+v, %v", p, st, regular, err, stampOf(fi), fi.Mode().IsRegular())
		}
	}
	if _, _, err := statStamp(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("statStamp of a missing file: %v, want not exist", err)
	}
}

// TestMemoEntryDigest: an entry keeps a digest's hash as bytes, gives the
// same digest back, and vouches for that digest only (another hash, another
// size, a hash that is not hex); a digest whose hash is not a SHA-256's
// hex is not remembered at all.
func TestMemoEntryDigest(t *testing.T) {
	d := digest.OfBytes([]byte("content"))
	e, ok := newMemoEntry(stamp{size: d.Size}, d, 1)
	if !ok {
		t.Fatalf("newMemoEntry(%v) refused it", d)
	}
	if got := e.digest(); got != d {
		t.Errorf("digest() = %v, want %v", got, d)
	}
	if !e.has(d) {
		t.Errorf("has(%v) = false for its own digest", d)
	}
	other := digest.OfBytes([]byte("other"))
	for _, x := range []digest.Digest{
		other,
		{Hash: d.Hash, Size: d.Size + 1},
		{Hash: d.Hash[:62] + "zz", Size: d.Size},
		{Hash: d.Hash[:62], Size: d.Size},
		{Hash: strings.ToUpper(d.Hash), Size: d.Size}, // the same bytes, but no digest bld makes
		{},
	} {
		if e.has(x) {
			t.Errorf("has(%v) = true; the entry is of %v", x, d)
		}
	}
	for _, bad := range []digest.Digest{{Hash: "abc", Size: d.Size}, {Hash: strings.Repeat("g", 64), Size: d.Size}, {Hash: strings.ToUpper(d.Hash), Size: d.Size}, {Size: d.Size}} {
		if _, ok := newMemoEntry(stamp{size: d.Size}, bad, 1); ok {
			t.Errorf("newMemoEntry(%v) accepted a hash that is not a SHA-256's hex", bad)
		}
	}
	if _, ok := newMemoEntry(stamp{size: d.Size + 1}, d, 1); ok {
		t.Errorf("newMemoEntry accepted a digest of %d bytes for a file of %d", d.Size, d.Size+1)
	}
	m := loadMemo(filepath.Join(t.TempDir(), "memo"))
	m.rememberDigest("f", stamp{size: 1}, digest.Digest{Hash: "abc", Size: 1}, 1)
	m.rememberDigest("g", stamp{size: d.Size + 1}, d, 1)
	if _, ok := m.get("f"); ok {
		t.Errorf("the memo remembered a digest that is not a SHA-256's")
	}
	if _, ok := m.get("g"); ok {
		t.Errorf("the memo remembered a digest whose size is not the file's")
	}
	m.rememberDigest("h", stamp{size: d.Size}, d, 1)
	if e, ok := m.get("h"); !ok || e.digest() != d {
		t.Errorf("the memo did not remember %v: %+v, %v", d, e, ok)
	}
}

// An entry's exactness (a stamp taken where a change after a stat always
// moves the ctime) is saved and loaded with it: reloaded, the exact entry
// of a file hashed a moment after it was written is trusted without a
// read, the other one is racy. A file of the previous format (no exact
// field) is not read.
func TestMemoPersistsExact(t *testing.T) {
	root := t.TempDir()
	m := loadMemo(filepath.Join(root, "memo"))
	m.load()
	now := time.Now().UnixNano()
	fake := digest.OfBytes([]byte("abc"))
	for _, k := range []string{"exact", "racy"} {
		e, ok := newMemoEntry(stamp{size: 3, mtime: now, ctime: now, ino: 7}, fake, now+1)
		if !ok {
			t.Fatal("newMemoEntry refused the digest of a blob")
		}
		e.exact = k == "exact"
		m.remember(k, e)
	}
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	m2 := loadMemo(filepath.Join(root, "memo"))
	if e, ok := m2.get("exact"); !ok || !e.exact || e.racy() {
		t.Errorf("reloaded exact entry: %+v, %v; want exact, not racy", e, ok)
	}
	if e, ok := m2.get("racy"); !ok || e.exact || !e.racy() {
		t.Errorf("reloaded entry hashed a moment after its write: %+v, %v; want racy", e, ok)
	}
	old := "bld-filedigests 1\n" + fake.Hash + " 3 1 1 7 2 f\n"
	if err := os.WriteFile(filepath.Join(root, "old"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := len(readMemo(filepath.Join(root, "old"))); n != 0 {
		t.Errorf("a memo of the previous format gave %d entries", n)
	}
}
