//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/program"
)

// namespaceManager returns a Manager in ModeNamespace for root, closed
// when the test ends, or skips the test where namespaces do not work.
func namespaceManager(t *testing.T, root string) *Manager {
	t.Helper()
	m := NewManager(root, ModeNamespace)
	if _, _, err := m.Mode(context.Background()); err != nil {
		t.Skipf("no namespaces here: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// zygoteRun prepares a in m and starts its command through m's zygote,
// its output into a pipe.
func zygoteRun(t *testing.T, ctx context.Context, m *Manager, a *graph.Action) (*Started, *os.File, *ExecRoot) {
	t.Helper()
	os.MkdirAll(filepath.Join(m.root, "bld-out"), 0o755)
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xr.Remove() })
	cmd, err := xr.Command(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("the zygote did not start the command: %v", err)
	}
	return s, r, xr
}

func readAll(t *testing.T, r *os.File) string {
	t.Helper()
	defer r.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// The zygote's command sees what the per-action helper's sees: its
// inputs at FixedExecRoot and nothing else of the workspace, the user's
// uid, no capability, and (with a pid namespace) itself as pid 1.
func TestZygoteNamespace(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	os.WriteFile(filepath.Join(root, "in.txt"), []byte("declared\n"), 0o644)
	os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret\n"), 0o644)
	a := &graph.Action{
		Argv: []string{"sh", "-c", `echo $$; pwd; cat in.txt; cat secret.txt 2>/dev/null || echo hidden; cat ` + root + `/secret.txt 2>/dev/null || echo hidden; ls ` + FixedDir + `; echo out > bld-out/o; id -u; grep CapEff /proc/self/status; exit 3`},
		Env:  []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"in.txt"}, Outputs: []string{"bld-out/o"},
	}
	s, r, xr := zygoteRun(t, context.Background(), m, a)
	out := readAll(t, r)
	code, state, rss, err := s.Wait()
	if err != nil || code != 3 {
		t.Fatalf("exit %d (%s), %v; output %q", code, state, err, out)
	}
	if rss <= 0 {
		t.Errorf("max rss %d", rss)
	}
	want := strings.Join([]string{"1", FixedExecRoot, "declared", "hidden", "hidden", "execroot", strconv.Itoa(os.Getuid()), "CapEff:\t0000000000000000"}, "\n") + "\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if err := xr.Collect(a); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "bld-out/o")); err != nil || string(b) != "out\n" {
		t.Errorf("collected output: %q, %v", b, err)
	}
}

// Cancelling the context kills the command's process group at once.
func TestZygoteCancel(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	a := &graph.Action{Argv: []string{"sh", "-c", "sleep 30; echo late"}, Env: []string{"PATH=/usr/bin:/bin"}, AllowDaemon: true}
	ctx, cancel := context.WithCancel(context.Background())
	s, r, _ := zygoteRun(t, ctx, m, a)
	time.AfterFunc(200*time.Millisecond, cancel)
	begin := time.Now()
	out := readAll(t, r)
	code, state, _, err := s.Wait()
	if err != nil || code != -1 || state != "signal: killed" {
		t.Errorf("exit %d (%s), %v; output %q", code, state, err, out)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("killed after %v", d)
	}
}

// A zygote that dies makes the running command's Wait fail, not hang; the
// next command gets a new zygote.
func TestZygoteDies(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	a := &graph.Action{Argv: []string{"sh", "-c", "sleep 30"}, Env: []string{"PATH=/usr/bin:/bin"}}
	s, r, _ := zygoteRun(t, context.Background(), m, a)
	pid := m.zygote.pidRunning()
	syscall.Kill(pid, syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { _, _, _, err := s.Wait(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Wait succeeded after the zygote died")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait hangs after the zygote died")
	}
	readAll(t, r) // the command died with the zygote: EOF
	// Once bld has seen the zygote die (a command sent before that may
	// still go to the dying zygote, and then runs with the helper), the
	// next command starts a new one.
	for deadline := time.Now().Add(5 * time.Second); m.zygote.pidRunning() == pid; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("bld did not notice that the zygote died")
		}
	}
	b := &graph.Action{Argv: []string{"sh", "-c", "echo again"}, Env: []string{"PATH=/usr/bin:/bin"}}
	s, r, _ = zygoteRun(t, context.Background(), m, b)
	if out := readAll(t, r); out != "again\n" {
		t.Errorf("output %q", out)
	}
	if code, _, _, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
}

