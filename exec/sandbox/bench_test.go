//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"bld/exec/graph"
)

// cpuTime is the CPU time (user and system) of this process and of its
// children that were waited for, and of theirs.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	var t time.Duration
	for _, ru := range []*syscall.Rusage{&self, &children} {
		t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return t
}

// threadsCPU is the CPU time of process pid's threads (their schedstat):
// the zygote's, whose threads do not end.
func threadsCPU(pid int) time.Duration {
	dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var t time.Duration
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		var ns int64
		fmt.Sscan(string(b), &ns)
		t += time.Duration(ns)
	}
	return t
}

// reportCPU reports the CPU time per iteration since cpu0 (cpuTime) as
// cpu-ns/op: bld's, the zygote's and the commands'.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkNamespaceAction runs one trivial action (sh copying its one
// input to its output) per iteration through the zygote, from Prepare to
// Remove, against the same command run without a sandbox: the difference
// is the namespace sandbox's cost per action, without the executor.
//
// cpu-ns/op is the CPU time per action of the benchmark's process and
// of its children (the zygote and the commands), not just its latency;
// zygote-cpu-ns/op the zygote's alone (its threads' schedstat, from the
// second action on), which load distorts less.
//
//	go test -run '^$' -bench NamespaceAction -count 5 ./exec/sandbox
func BenchmarkNamespaceAction(b *testing.B) {
	root := b.TempDir()
	os.MkdirAll(filepath.Join(root, "p"), 0o755)
	os.MkdirAll(filepath.Join(root, "bld-out/p"), 0o755)
	os.WriteFile(filepath.Join(root, "p/in.txt"), []byte("x\n"), 0o644)
	env := []string{"PATH=/usr/bin:/bin"}
	action := func(i int) *graph.Action {
		out := fmt.Sprintf("bld-out/p/o%d.txt", i)
		return &graph.Action{Argv: []string{"sh", "-c", "cat p/in.txt > " + out}, Env: env,
			Inputs: []string{"p/in.txt"}, Outputs: []string{out}}
	}
	b.Run("off", func(b *testing.B) {
		cpu0 := cpuTime()
		defer func() { reportCPU(b, cpu0) }()
		for i := 0; b.Loop(); i++ {
			a := action(i)
			cmd := exec.Command("/bin/sh", a.Argv[1:]...)
			cmd.Dir, cmd.Env = root, env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	b.Run("namespace", func(b *testing.B) {
		m := NewManager(root, ModeNamespace)
		defer m.Close()
		ctx := context.Background()
		if _, _, err := m.Mode(ctx); err != nil {
			b.Skip(err)
		}
		cpu0 := cpuTime()
		var zcpu0 time.Duration
		defer func() {
			if pid := m.zygote.pidRunning(); pid != 0 && b.N > 0 {
				b.ReportMetric(float64(threadsCPU(pid)-zcpu0)/float64(b.N), "zygote-cpu-ns/op")
			}
			m.Close() // the zygote's CPU time, and its commands', counts once it is reaped
			reportCPU(b, cpu0)
		}()
		for i := 0; b.Loop(); i++ {
			if i == 1 { // the zygote runs
				zcpu0 = threadsCPU(m.zygote.pidRunning())
			}
			a := action(i)
			xr, err := m.Prepare(ctx, a)
			if err != nil {
				b.Fatal(err)
			}
			xr.DeferInputList()
			cmd, err := xr.Command(ctx, a)
			if err != nil {
				b.Fatal(err)
			}
			r, w, _ := os.Pipe()
			cmd.Stdout, cmd.Stderr = w, w
			s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
			w.Close()
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 512)
			for {
				if _, err := r.Read(buf); err != nil {
					break
				}
			}
			r.Close()
			if code, _, _, err := s.Wait(); err != nil || code != 0 {
				b.Fatal(code, err)
			}
			if err := xr.Collect(a); err != nil {
				b.Fatal(err)
			}
			if err := xr.Remove(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
