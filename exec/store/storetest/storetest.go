// Package storetest holds what tests of the store's users need to know of
// its files: how to damage them. It is the one home of that knowledge, so
// that a change of the pack format changes one helper, not each test
// that damages packs.
package storetest

import (
	"os"
	"path/filepath"
	"testing"
)

// DamagePack flips one byte in every 50 of the pack file p, starting past
// its header ("bld-pack-1\n"), so that every record in it fails
// verification (a record is longer than 50 bytes: its head alone is 40).
func DamagePack(t testing.TB, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 20; i < len(data); i += 50 {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// DamagePacks damages every pack of the store in dir with DamagePack and
// returns their paths; a store without packs fails the test.
func DamagePacks(t testing.TB, dir string) []string {
	t.Helper()
	packs, err := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no packs to damage in %s (%v)", dir, err)
	}
	for _, p := range packs {
		DamagePack(t, p)
	}
	return packs
}
