package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"bld/exec/digest"
)

func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putResult stores, as a build would, one blob per content and an entry
// under key referring to them, with payload naming them.
func putResult(t testing.TB, s *Store, key string, contents ...string) []digest.Digest {
	t.Helper()
	var refs []digest.Digest
	payload := ""
	for _, c := range contents {
		d, err := s.PutBytes([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, d)
		payload += d.String() + "\n"
	}
	if err := s.PutEntry(key, []byte(payload), refs); err != nil {
		t.Fatal(err)
	}
	return refs
}

// keyOf returns a valid entry key made from s.
func keyOf(s string) string { return digest.OfBytes([]byte(s)).Hash }

// someResults stores n entries, each referring to a blob of its own of
// about size bytes, and returns their keys.
func someResults(t testing.TB, s *Store, n, size int) []string {
	t.Helper()
	var keys []string
	for i := range n {
		k := keyOf(fmt.Sprint("action ", i))
		putResult(t, s, k, fmt.Sprintf("%d%0*d\n", i, size, 0))
		keys = append(keys, k)
	}
	return keys
}

// flipByte inverts one byte of the file name in place.
func flipByte(t testing.TB, name string, at int64) {
	t.Helper()
	os.Chmod(name, 0o644)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		t.Fatalf("%s is empty", name)
	}
	data[at%int64(len(data))] ^= 0xff
	if err := os.WriteFile(name, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, name, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}
