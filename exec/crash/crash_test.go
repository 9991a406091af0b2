package crash

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A panic in a goroutine that Go started ends the process with ExitCode and
// the panic's value and stack on standard error. The test runs itself as
// the process that panics.
func TestGoPanicExits(t *testing.T) {
	if os.Getenv("BLD_CRASH_TEST_CHILD") == "1" {
		Go(func() { panicInWorker() })
		time.Sleep(10 * time.Second)
		os.Exit(0) // not reached
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoPanicExits$")
	cmd.Env = append(os.Environ(), "BLD_CRASH_TEST_CHILD=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != ExitCode {
		t.Fatalf("the process ended with %v, want exit status %d\n%s", err, ExitCode, stderr.String())
	}
	for _, want := range []string{"bld: internal error: boom in a worker", "crash.panicInWorker(", "This is a bug in bld"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func panicInWorker() { panic("boom in a worker") }

// recoverAndExit does nothing without a panic.
func TestRecoverWithoutPanic(t *testing.T) {
	var buf bytes.Buffer
	func() {
		defer recoverAndExit(&buf, func(int) { t.Error("exit called without a panic") })
	}()
	if buf.Len() != 0 {
		t.Errorf("wrote %q without a panic", buf.String())
	}
}

// Every goroutine bld starts recovers its panics: outside this package,
// tests and bench/, no source file of the module has a go statement; they
// call Go.
func TestEveryGoroutineRecovers(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// bench/ holds programs of their own (generators, a
			// jobserver client for measurements), not bld.
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bld-out" || path == filepath.Join(root, "bench")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Base(path) == "crash.go" && filepath.Base(filepath.Dir(path)) == "crash" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: a go statement; start the goroutine with crash.Go, so that a panic in it exits %d with its stack", fset.Position(g.Pos()), ExitCode)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