// BLD_SANDBOX_ZYGOTE=0 turns the zygote off: StartZygote declines, and
// the helper's command (the fallback) still runs.
func TestZygoteOff(t *testing.T) {
	t.Setenv("BLD_SANDBOX_ZYGOTE", "0")
	root := t.TempDir()
	m := NewManager(root, ModeNamespace)
	ctx := context.Background()
	if _, _, err := m.Mode(ctx); err != nil {
		t.Skipf("no namespaces here: %v", err)
	}
	a := &graph.Action{Argv: []string{"sh", "-c", "echo $$"}, Env: []string{"PATH=/usr/bin:/bin"}}
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer xr.Remove()
	cmd, err := xr.Command(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil); s != nil || err == nil {
		t.Fatal("the zygote started a command with BLD_SANDBOX_ZYGOTE=0")
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out := readAll(t, r)
	if n, _ := strconv.Atoi(strings.TrimSpace(out)); cmd.Wait() != nil || n < 2 {
		t.Errorf("the helper's command: %v, output %q (want a pid above 1: the helper is the init)", cmd.ProcessState, out)
	}
}

// Manager.Close ends the zygote; the next command starts a new one.
func TestCloseStopsZygote(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	a := &graph.Action{Argv: []string{"sh", "-c", "echo one"}, Env: []string{"PATH=/usr/bin:/bin"}}
	s, r, _ := zygoteRun(t, context.Background(), m, a)
	readAll(t, r)
	s.Wait()
	pid := m.zygote.pidRunning()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("the zygote (pid %d) still runs after Close: kill 0 says %v", pid, err)
	}
	s, r, _ = zygoteRun(t, context.Background(), m, a)
	if out := readAll(t, r); out != "one\n" {
		t.Errorf("output %q after a restart", out)
	}
	if code, _, _, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
}

// runNamespace runs a through m: through the zygote, or through the
// per-action helper when helper is set; then Collect and Remove. It
// returns the command's output.
func runNamespace(t *testing.T, m *Manager, a *graph.Action, helper bool) string {
	t.Helper()
	ctx := context.Background()
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := xr.Remove(); err != nil {
			t.Error(err)
		}
	}()
	if !helper {
		xr.DeferInputList()
	}
	cmd, err := xr.Command(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	var code int
	if helper {
		err = cmd.Start()
		w.Close()
		out := readAll(t, r)
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return out + collect(t, xr, a)
	}
	s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := readAll(t, r)
	if code, _, _, err = s.Wait(); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	return out + collect(t, xr, a)
}

func collect(t *testing.T, xr *ExecRoot, a *graph.Action) string {
	t.Helper()
	if err := xr.Collect(a); err != nil {
		t.Fatal(err)
	}
	return ""
}

