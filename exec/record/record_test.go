package record

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bld/exec/graph"
)

var ctx = context.Background()

type workspace struct {
	t    *testing.T
	root string
}

func newWorkspace(t *testing.T) *workspace {
	return &workspace{t: t, root: t.TempDir()}
}

func (w *workspace) write(path, content string) {
	w.t.Helper()
	p := filepath.Join(w.root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) open() *Record {
	w.t.Helper()
	r, err := Open(w.root, filepath.Join(w.root, "bld-out/.bld"))
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// compile is an action reading a.c and a.h, writing bld-out/a.o.
func compile() *graph.Action {
	return &graph.Action{Owner: "//:a", Mnemonic: "CcCompile",
		Argv: []string{"cc", "-c", "a.c", "-o", "bld-out/a.o"}, Env: []string{"PATH=/usr/bin"},
		Inputs: []string{"a.c", "a.h"}, Outputs: []string{"bld-out/a.o"}}
}

// runAction pretends to run a: it writes its outputs and stores the result.
func (w *workspace) runAction(r *Record, a *graph.Action, output string) {
	w.t.Helper()
	c, err := r.Check(ctx, a)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, out := range a.Outputs {
		w.write(out, output)
	}
	if err := r.Store(ctx, a, c.Key); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) check(r *Record, a *graph.Action, wantUpToDate bool, wantReason string) {
	w.t.Helper()
	c, err := r.Check(ctx, a)
	if err != nil {
		w.t.Fatal(err)
	}
	if c.UpToDate != wantUpToDate || c.Reason != wantReason {
		w.t.Errorf("Check = up to date %v, reason %q; want %v, %q", c.UpToDate, c.Reason, wantUpToDate, wantReason)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		change   func(w *workspace, a *graph.Action)
		upToDate bool
		reason   string
	}{
		{"same action", func(*workspace, *graph.Action) {}, true, ""},
		{"changed input", func(w *workspace, _ *graph.Action) { w.write("a.h", "#define X 2\n") }, false, "command or inputs changed"},
		{"changed argv", func(_ *workspace, a *graph.Action) { a.Argv = append(a.Argv, "-O2") }, false, "command or inputs changed"},
		{"changed env", func(_ *workspace, a *graph.Action) { a.Env = []string{"PATH=/bin"} }, false, "command or inputs changed"},
		{"added input", func(w *workspace, a *graph.Action) {
			w.write("b.h", "")
			a.Inputs = append(a.Inputs, "b.h")
		}, false, "command or inputs changed"},
		{"modified output", func(w *workspace, _ *graph.Action) { w.write("bld-out/a.o", "tampered") }, false, "output bld-out/a.o missing or modified"},
		{"deleted output", func(w *workspace, _ *graph.Action) { os.Remove(filepath.Join(w.root, "bld-out/a.o")) }, false, "output bld-out/a.o missing or modified"},
		{"other action", func(_ *workspace, a *graph.Action) { a.Outputs = []string{"bld-out/b.o"} }, false, "no previous result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t)
			w.write("a.c", "int a;\n")
			w.write("a.h", "#define X 1\n")
			r := w.open()
			defer r.Close()
			a := compile()
			w.check(r, a, false, "no previous result")
			w.runAction(r, a, "object")
			// A fresh Record sees the files as a new build would.
			r.Close()
			r = w.open()
			a = compile()
			tt.change(w, a)
			w.check(r, a, tt.upToDate, tt.reason)
		})
	}
}

func TestWriteActionKey(t *testing.T) {
	w := newWorkspace(t)
	r := w.open()
	defer r.Close()
	a := &graph.Action{Owner: "//:w", Content: []byte("x"), Outputs: []string{"bld-out/w"}}
	k1, _ := r.key(a)
	a.Executable = true
	k2, _ := r.key(a)
	a.Content = []byte("y")
	k3, _ := r.key(a)
	if k1 == k2 || k2 == k3 || k1 == k3 {
		t.Errorf("keys do not depend on content and executable bit: %s %s %s", k1, k2, k3)
	}
}

func TestKeyIndependentOfRoot(t *testing.T) {
	var keys []string
	for range 2 {
		w := newWorkspace(t)
		w.write("a.c", "int a;\n")
		w.write("a.h", "")
		r := w.open()
		c, err := r.Check(ctx, compile())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, c.Key)
		r.Close()
	}
	if keys[0] != keys[1] {
		t.Errorf("the same action in two checkouts has keys %s and %s", keys[0], keys[1])
	}
}

