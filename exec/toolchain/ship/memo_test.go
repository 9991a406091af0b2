package ship

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMemo packages gcc with the assembler found in a PATH directory of
// the test's (a copy of the host's as) and a header of the test's as an
// extra file: a second Package hashes nothing and returns the same
// toolchain; touching the assembler invalidates the entry and rehashes
// only it; changing the header's content changes the ID.
func TestMemo(t *testing.T) {
	gcc := driver(t, "gcc")
	realAs := driver(t, "as")
	bin := t.TempDir()
	copyTo := func(dst, src string, mode os.FileMode) {
		if err := copyFile(dst, src, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyTo(filepath.Join(bin, "as"), realAs, 0o755)
	header := filepath.Join(t.TempDir(), "extra.h")
	if err := os.WriteFile(header, []byte("#define X 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin"}
	var hashed []string
	p := &Packager{
		MemoFile: filepath.Join(t.TempDir(), "bld-out", ".bld", "shipped-toolchains"),
		Hashed:   func(path string) { hashed = append(hashed, path) },
	}
	pkg := func() *Toolchain {
		t.Helper()
		hashed = nil
		tc, err := p.Package(context.Background(), gcc, env, []string{header})
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}

	first := pkg()
	if len(hashed) < 20 {
		t.Fatalf("a cold Package hashed %d files, want all of the toolchain's", len(hashed))
	}
	if _, ok := first.Local[first.In(filepath.Join(bin, "as"))]; !ok {
		t.Fatalf("the package does not ship the assembler PATH finds (%s)", filepath.Join(bin, "as"))
	}

	second := pkg()
	if len(hashed) != 0 {
		t.Errorf("a second Package with nothing changed hashed %d files: %v", len(hashed), hashed)
	}
	if second.ID != first.ID || len(second.Files) != len(first.Files) {
		t.Errorf("the memo's toolchain %s (%d files) is not the first %s (%d files)", second.ID, len(second.Files), first.ID, len(first.Files))
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(bin, "as"), later, later); err != nil {
		t.Fatal(err)
	}
	third := pkg()
	if len(hashed) != 1 || hashed[0] != filepath.Join(bin, "as") {
		t.Errorf("after touching as, Package hashed %v, want just it", hashed)
	}
	if third.ID != first.ID {
		t.Errorf("touching as (same content) changed the ID: %s, was %s", third.ID, first.ID)
	}

	if err := os.WriteFile(header, []byte("#define X 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fourth := pkg()
	if len(hashed) != 1 || hashed[0] != header {
		t.Errorf("after changing the header, Package hashed %v, want just it", hashed)
	}
	if fourth.ID == first.ID {
		t.Error("changing a shipped header's content did not change the ID")
	}

	// A fresh Packager on the same file (the next build) hits too.
	p2 := &Packager{MemoFile: p.MemoFile, Hashed: p.Hashed}
	hashed = nil
	again, err := p2.Package(context.Background(), gcc, env, []string{header})
	if err != nil {
		t.Fatal(err)
	}
	if len(hashed) != 0 || again.ID != fourth.ID {
		t.Errorf("the next build's Packager hashed %d files, ID %s (want 0, %s)", len(hashed), again.ID, fourth.ID)
	}
}

// TestMemoCorrupt checks that a memo file that is not a memo is ignored
// and replaced.
func TestMemoCorrupt(t *testing.T) {
	gcc := driver(t, "gcc")
	memoFile := filepath.Join(t.TempDir(), "memo")
	if err := os.WriteFile(memoFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	p := &Packager{MemoFile: memoFile, Hashed: func(string) { n++ }}
	if _, err := p.Package(context.Background(), gcc, []string{hostPath}, nil); err != nil {
		t.Fatal(err)
	}
	n = 0
	if _, err := p.Package(context.Background(), gcc, []string{hostPath}, nil); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("after replacing a corrupt memo, a second Package hashed %d files", n)
	}
}