// The exec root is on a tmpfs: only output directories are on disk, bound
// from directories the Manager reuses, emptied, from action to action (an
// input that lies in an output directory, nested output directories,
// extra files beside the outputs leave nothing behind), except after an
// action that may leave processes running. Through the zygote and through
// the per-action helper alike.
func TestOutputDirectoryPool(t *testing.T) {
	for _, helper := range []bool{false, true} {
		t.Run(map[bool]string{false: "zygote", true: "helper"}[helper], func(t *testing.T) {
			root := t.TempDir()
			m := namespaceManager(t, root)
			os.MkdirAll(filepath.Join(root, "p"), 0o755)
			os.MkdirAll(filepath.Join(root, "bld-out/p/sub"), 0o755)
			os.WriteFile(filepath.Join(root, "p/in.txt"), []byte("in\n"), 0o644)
			env := []string{"PATH=/usr/bin:/bin"}
			first := &graph.Action{
				Argv: []string{"sh", "-c", "ls -a bld-out/p; cat p/in.txt > bld-out/p/a.txt; echo extra > bld-out/p/extra; mkdir bld-out/p/scratch; echo tmp > tmp.txt"},
				Env:  env, Inputs: []string{"p/in.txt"}, Outputs: []string{"bld-out/p/a.txt"},
			}
			if out := runNamespace(t, m, first, helper); out != ".\n..\n" {
				t.Errorf("the first action saw %q in its output directory, want it empty", out)
			}
			pool := dirsIn(t, Dir(root))
			if len(pool) != 1 {
				t.Fatalf("%s holds %q, want one output directory", Dir(root), pool)
			}
			if got := dirsIn(t, filepath.Join(Dir(root), pool[0])); len(got) != 0 {
				t.Errorf("the output directory holds %q after the action", got)
			}
			// Reused: an input in the output directory, a nested one.
			second := &graph.Action{
				Argv: []string{"sh", "-c", "ls -a bld-out/p; ls bld-out/p/sub; cat bld-out/p/a.txt > bld-out/p/sub/b.txt; ls /tmp/bld-sandbox/execroot"},
				Env:  env, Inputs: []string{"bld-out/p/a.txt"}, Outputs: []string{"bld-out/p/sub/b.txt"},
			}
			if out, want := runNamespace(t, m, second, helper), ".\n..\na.txt\nsub\nbld-out\n"; out != want {
				t.Errorf("the second action saw %q, want %q", out, want)
			}
			if b, err := os.ReadFile(filepath.Join(root, "bld-out/p/sub/b.txt")); err != nil || string(b) != "in\n" {
				t.Errorf("bld-out/p/sub/b.txt: %q, %v", b, err)
			}
			if got := dirsIn(t, Dir(root)); !slices.Equal(got, pool) {
				t.Errorf("%s holds %q, want %q (reused)", Dir(root), got, pool)
			}
			if got := dirsIn(t, filepath.Join(Dir(root), pool[0])); len(got) != 0 {
				t.Errorf("the output directory holds %q after the action", got)
			}
			for _, p := range []string{"bld-out/p/extra", "bld-out/p/scratch", "tmp.txt"} {
				if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
					t.Errorf("%s, left by the command, reached the workspace", p)
				}
			}
			// An action that may leave processes behind gets a
			// directory of its own, deleted after it.
			daemon := &graph.Action{
				Argv: []string{"sh", "-c", "echo d > bld-out/p/d.txt"},
				Env:  env, Outputs: []string{"bld-out/p/d.txt"}, AllowDaemon: true,
			}
			runNamespace(t, m, daemon, helper)
			if got := dirsIn(t, Dir(root)); !slices.Equal(got, pool) {
				t.Errorf("%s holds %q after an AllowDaemon action, want %q", Dir(root), got, pool)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if got := dirsIn(t, Dir(root)); len(got) != 0 {
				t.Errorf("%s holds %q after Close", Dir(root), got)
			}
		})
	}
}

// dirsIn lists the names in dir.
func dirsIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Commands run at once through one zygote share its control socket: each
// gets its own answers (pid, exit status), whatever order they end in.
func TestZygoteConcurrent(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	const n = 8
	type result struct {
		out  string
		code int
		err  error
	}
	results := make(chan [2]any, n)
	for i := range n {
		// Later commands end first.
		a := &graph.Action{Argv: []string{"sh", "-c", "sleep 0." + strconv.Itoa(n-i) + "; echo " + strconv.Itoa(i) + "; exit " + strconv.Itoa(i)},
			Env: []string{"PATH=/usr/bin:/bin"}}
		s, r, _ := zygoteRun(t, context.Background(), m, a)
		go func() {
			out := readAll(t, r)
			code, _, _, err := s.Wait()
			results <- [2]any{i, result{out, code, err}}
		}()
	}
	if pid := m.zygote.pidRunning(); pid == 0 {
		t.Fatal("no zygote")
	}
	for range n {
		got := <-results
		i, r := got[0].(int), got[1].(result)
		if r.err != nil || r.code != i || r.out != strconv.Itoa(i)+"\n" {
			t.Errorf("command %d: exit %d, %v, output %q", i, r.code, r.err, r.out)
		}
	}
}

