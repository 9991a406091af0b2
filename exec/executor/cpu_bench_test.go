package executor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"bld/exec/graph"
	"bld/exec/jobserver"
	"bld/exec/sandbox"
)

// BenchmarkWideCPU runs n trivial independent actions (/bin/sh copying
// its one input, as bench/gen's genrules) at -j 2 per iteration, under
// bld's jobserver pool, and reports the CPU time the executor's own
// process spends per action (getrusage(RUSAGE_SELF): the runner, the
// scheduler, the Go runtime; not the commands) and its context switches
// per action, and in ModeNamespace the
// zygote's own CPU time per action (read from /proc before it exits).
// CPU time, unlike wall time, is what a loaded machine distorts least.
//
//	go test -run '^$' -bench WideCPU -benchtime 5x -count 5 ./exec/executor
func BenchmarkWideCPU(b *testing.B) {
	const n = 500
	for _, mode := range []sandbox.Mode{sandbox.ModeOff, sandbox.ModeNamespace} {
		b.Run(mode.String(), func(b *testing.B) {
			root := b.TempDir()
			m := sandbox.NewManager(root, mode)
			if _, _, err := m.Mode(context.Background()); err != nil {
				b.Skip(err)
			}
			var actions []*graph.Action
			for i := range n {
				in := fmt.Sprintf("p/in%d.txt", i)
				os.MkdirAll(filepath.Join(root, "p"), 0o755)
				os.WriteFile(filepath.Join(root, in), []byte("x\n"), 0o644)
				out := fmt.Sprintf("bld-out/p/o%d.txt", i)
				a := sh(fmt.Sprintf("//p:o%d", i), "cat "+in+" > "+out, []string{in}, []string{out})
				a.Argv[0] = "/bin/sh"
				actions = append(actions, a)
			}
			g, err := graph.New(actions, func(string) bool { return true })
			if err != nil {
				b.Fatal(err)
			}
			goals := make([]int, n)
			for i := range goals {
				goals[i] = i
			}
			var self, zyg, csw int64
			for b.Loop() {
				pool, err := jobserver.NewServer(2, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				before, beforeCS := selfCPU()
				if _, err := Run(context.Background(), g, goals, Options{Root: root, Cache: newMemCache(),
					Tokens: pool, Observer: nopObserver{}, Sandboxes: m, ProcessDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
				after, afterCS := selfCPU()
				self += after - before
				csw += afterCS - beforeCS
				zyg += zygoteCPU()
				pool.Close()
				m.Close()
			}
			b.ReportMetric(float64(self)/float64(b.N*n)/1e3, "self-us/action")
			b.ReportMetric(float64(csw)/float64(b.N*n), "ctxsw/action")
			if mode == sandbox.ModeNamespace {
				b.ReportMetric(float64(zyg)/float64(b.N*n)/1e3, "zygote-us/action")
			}
		})
	}
}

// selfCPU returns the user and system CPU time of this process, in ns,
// and how many context switches its threads made.
func selfCPU() (int64, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano(), ru.Nvcsw + ru.Nivcsw
}

// zygoteCPU returns the CPU time (user and system, in ns, without its
// children's) of the zygotes running as this process's children.
func zygoteCPU() int64 {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var total int64
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, pid := range strings.Fields(string(data)) {
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if !bytes.HasPrefix(cmdline, []byte("bld-sandbox-zygote")) {
				continue
			}
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			// Fields after the command name (which ends with ')'):
			// utime and stime are the 14th and 15th of the line.
			rest := stat[bytes.LastIndexByte(stat, ')')+2:]
			f := strings.Fields(string(rest))
			if len(f) < 13 {
				continue
			}
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			total += (u + s) * 1e7 // clock ticks of 10 ms
		}
	}
	return total
}
