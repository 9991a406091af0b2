package ship

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMeasure reports (go test -v -run Measure) the size of the packages
// of gcc and g++, with the headers a hello-world's depfile named or with
// the whole include directories, and the time Package takes with an empty
// memo (every file hashed; the page cache is warm) and with a memo hit.
// It checks only that a hit is faster than a miss.
func TestMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement; not run with -short")
	}
	for _, c := range []struct {
		s    source
		opts Options
	}{
		{cSource, Options{}},
		{cxxSource, Options{CXX: true}},
		{cSource, Options{IncludeDirs: true}},
		{cxxSource, Options{CXX: true, IncludeDirs: true}},
	} {
		_, headers := hostBuild(t, c.s)
		extra := headers
		if c.opts.IncludeDirs {
			extra = nil
		}
		p := &Packager{Options: c.opts, MemoFile: filepath.Join(t.TempDir(), "memo")}
		hashed := 0
		p.Hashed = func(string) { hashed++ }
		start := time.Now()
		tc, err := p.Package(context.Background(), driver(t, c.s.driver), []string{hostPath}, extra)
		if err != nil {
			t.Fatal(err)
		}
		cold := time.Since(start)
		coldHashed := hashed
		hashed = 0
		start = time.Now()
		if _, err := p.Package(context.Background(), driver(t, c.s.driver), []string{hostPath}, extra); err != nil {
			t.Fatal(err)
		}
		warm := time.Since(start)
		var headerFiles int
		var headerBytes int64
		for _, f := range tc.Files {
			if strings.Contains(tc.Local[f.Path], "/include/") {
				headerFiles++
				headerBytes += f.Digest.Size
			}
		}
		n, size := tc.Size()
		var memoSize int64
		if fi, err := os.Stat(p.MemoFile); err == nil {
			memoSize = fi.Size()
		}
		mode := "depfile headers"
		if c.opts.IncludeDirs {
			mode = "include dirs"
		}
		t.Logf("%s (%s): %d files, %.1f MB (headers: %d files, %.1f MB); Package cold %v (%d files hashed), warm %v (%d hashed); memo file %d KB",
			c.s.driver, mode, n, float64(size)/1e6, headerFiles, float64(headerBytes)/1e6, cold.Round(time.Millisecond), coldHashed, warm.Round(time.Microsecond), hashed, memoSize/1000)
		// What the memo saves is hashing (times are only logged: a
		// timed assertion fails on a loaded machine).
		if coldHashed == 0 || hashed != 0 {
			t.Errorf("packaging hashed %d files, a memo hit %d; want some, then none", coldHashed, hashed)
		}
	}
}
