package snapshot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/starlark/workspace"
)

func TestSaveLoad(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "BUILD.star"), []byte("# empty\n"), 0o644)
	v := workspace.NewView(root)
	v.ReadFile("BUILD.star")
	key := Key("bld 1", "//...")
	s := &Snapshot{
		Key:     key,
		Reads:   v.Reads(),
		Env:     map[string]EnvValue{"HOME": {Value: "/h", Set: true}, "GOPATH": {}},
		Actions: []*graph.Action{{Owner: "//:a", Mnemonic: "Genrule", Argv: []string{"sh", "-c", "x"}, Env: []string{"PATH=/bin"}, Outputs: []string{"bld-out/a"}}},
		Goals:   []string{"bld-out/a"},
	}
	path := filepath.Join(t.TempDir(), "analysis")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, key)
	if err != nil || got == nil {
		t.Fatalf("Load = %v, %v", got, err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("loaded snapshot differs (-saved +loaded):\n%s", diff)
	}
	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}
	if why := got.Stale(root, env(map[string]string{"HOME": "/h"})); why != "" {
		t.Errorf("Stale with the same environment = %q", why)
	}
	if why := got.Stale(root, env(map[string]string{"HOME": "/h", "GOPATH": ""})); why == "" {
		t.Error("Stale misses a variable that became set")
	}
	if why := got.Stale(root, env(map[string]string{"HOME": "/other"})); why == "" {
		t.Error("Stale misses a changed variable")
	}

	if got, _ := Load(path, Key("bld 2", "//...")); got != nil {
		t.Error("a snapshot loaded under another key")
	}
	os.WriteFile(path, []byte("garbage"), 0o644)
	if got, err := Load(path, key); got != nil || err != nil {
		t.Errorf("Load of garbage = %v, %v; want nil, nil", got, err)
	}
	if got, err := Load(filepath.Join(t.TempDir(), "none"), key); got != nil || err != nil {
		t.Errorf("Load of a missing file = %v, %v; want nil, nil", got, err)
	}
}

// A FIFO at the snapshot's path is taken as no snapshot, found without
// waiting for a writer.
func TestLoadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "analysis")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		s   *Snapshot
		err error
	}
	got := make(chan answer, 1)
	go func() {
		s, err := Load(path, "k")
		got <- answer{s, err}
	}()
	select {
	case a := <-got:
		if a.s != nil || a.err != nil {
			t.Errorf("Load of a FIFO = %v, %v; want nil, nil", a.s, a.err)
		}
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close() // unblock the reader
		}
		t.Fatal("Load of a FIFO blocked")
	}
}
