package cache

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/exec/digest"
)

// TestKeptTableRoundTrip: the table of kept outputs survives a save and a
// load, paths with spaces and quotes included; an empty table removes the
// file.
func TestKeptTableRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "remote-outputs")
	kt := loadKept(file)
	want := map[string]keptOutput{
		"bld-out/p/a.txt":         {d: digest.OfBytes([]byte("a")), exec: false},
		"bld-out/p/my prog 'x';y": {d: digest.OfBytes([]byte("prog")), exec: true},
	}
	for p, k := range want {
		kt.set(p, k)
	}
	if err := kt.save(); err != nil {
		t.Fatal(err)
	}
	got := loadKept(file).m
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(keptOutput{}, digest.Digest{})); diff != "" {
		t.Errorf("after a round trip (-want +got):\n%s", diff)
	}
	for p := range want {
		kt.forget(p)
	}
	if err := kt.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("an empty table left its file: %v", err)
	}
}

// TestKeptTableDamaged: a table that is not whole is empty, never half
// read: a wrong entry would be trusted as an output's content.
func TestKeptTableDamaged(t *testing.T) {
	h := digest.OfBytes([]byte("a")).Hash
	good := h + " 1 - bld-out/ok\n"
	for name, data := range map[string]string{
		"no header":     good,
		"bad hash":      keptHeader + good + "zz 1 - bld-out/a\n",
		"bad size":      keptHeader + good + h + " -1 - bld-out/a\n",
		"bad mode":      keptHeader + good + h + " 1 r bld-out/a\n",
		"absolute path": keptHeader + good + h + " 1 - /etc/passwd\n",
		"escaping path": keptHeader + good + h + " 1 - ../x\n",
		"short line":    keptHeader + good + h + " 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "remote-outputs")
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := loadKept(file).m; len(got) != 0 {
				t.Errorf("a damaged table gave entries: %v", got)
			}
		})
	}
	// The good line alone is read.
	file := filepath.Join(t.TempDir(), "remote-outputs")
	if err := os.WriteFile(file, []byte(keptHeader+good), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := loadKept(file).m; len(got) != 1 {
		t.Errorf("a whole table gave %v, want one entry", got)
	}
}
