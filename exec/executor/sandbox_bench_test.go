package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// BenchmarkSandboxedAction runs one trivial action (/bin/sh copying its one
// input) per iteration in each mode, one at a time: the difference between
// modes is the sandbox's cost per action. In ModeNamespace the zygote runs
// the commands; BLD_SANDBOX_ZYGOTE=0 measures the per-action helper.
//
//	go test -run '^$' -bench SandboxedAction -count 5 ./exec/executor
func BenchmarkSandboxedAction(b *testing.B) {
	for _, mode := range []sandbox.Mode{sandbox.ModeOff, sandbox.ModeSymlinks, sandbox.ModeNamespace} {
		b.Run(mode.String(), func(b *testing.B) {
			root := b.TempDir()
			// One Manager for every iteration, as for every action of a
			// build: the mode is resolved (the namespace probed) once.
			m := sandbox.NewManager(root, mode)
			if _, _, err := m.Mode(context.Background()); err != nil {
				b.Skip(err)
			}
			os.MkdirAll(filepath.Join(root, "p"), 0o755)
			os.WriteFile(filepath.Join(root, "p/in.txt"), []byte("x\n"), 0o644)
			for i := 0; b.Loop(); i++ {
				out := fmt.Sprintf("bld-out/p/o%d.txt", i)
				a := sh("//p:o", "cat p/in.txt > "+out, []string{"p/in.txt"}, []string{out})
				g, err := graph.New([]*graph.Action{a}, func(string) bool { return true })
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Run(context.Background(), g, []int{0}, Options{Root: root, Cache: newMemCache(),
					Tokens: NewSemaphore(1), Observer: nopObserver{}, Sandboxes: m}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type nopObserver struct{}

func (nopObserver) Planned([]*graph.Action)    {}
func (nopObserver) Started(int, *graph.Action) {}
func (nopObserver) Finished(Result)            {}