// A command cancelled before the zygote answered is killed as soon as it
// starts, and its late answers go nowhere.
func TestZygoteCancelBeforeStart(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &graph.Action{Argv: []string{"sh", "-c", "sleep 30"}, Env: []string{"PATH=/usr/bin:/bin"}}
	xr, err := m.Prepare(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer xr.Remove()
	cmd, err := xr.Command(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
	w.Close()
	if s != nil || err == nil {
		t.Fatalf("StartZygote with a cancelled context: %v, %v", s, err)
	}
	begin := time.Now()
	readAll(t, r) // EOF once the command, if it started, is killed
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("the command ran for %v", d)
	}
	// The zygote still serves.
	b := &graph.Action{Argv: []string{"sh", "-c", "echo next"}, Env: []string{"PATH=/usr/bin:/bin"}}
	s, r, _ = zygoteRun(t, context.Background(), m, b)
	if out := readAll(t, r); out != "next\n" {
		t.Errorf("output %q", out)
	}
	if code, _, _, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
}

// Inputs are read-only in the exec root, through the zygote (whose
// namespace holds the read-only view of the workspace, made once) and
// through the per-action helper alike, while output directories are
// writable; the workspace's sandbox directory, writable in the zygote's
// view, is hidden like the rest of the workspace.
func TestInputsReadOnly(t *testing.T) {
	for _, helper := range []bool{false, true} {
		t.Run(map[bool]string{false: "zygote", true: "helper"}[helper], func(t *testing.T) {
			root := t.TempDir()
			m := namespaceManager(t, root)
			os.MkdirAll(filepath.Join(root, "p/dir"), 0o755)
			os.MkdirAll(filepath.Join(root, "bld-out/p"), 0o755)
			os.WriteFile(filepath.Join(root, "p/in.txt"), []byte("in\n"), 0o644)
			os.WriteFile(filepath.Join(root, "p/dir/f"), []byte("f\n"), 0o644)
			a := &graph.Action{
				Argv: []string{"sh", "-c", `
{ echo x >> p/in.txt; } 2>/dev/null && echo wrote-input
{ echo x > p/dir/new; } 2>/dev/null && echo wrote-input-dir
rm -f p/dir/f 2>/dev/null && echo removed
ls ` + Dir(root) + ` 2>/dev/null && echo saw-sandbox
ls ` + filepath.Join(root, "bld-out") + ` 2>/dev/null && echo saw-bld-out
cat p/in.txt p/dir/f > bld-out/p/o`},
				Env: []string{"PATH=/usr/bin:/bin"}, Inputs: []string{"p/in.txt", "p/dir"}, Outputs: []string{"bld-out/p/o"},
			}
			if out := runNamespace(t, m, a, helper); out != "" {
				t.Errorf("output %q, want none", out)
			}
			if b, err := os.ReadFile(filepath.Join(root, "bld-out/p/o")); err != nil || string(b) != "in\nf\n" {
				t.Errorf("output file %q, %v", b, err)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "p/in.txt")); string(b) != "in\n" {
				t.Errorf("input changed: %q", b)
			}
		})
	}
}

// mkdirs makes a directory and its missing parents, takes one that exists
// (and what made lists) as made, and refuses a file in the way.
func TestMkdirs(t *testing.T) {
	dir := t.TempDir()
	made := map[string]bool{dir: true}
	deep := filepath.Join(dir, "a/b/c")
	if err := mkdirs(deep, made); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(deep); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v", deep, err)
	}
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		if !made[filepath.Join(dir, d)] {
			t.Errorf("%s not recorded as made", d)
		}
	}
	os.Mkdir(filepath.Join(dir, "x"), 0o755)
	if err := mkdirs(filepath.Join(dir, "x"), made); err != nil {
		t.Errorf("an existing directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	if err := mkdirs(filepath.Join(dir, "f"), made); err == nil {
		t.Error("a file in the way: no error")
	}
	if err := mkdirs(filepath.Join(dir, "f/g"), made); err == nil {
		t.Error("a file as parent: no error")
	}
}

