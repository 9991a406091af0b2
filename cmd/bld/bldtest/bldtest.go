// Package bldtest builds the bld binary for end-to-end tests, once per test
// binary, and keeps go test's result cache honest about it.
package bldtest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Main builds bld (the package cmd/bld of the module) and bld-remote beside
// it (cmd/bld/bld-remote, which bld runs for remote services) into a
// temporary directory, runs the tests with bld's path, and exits. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { bldtest.Main(m, &bldBinary) }
func Main(m *testing.M, binary *string) {
	dir, err := os.MkdirTemp("", "bld-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	*binary = filepath.Join(dir, "bld")
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "bld/cmd/bld", "bld/cmd/bld/bld-remote")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building bld:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var touchOnce sync.Once

// TouchSources opens every .go and .star file of bld's sources under the
// repository root repo, once per test binary, so that go test's cache
// depends on them: it caches a package's result by its test binary and the
// files its tests open (while tests run, not in TestMain), and the bld
// binary the tests run is built from neither. Call it from each test, or
// from a helper every test uses.
func TouchSources(repo string) {
	touchOnce.Do(func() {
		for _, dir := range []string{"cmd", "starlark", "rules", "exec"} {
			filepath.WalkDir(filepath.Join(repo, dir), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".star")) {
					if f, err := os.Open(p); err == nil {
						f.Close()
					}
				}
				return nil
			})
		}
	})
}
