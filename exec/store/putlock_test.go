package store

import (
	"bld/exec/digest"
	"errors"
	"testing"
	"time"
)

// A blob stored (or found) for an entry, then trimmed before the entry is
// written: the entry is declined, not left referring to nothing.
func TestPutEntryAfterItsBlobWasTrimmed(t *testing.T) {
	for _, packMax := range []int64{0, -1} { // packed, and an entry file
		dir := t.TempDir()
		writer := openStore(t, dir, Options{MaxSize: -1, PackMax: packMax})
		d, err := writer.PutBytes([]byte("an output"))
		if err != nil {
			t.Fatal(err)
		}
		// Another process trims everything between the two steps.
		if _, err := openStore(t, dir, Options{}).Trim(0); err != nil {
			t.Fatal(err)
		}
		key := keyOf("action")
		if err := writer.PutEntry(key, []byte("payload"), []digest.Digest{d}); !errors.Is(err, ErrNotStored) {
			t.Errorf("PackMax %d: PutEntry after its blob was trimmed: %v, want ErrNotStored", packMax, err)
		}
		if _, err := writer.GetEntry(key); !errors.Is(err, ErrMissing) {
			t.Errorf("PackMax %d: the declined entry: %v, want ErrMissing", packMax, err)
		}
		if rep, err := openStore(t, dir, Options{}).Verify(); err != nil || !rep.OK() {
			t.Errorf("PackMax %d: Verify: %+v, %v", packMax, rep, err)
		}
		// Stored again (the blob first), it is kept.
		putResult(t, writer, key, "an output")
	}
}

// While a trim holds the put lock, a writer stores nothing and does not
// wait; entries without blobs need no lock.
func TestPutEntryDuringTrim(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxSize: -1})
	d, err := s.PutBytes([]byte("an output"))
	if err != nil {
		t.Fatal(err)
	}
	trimming := openStore(t, dir, Options{})
	unlock, err := trimming.lockPuts()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutEntry(keyOf("a"), []byte("p"), []digest.Digest{d}); !errors.Is(err, ErrNotStored) {
		t.Errorf("PutEntry during a trim: %v, want ErrNotStored", err)
	}
	if err := s.PutEntry(keyOf("b"), []byte("no blobs"), nil); err != nil {
		t.Errorf("PutEntry without refs during a trim: %v", err)
	}
	unlock()
	if err := s.PutEntry(keyOf("a"), []byte("p"), []digest.Digest{d}); err != nil {
		t.Errorf("PutEntry after the trim: %v", err)
	}
	// Two writers of one Store overlap in the lock, and a trim waits
	// for both to leave it.
	release1, err := s.holdRefs([]digest.Digest{d})
	if err != nil {
		t.Fatal(err)
	}
	release2, err := s.holdRefs([]digest.Digest{d})
	if err != nil {
		t.Fatal(err)
	}
	release1()
	locked := make(chan func())
	go func() {
		unlock, err := trimming.lockPuts()
		if err != nil {
			t.Error(err)
		}
		locked <- unlock
	}()
	select {
	case unlock := <-locked:
		unlock()
		t.Fatalf("a trim took the put lock while a writer was inside it")
	case <-time.After(200 * time.Millisecond): // still waiting, as it should
	}
	release2()
	(<-locked)()
}
