package jobserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeCrate writes a library with enough code that rustc's codegen units
// take a noticeable time.
func writeCrate(t *testing.T, dir string) {
	t.Helper()
	var b strings.Builder
	for m := range 8 {
		fmt.Fprintf(&b, "pub mod m%d {\n", m)
		for i := range 8 {
			fmt.Fprintf(&b, "  pub fn f%d(x: u64) -> u64 { let mut v: Vec<u64> = (0..x).map(|k| k.wrapping_mul(%d) ^ %d).collect(); v.sort(); v.iter().fold(%d, |a, b| a.wrapping_add(*b).rotate_left(%d)) }\n", i, i+7, m, i, i%13+1)
		}
		b.WriteString("}\n")
	}
	b.WriteString("pub fn all(x: u64) -> u64 { let mut s = 0;\n")
	for m := range 8 {
		for i := range 8 {
			fmt.Fprintf(&b, "  s ^= m%d::f%d(x);\n", m, i)
		}
	}
	b.WriteString("  s }\n")
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "src", "lib.rs"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	toml := "[package]\nname = \"cgu\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[profile.dev]\nopt-level = 2\ncodegen-units = 8\n"
	if err := os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// codegenThreads counts the LLVM worker threads ("opt cgu.N", "lto
// cgu.N") of the processes at or below root that are running or
// runnable; a worker that has given its token back and sleeps until it is
// joined is not counted.
func codegenThreads(root int) int {
	procs, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			parent[pid], _ = strconv.Atoi(fields[1])
		}
	}
	under := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid == root {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	n := 0
	for pid := range parent {
		if !under(pid) {
			continue
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			s := string(stat)
			open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
			if open < 0 || end < open || end+3 > len(s) {
				continue
			}
			if strings.Contains(s[open:end], "cgu") && s[end+2] == 'R' {
				n++
			}
		}
	}
	return n
}

// runSampled runs cmd as a jobserver-aware action and samples, until it
// ends, the codegen threads below it and the bytes left in the pool.
func runSampled(t *testing.T, p *Pool, cmd *exec.Cmd) (maxThreads, minInPipe int, out string) {
	t.Helper()
	if err := p.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	detach, err := p.AttachJobserver(cmd, cmd.Args, "")
	if err != nil {
		t.Fatal(err)
	}
	defer detach()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	minInPipe = p.Stats().InPipe
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd.Path, err, buf.String())
			}
			return maxThreads, minInPipe, buf.String()
		case <-tick.C:
			// A sample reads each thread's stat in turn, so a worker
			// that is finishing and one that is starting can both be
			// seen running in one pass. Count only what two passes in a
			// row agree on: oversubscription persists across both.
			pid := cmd.Process.Pid
			maxThreads = max(maxThreads, min(codegenThreads(pid), codegenThreads(pid)))
			minInPipe = min(minInPipe, p.Stats().InPipe)
		}
	}
}

// rustc with 8 codegen units under a pool of 2: it takes the pool's extra
// token, runs its codegen workers one per token, and gives the token back.
func TestRustcCodegenUnits(t *testing.T) {
	rustc := need(t, "rustc")
	dir := t.TempDir()
	writeCrate(t, dir)
	p, err := NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cmd := exec.Command(rustc, "--crate-type=lib", "--edition=2021", "-C", "opt-level=2", "-C", "codegen-units=8",
		"-o", filepath.Join(dir, "libcgu.rlib"), filepath.Join(dir, "src", "lib.rs"))
	start := time.Now()
	threads, minIn, _ := runSampled(t, p, cmd)
	t.Logf("rustc -C codegen-units=8, pool of 2: peak %d codegen threads, min %d bytes in the pool, %v", threads, minIn, time.Since(start))
	// Without a jobserver rustc runs all 8 units at once. Under the pool
	// it runs one worker per token; a worker that has handed its token
	// back may still be running while it tears down, so allow one more.
	if threads > 3 {
		t.Errorf("%d codegen threads at once, want at most 2 (+1 tearing down)", threads)
	}
	if minIn != 0 {
		t.Errorf("rustc never took the extra token (min %d in the pool)", minIn)
	}
	if s := checkAtRest(t, p); s.Restored != 0 {
		t.Errorf("pool restored %d tokens; rustc should return them", s.Restored)
	}
}

// cargo build of a path-only crate under a pool of 2: same bounds, through
// cargo's jobserver client.
func TestCargoBuild(t *testing.T) {
	cargo := need(t, "cargo")
	dir := t.TempDir()
	writeCrate(t, dir)
	p, err := NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cmd := exec.Command(cargo, "build", "--offline", "--manifest-path", filepath.Join(dir, "Cargo.toml"))
	cmd.Env = append(Scrub(os.Environ()), "CARGO_TARGET_DIR="+filepath.Join(dir, "target"), "CARGO_INCREMENTAL=0")
	start := time.Now()
	threads, minIn, out := runSampled(t, p, cmd)
	t.Logf("cargo build (codegen-units=8), pool of 2: peak %d codegen threads, min %d bytes in the pool, %v", threads, minIn, time.Since(start))
	if threads > 3 {
		t.Errorf("%d codegen threads at once, want at most 2 (+1 tearing down)\n%s", threads, out)
	}
	if minIn != 0 {
		t.Errorf("cargo/rustc never took the extra token (min %d in the pool)", minIn)
	}
	if s := checkAtRest(t, p); s.Restored != 0 {
		t.Errorf("pool restored %d tokens; cargo should return them", s.Restored)
	}
}