func TestTornLogLine(t *testing.T) {
	w := newWorkspace(t)
	w.write("a.c", "")
	w.write("a.h", "")
	r := w.open()
	w.runAction(r, compile(), "object")
	r.Close()
	logPath := filepath.Join(w.root, "bld-out/.bld", logName)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"outputs":["bld-out/b.o"],"key":"12`) // a crash mid-append
	f.Close()

	r = w.open()
	w.check(r, compile(), true, "")
	b := compile()
	b.Outputs = []string{"bld-out/b.o"}
	w.check(r, b, false, "no previous result")
	w.runAction(r, b, "b")
	r.Close()

	r = w.open()
	defer r.Close()
	w.check(r, compile(), true, "")
	w.check(r, b, true, "")
	data, _ := os.ReadFile(logPath)
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}\n") {
			t.Errorf("log line %q is not whole", line)
		}
	}
}

func TestCompaction(t *testing.T) {
	w := newWorkspace(t)
	w.write("a.c", "")
	w.write("a.h", "")
	r := w.open()
	for i := range 5 {
		a := compile()
		a.Argv = append(a.Argv, "-DV="+string(rune('0'+i)))
		w.runAction(r, a, "object")
	}
	r.Close()
	logPath := filepath.Join(w.root, "bld-out/.bld", logName)
	data, _ := os.ReadFile(logPath)
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Errorf("log has %d lines after compaction, want 1", n)
	}
	r = w.open()
	defer r.Close()
	a := compile()
	a.Argv = append(a.Argv, "-DV=4")
	w.check(r, a, true, "")
}

func TestRacyMtimeRehashed(t *testing.T) {
	w := newWorkspace(t)
	w.write("a.c", "one")
	r := w.open()
	if _, err := r.memo.digest("a.c", true); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// Same size, same mtime, same inode, new content: only the racy rule
	// (mtime not older than the memo entry) catches it.
	p := filepath.Join(w.root, "a.c")
	fi, _ := os.Stat(p)
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteString("two")
	f.Close()
	os.Chtimes(p, fi.ModTime(), fi.ModTime())

	r = w.open()
	defer r.Close()
	d, err := r.memo.digest("a.c", true)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hashFile(p)
	if d != want || r.memo.hashed.Load() != 1 {
		t.Errorf("racy file: digest %s (hashed %d times), want %s", d, r.memo.hashed.Load(), want)
	}
}

func TestOldFileStatedNotHashed(t *testing.T) {
	w := newWorkspace(t)
	w.write("a.c", "one")
	p := filepath.Join(w.root, "a.c")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	r := w.open()
	d1, _ := r.memo.digest("a.c", true)
	r.Close()

	r = w.open()
	defer r.Close()
	d2, _ := r.memo.digest("a.c", true)
	if d1 != d2 || r.memo.hashed.Load() != 0 {
		t.Errorf("unchanged old file hashed %d times on reopen", r.memo.hashed.Load())
	}
	// A real change shows in size or mtime, and is hashed.
	w.write("a.c", "three")
	d3, _ := r.memo.digest("a.c", true)
	if d3 == d2 || r.memo.hashed.Load() != 1 {
		t.Errorf("changed file: digest unchanged or not hashed")
	}
}

func TestConcurrentCheckStore(t *testing.T) {
	w := newWorkspace(t)
	w.write("a.c", "")
	w.write("a.h", "")
	r := w.open()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := compile()
			a.Outputs = []string{"bld-out/o" + string(rune('a'+i))}
			c, err := r.Check(ctx, a)
			if err != nil {
				t.Error(err)
				return
			}
			os.WriteFile(filepath.Join(w.root, a.Outputs[0]), []byte("x"), 0o644)
			if err := r.Store(ctx, a, c.Key); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = w.open()
	defer r.Close()
	if len(r.results) != 16 {
		t.Errorf("%d results after reopen, want 16", len(r.results))
	}
}
