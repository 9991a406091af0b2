package ship

import (
	"bld/exec/store"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"bld/exec/digest"
	"bld/exec/filestat"
)

// memoVersion changes when the memo's format or the meaning of its
// entries does; a memo of another version is ignored.
const memoVersion = 1

// memoEntries bounds the packages a memo remembers (the least recently
// used go first): each set of extraFiles is an entry.
const memoEntries = 16

// A stamp is what stat says of a file: when it is unchanged, the content
// is taken to be unchanged.
type stamp struct {
	Size  int64
	MTime int64 // nanoseconds
	CTime int64 // nanoseconds; 0 where unknown
	Dev   uint64
	Ino   uint64
	Mode  uint32
}

func statStamp(fi fs.FileInfo) stamp {
	s := stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}
	s.Dev, s.Ino, s.CTime = filestat.Identity(fi)
	return s
}

// A memo is the content of a MemoFile.
type memo struct {
	Version int
	// Entries are packages by weak key.
	Entries map[string]*memoEntry
	// Files are digests of local files by path, valid for one stamp.
	Files map[string]fileRecord
}

type memoEntry struct {
	LastUsed  int64 // Unix nanoseconds
	Stamps    map[string]stamp
	Toolchain *Toolchain
}

type fileRecord struct {
	Stamp  stamp
	Digest digest.Digest
}

// loadMemo reads the memo file name; a missing, unreadable or foreign one
// is an empty memo (the memo is an optimization).
func loadMemo(name string) *memo {
	m := &memo{Version: memoVersion, Entries: map[string]*memoEntry{}, Files: map[string]fileRecord{}}
	if name == "" {
		return m
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return m
	}
	var read memo
	if json.Unmarshal(b, &read) != nil || read.Version != memoVersion {
		return m
	}
	for k, e := range read.Entries {
		if e != nil && e.Toolchain != nil {
			m.Entries[k] = e
		}
	}
	for k, r := range read.Files {
		m.Files[k] = r
	}
	return m
}

// lookup returns the entry of key if every file it shipped still has the
// stamp it had, and marks it used (in m; a hit does not rewrite the file).
func (m *memo) lookup(key string) *Toolchain {
	e := m.Entries[key]
	if e == nil {
		return nil
	}
	for p, want := range e.Stamps {
		got, err := stampOf(p)
		if err != nil || got != want {
			return nil
		}
	}
	e.LastUsed = time.Now().UnixNano()
	return e.Toolchain
}

// digest returns the remembered digest of the file p if its stamp is s.
func (m *memo) digest(p string, s stamp) (digest.Digest, bool) {
	r, ok := m.Files[p]
	if !ok || r.Stamp != s {
		return digest.Digest{}, false
	}
	return r.Digest, true
}

// store remembers t under key with the stamps of its files, and their
// digests; the least recently used entries beyond memoEntries, and the
// file records no entry uses, are dropped.
func (m *memo) store(key string, t *Toolchain, stamps map[string]stamp) {
	m.Entries[key] = &memoEntry{LastUsed: time.Now().UnixNano(), Stamps: stamps, Toolchain: t}
	for _, f := range t.Files {
		if local, ok := t.Local[f.Path]; ok {
			m.Files[local] = fileRecord{Stamp: stamps[local], Digest: f.Digest}
		}
	}
	if len(m.Entries) > memoEntries {
		keys := make([]string, 0, len(m.Entries))
		for k := range m.Entries {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m.Entries[keys[i]].LastUsed > m.Entries[keys[j]].LastUsed })
		for _, k := range keys[memoEntries:] {
			delete(m.Entries, k)
		}
	}
	used := map[string]bool{}
	for _, e := range m.Entries {
		for p := range e.Stamps {
			used[p] = true
		}
	}
	for p := range m.Files {
		if !used[p] {
			delete(m.Files, p)
		}
	}
}

// save writes m to the file name atomically (a temporary file renamed);
// name "" saves nothing.
func (m *memo) save(name string) error {
	if name == "" {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("toolchain memo: %w", err)
	}
	if err := store.WriteFileAtomic(name, b, 0o644); err != nil {
		return fmt.Errorf("toolchain memo %s: %w", name, err)
	}
	return nil
}