// A request larger than the control socket takes in one datagram is
// declined (the caller runs the per-action helper), and the zygote goes
// on serving.
func TestZygoteRequestTooLarge(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	big := strings.Repeat("x", 100<<10)
	env := []string{"PATH=/usr/bin:/bin"}
	for i := range 40 { // 4 MB: more than net.core.wmem_max allows anywhere usual
		env = append(env, "BIG"+strconv.Itoa(i)+"="+big)
	}
	a := &graph.Action{Argv: []string{"sh", "-c", "echo big"}, Env: env}
	xr, err := m.Prepare(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer xr.Remove()
	cmd, err := xr.Command(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	s, err := xr.StartZygote(context.Background(), cmd, int(w.Fd()), nil)
	w.Close()
	if s != nil || err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("StartZygote of a %d-byte environment: %v, %v", len(env)*len(big), s, err)
	}
	b := &graph.Action{Argv: []string{"sh", "-c", "echo small"}, Env: []string{"PATH=/usr/bin:/bin"}}
	s, r2, _ := zygoteRun(t, context.Background(), m, b)
	if out := readAll(t, r2); out != "small\n" {
		t.Errorf("output %q", out)
	}
	if code, _, _, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
}

// The zygote's threads serve command after command: each gets a
// fresh exec root with its own inputs only (nothing an earlier one had or
// left in it), the workspace hidden at its path, its outputs collected,
// stdin /dev/null, and no capability, although the thread dropped them
// once.
func TestZygoteSequence(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret\n"), 0o644)
	for i := range maxSlotUses + 2 { // past a slot's teardown
		n := strconv.Itoa(i)
		os.WriteFile(filepath.Join(root, "in"+n+".txt"), []byte("in "+n+"\n"), 0o644)
		a := &graph.Action{
			Argv: []string{"sh", "-c", `ls -A; ls -A ..; cat in*.txt; cat; cat ` + root + `/secret.txt 2>/dev/null || echo hidden
grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status | tr -d '\t'; echo x > left` + n + `; echo out > bld-out/o` + n},
			Env:     []string{"PATH=/usr/bin:/bin"},
			Inputs:  []string{"in" + n + ".txt"},
			Outputs: []string{"bld-out/o" + n},
		}
		s, r, xr := zygoteRun(t, context.Background(), m, a)
		out := readAll(t, r)
		if code, state, _, err := s.Wait(); err != nil || code != 0 {
			t.Fatalf("command %d: exit %d (%s), %v; output %q", i, code, state, err, out)
		}
		want := "bld-out\nin" + n + ".txt\nexecroot\nin " + n + "\nhidden\n" +
			"CapInh:0000000000000000\nCapPrm:0000000000000000\nCapEff:0000000000000000\nCapAmb:0000000000000000\n"
		if out != want {
			t.Errorf("command %d: output %q, want %q", i, out, want)
		}
		if err := xr.Collect(a); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "bld-out/o"+n)); err != nil || string(b) != "out\n" {
			t.Errorf("command %d: collected output %q, %v", i, b, err)
		}
	}
}

// A command in a pid namespace gets one answer from the zygote, its
// last: when the zygote cannot start it (here, no such program), Wait
// says so (ErrNotStarted) and leaves the command ready for the per-action
// helper, which then runs it and reports the failure.
func TestZygoteCannotStartFallsBack(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	if ok, why := m.KillsDescendants(); !ok {
		t.Skipf("no pid namespaces: %s", why)
	}
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	a := &graph.Action{Argv: []string{"sh", "-c", "echo hi"}, Env: []string{"PATH=/usr/bin:/bin"}}
	ctx := context.Background()
	xr, err := m.Prepare(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer xr.Remove()
	xr.DeferInputList()
	cmd, err := xr.CommandOf(ctx, a, program.Program{Path: "/nonexistent/sh", Name: "/nonexistent/sh"})
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
	if s == nil {
		t.Fatalf("StartZygote: %v; want the request sent", err)
	}
	if s.Pid != 0 {
		t.Errorf("pid %d: the zygote told the pid of a command in a pid namespace", s.Pid)
	}
	_, _, _, err = s.Wait()
	if !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Wait: %v; want ErrNotStarted", err)
	}
	if _, err := os.Stat(cmd.Args[3]); err != nil {
		t.Fatalf("the helper's plan file %q: %v", cmd.Args[3], err)
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := readAll(t, r)
	if err := cmd.Wait(); err == nil || !strings.Contains(out, "no such file") {
		t.Errorf("the helper: %v, output %q; want a failure saying the program is missing", err, out)
	}
}

// Commands sent at once from several goroutines, so that the zygote's
// serving threads start them side by side (each in a slot of its own),
// each get their own exit status and output, each as pid 1 of a pid
// namespace of its own whose /proc shows only itself (the shell's glob
// forks nothing); those
// cancelled while they run are killed; and the zygote serves on. With one
// serving thread, and with more than the machine needs.
func TestZygoteParallelStarts(t *testing.T) {
	for _, threads := range []int{1, 5} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) { testZygoteParallelStarts(t, threads) })
	}
}

