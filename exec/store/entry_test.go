package store

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/digest"
)

func TestEntries(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	key := keyOf("an action")
	refs := putResult(t, s, key, "out 1\n", "out 2\n")
	e, err := s.GetEntry(key)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Payload: []byte(refs[0].String() + "\n" + refs[1].String() + "\n"), Refs: refs}
	if diff := cmp.Diff(want, e, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Used" }, cmp.Ignore())); diff != "" {
		t.Errorf("GetEntry (-want +got):\n%s", diff)
	}
	if time.Since(e.Used) > time.Minute {
		t.Errorf("Used = %v, want about now", e.Used)
	}

	// No refs, empty payload.
	bare := keyOf("bare")
	if err := s.PutEntry(bare, nil, nil); err != nil {
		t.Fatal(err)
	}
	if e, err := s.GetEntry(bare); err != nil || len(e.Payload) != 0 || len(e.Refs) != 0 {
		t.Errorf("GetEntry of a bare entry = %+v, %v", e, err)
	}

	if _, err := s.GetEntry(keyOf("unknown")); !errors.Is(err, ErrMissing) {
		t.Errorf("GetEntry of an unknown key: %v, want ErrMissing", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", "ABC"} {
		if err := s.PutEntry(bad, nil, nil); err == nil {
			t.Errorf("PutEntry(%q) succeeded", bad)
		}
		if _, err := s.GetEntry(bad); err == nil || errors.Is(err, ErrMissing) {
			t.Errorf("GetEntry(%q) = %v, want an invalid key error", bad, err)
		}
	}
}

func TestCorruptEntry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string // "" means: flip a byte of a good entry
		want    error
	}{
		{"flipped", "", ErrCorrupt},
		{"garbage", "garbage", ErrCorrupt},
		{"truncated header", entryHeader + "00", ErrCorrupt},
		{"bad ref", string(encodeEntry([]byte("p"), []digest.Digest{{Hash: "xyz", Size: 1}})), ErrCorrupt},
		{"another version", "bld-ac-1 0123\npayload", ErrMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), Options{PackMax: -1})
			key := keyOf(tc.name)
			putResult(t, s, key, "content")
			if tc.content == "" {
				flipByte(t, s.entryPath(key), 90)
			} else {
				writeFile(t, s.entryPath(key), tc.content, 0o644)
			}
			_, err := s.GetEntry(key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("GetEntry = %v, want %v", err, tc.want)
			}
			_, statErr := os.Stat(s.entryPath(key))
			if removed := os.IsNotExist(statErr); removed != (tc.want == ErrCorrupt) {
				t.Errorf("entry removed = %v, want %v", removed, tc.want == ErrCorrupt)
			}
		})
	}
}

func TestMarkUsed(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{PackMax: -1})
	key := keyOf("used")
	putResult(t, s, key, "x")
	old := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(s.entryPath(key), old, old); err != nil {
		t.Fatal(err)
	}
	s.MarkUsed(key, time.Now()) // the caller knows of a recent use: nothing to do
	if e, _ := s.GetEntry(key); !e.Used.Equal(old) {
		t.Errorf("recently used entry touched: %v", e.Used)
	}
	s.MarkUsed(key, old)
	if e, _ := s.GetEntry(key); time.Since(e.Used) > time.Minute {
		t.Errorf("stale entry not touched: %v", e.Used)
	}
	s.MarkUsed(keyOf("absent"), old) // no entry, no error
	s.MarkUsed("not a key", old)
}