func testZygoteParallelStarts(t *testing.T, threads int) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	m.zygote.threads = threads
	if ok, why := m.KillsDescendants(); !ok {
		t.Skipf("no pid namespaces: %s", why)
	}
	os.MkdirAll(filepath.Join(root, "bld-out"), 0o755)
	const senders, each = 6, 12
	env := []string{"PATH=/usr/bin:/bin"}
	errs := make(chan error, senders*each)
	for g := range senders {
		go func() {
			for k := range each {
				i := g*each + k
				ctx, cancel := context.WithCancel(context.Background())
				// Every third command runs until it is cancelled.
				script := `test $$ = 1 || echo "pid $$"; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n; echo ` + strconv.Itoa(i) + `; exit ` + strconv.Itoa(i%100)
				want := "1\n" + strconv.Itoa(i) + "\n"
				if i%3 == 0 {
					script, want = "echo "+strconv.Itoa(i)+"; exec sleep 30", strconv.Itoa(i)+"\n"
				}
				a := &graph.Action{Argv: []string{"sh", "-c", script}, Env: env}
				xr, err := m.Prepare(ctx, a)
				if err != nil {
					errs <- err
					cancel()
					continue
				}
				cmd, err := xr.Command(ctx, a)
				if err != nil {
					errs <- err
					cancel()
					continue
				}
				r, w, _ := os.Pipe()
				cmd.Stdout, cmd.Stderr = w, w
				s, err := xr.StartZygote(ctx, cmd, int(w.Fd()), nil)
				w.Close()
				if err != nil {
					r.Close()
					errs <- fmt.Errorf("command %d: not started: %v", i, err)
					cancel()
					continue
				}
				go func() {
					defer cancel()
					defer xr.Remove()
					var out []byte
					buf := make([]byte, 256)
					for !strings.HasSuffix(string(out), "\n") || i%3 != 0 {
						n, err := r.Read(buf)
						out = append(out, buf[:n]...)
						if err != nil {
							break
						}
					}
					if i%3 == 0 {
						cancel()
						readAll(t, r)
					} else {
						r.Close()
					}
					code, _, _, err := s.Wait()
					wantCode := i % 100
					if i%3 == 0 {
						wantCode = 128 + int(syscall.SIGKILL)
					}
					if err != nil || code != wantCode || string(out) != want {
						errs <- fmt.Errorf("command %d: exit %d (want %d), %v, output %q, want %q", i, code, wantCode, err, out, want)
						return
					}
					errs <- nil
				}()
			}
		}()
	}
	for range senders * each {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	b := &graph.Action{Argv: []string{"sh", "-c", "echo next"}, Env: env}
	s, r, _ := zygoteRun(t, context.Background(), m, b)
	if out := readAll(t, r); out != "next\n" {
		t.Errorf("output %q", out)
	}
	if code, _, _, err := s.Wait(); code != 0 || err != nil {
		t.Errorf("exit %d, %v", code, err)
	}
}

func TestServingThreads(t *testing.T) {
	for _, c := range []struct{ cpus, want int }{{1, 3}, {2, 3}, {4, 5}, {8, 9}, {64, 9}} {
		if got := servingThreads(c.cpus); got != c.want {
			t.Errorf("servingThreads(%d) = %d, want %d", c.cpus, got, c.want)
		}
	}
}

// contextSwitches is the count of context switches of process pid's
// threads so far.
func contextSwitches(t *testing.T, pid int) int {
	t.Helper()
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(files) == 0 {
		t.Fatalf("the zygote's threads: %v", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			} else if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

// An idle zygote costs nothing: once its serving threads have had no
// event for rawWaitFor, they wait where the Go runtime neither preempts
// them nor polls for them (raw waits made some 300-800 context switches a
// second), and they still serve the next command.
func TestZygoteIdleQuiet(t *testing.T) {
	root := t.TempDir()
	m := namespaceManager(t, root)
	run := func(n string) {
		a := &graph.Action{Argv: []string{"sh", "-c", "echo " + n + " > bld-out/o" + n},
			Env: []string{"PATH=/usr/bin:/bin"}, Outputs: []string{"bld-out/o" + n}}
		s, r, xr := zygoteRun(t, context.Background(), m, a)
		readAll(t, r)
		if code, state, _, err := s.Wait(); err != nil || code != 0 {
			t.Fatalf("exit %d (%s), %v", code, state, err)
		}
		if err := xr.Collect(a); err != nil {
			t.Fatal(err)
		}
	}
	run("1")
	pid := m.zygote.pidRunning()
	if pid == 0 {
		t.Fatal("no zygote runs")
	}
	time.Sleep(rawWaitFor + 200*time.Millisecond)
	before := contextSwitches(t, pid)
	time.Sleep(500 * time.Millisecond)
	if n := contextSwitches(t, pid) - before; n > 10 {
		t.Errorf("the idle zygote made %d context switches in 500 ms", n)
	}
	run("2")
	if b, err := os.ReadFile(filepath.Join(root, "bld-out/o2")); err != nil || string(b) != "2\n" {
		t.Errorf("the command after the idle time: %q, %v", b, err)
	}
}
