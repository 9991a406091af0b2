package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// sandboxModes are the modes that isolate actions on this machine: symlinks
// everywhere, namespace where it works.
func sandboxModes(t *testing.T) []sandbox.Mode {
	modes := []sandbox.Mode{sandbox.ModeSymlinks}
	if runtime.GOOS == "linux" {
		if _, _, err := sandbox.NewManager(t.TempDir(), sandbox.ModeNamespace).Mode(context.Background()); err != nil {
			t.Logf("namespace mode not tested: %v", err)
		} else {
			modes = append(modes, sandbox.ModeNamespace)
		}
	}
	return modes
}

// needNamespace skips a test of the namespace mode where it does not work.
func needNamespace(t *testing.T) {
	t.Helper()
	if _, _, err := sandbox.NewManager(t.TempDir(), sandbox.ModeNamespace).Mode(context.Background()); err != nil {
		t.Skipf("namespace mode does not work here: %v", err)
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSandboxHidesUndeclaredFiles(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"p/in.txt": "in\n", "p/secret.txt": "secret\n"})
			tests := []struct {
				name, script string
				ok           bool
			}{
				{"declared input", "cat p/in.txt > bld-out/o", true},
				{"undeclared by relative path", "cat p/secret.txt > bld-out/o", false},
				// The symlink forest cannot hide absolute paths.
				{"undeclared by absolute path", "cat " + root + "/p/secret.txt > bld-out/o", mode == sandbox.ModeSymlinks},
				// Nor a directory listing of the input's directory.
				{"listing", "ls p > bld-out/o; ! grep -q secret bld-out/o", true},
			}
			for _, tt := range tests {
				a := sh("//p:x", tt.script, []string{"p/in.txt"}, []string{"bld-out/o"})
				_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode)
				if (err == nil) != tt.ok {
					t.Errorf("%s: err = %v (output %q), want success %v", tt.name, err, rec.results["//p:x"].Output, tt.ok)
				}
			}
		})
	}
}

func TestSandboxHint(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"gen.sh": "#!/bin/sh\necho gen > \"$1\"\n"})
			for _, tt := range []struct {
				name string
				argv []string
			}{
				{"through sh", []string{"sh", "-c", "./gen.sh bld-out/o"}},
				{"as argv[0]", []string{"./gen.sh", "bld-out/o"}},
			} {
				a := &graph.Action{Owner: "//:g", Mnemonic: "Genrule", Argv: tt.argv, Env: testEnv, Outputs: []string{"bld-out/o"}}
				_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode)
				if err == nil {
					t.Fatalf("%s: an undeclared ./gen.sh ran", tt.name)
				}
				r := rec.results["//:g"]
				want := "gen.sh exists in the workspace but is not an input of this action; declare it"
				if !strings.Contains(r.Err.Error(), want) {
					t.Errorf("%s: error %q (output %q) lacks %q", tt.name, r.Err, r.Output, want)
				}
				a.Inputs = []string{"gen.sh"}
				if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode); err != nil {
					t.Errorf("%s: with gen.sh declared: %v %q", tt.name, err, rec.results["//:g"].Output)
				}
			}
		})
	}
}

func TestSandboxWorkingDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	realRoot, _ := filepath.EvalSymlinks(root)
	tests := []struct {
		mode      sandbox.Mode
		noSandbox bool
		want      func(got string) bool
	}{
		{sandbox.ModeSymlinks, false, func(got string) bool { return strings.HasPrefix(got, sandbox.Dir(realRoot)+"/") }},
		{sandbox.ModeSymlinks, true, func(got string) bool { return got == realRoot }},
		{sandbox.ModeOff, false, func(got string) bool { return got == realRoot }},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests,
			struct {
				mode      sandbox.Mode
				noSandbox bool
				want      func(got string) bool
			}{sandbox.ModeNamespace, false, func(got string) bool { return got == sandbox.FixedExecRoot }},
			struct {
				mode      sandbox.Mode
				noSandbox bool
				want      func(got string) bool
			}{sandbox.ModeNamespace, true, func(got string) bool { return got == realRoot }})
	}
	for _, tt := range tests {
		if tt.mode == sandbox.ModeNamespace {
			if _, _, err := sandbox.NewManager(root, tt.mode).Mode(context.Background()); err != nil {
				continue
			}
		}
		a := sh("//p:pwd", "pwd -P > bld-out/pwd", nil, []string{"bld-out/pwd"})
		a.NoSandbox = tt.noSandbox
		if _, _, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), tt.mode); err != nil {
			t.Fatalf("%v: %v", tt.mode, err)
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(root, "bld-out/pwd"))); !tt.want(got) {
			t.Errorf("mode %v, NoSandbox %v: working directory %q", tt.mode, tt.noSandbox, got)
		}
	}
}

func TestSandboxOutputs(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"p/in.txt": "in\n"})
			a := sh("//p:o", "mkdir -p bld-out/p/sub && cp p/in.txt bld-out/p/sub/o; echo x > extra; echo y > bld-out/p/extra; echo z > p/new",
				[]string{"p/in.txt"}, []string{"bld-out/p/sub/o"})
			if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode); err != nil {
				t.Fatal(err, string(rec.results["//p:o"].Output))
			}
			if got := readFile(t, filepath.Join(root, "bld-out/p/sub/o")); got != "in\n" {
				t.Errorf("output = %q", got)
			}
			for _, p := range []string{"extra", "bld-out/p/extra", "p/new"} {
				if exists(filepath.Join(root, p)) {
					t.Errorf("%s, which the action left in its exec root, reached the workspace", p)
				}
			}
			if left, _ := os.ReadDir(sandbox.Dir(root)); len(left) != 0 {
				t.Errorf("%d exec roots left after the build", len(left))
			}
			// A declared output the command does not write is reported.
			miss := sh("//p:m", "true", nil, []string{"bld-out/p/m"})
			_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{miss}, 1, false, newMemCache(), mode)
			if err == nil || !strings.Contains(rec.results["//p:m"].Err.Error(), "did not write its declared output bld-out/p/m") {
				t.Errorf("missing output: %v", rec.results["//p:m"].Err)
			}
		})
	}
}

func TestSandboxDirectoryInput(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"data/a.txt": "a\n", "data/b/c.txt": "c\n"})
			a := sh("//p:d", "cat data/a.txt data/b/c.txt > bld-out/d", []string{"data"}, []string{"bld-out/d"})
			if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode); err != nil {
				t.Fatal(err, string(rec.results["//p:d"].Output))
			}
			if got := readFile(t, filepath.Join(root, "bld-out/d")); got != "a\nc\n" {
				t.Errorf("output = %q", got)
			}
		})
	}
}

// TestSandboxDepfile compiles with gcc -MD: the depfile bld keeps names
// workspace-relative paths, and system headers by their absolute path.
func TestSandboxDepfile(t *testing.T) {
	t.Parallel()
	gcc := needGcc(t)
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"p/a.c":       "#include <stdio.h>\n#include \"a.h\"\n#include \"inc/b.h\"\nint f(void) { return A + B; }\n",
				"p/a.h":       "#define A 1\n",
				"p/inc/b.h":   "#define B 2\n",
				"p/unused.h":  "#define U 3\n",
				"p/local.h":   "#define L 4\n",
				"p/nothing.c": "",
			})
			a := &graph.Action{Owner: "//p:a", Mnemonic: "CcCompile", Env: []string{"PATH=" + filepath.Dir(gcc) + ":/usr/bin:/bin"},
				Argv:    []string{"gcc", "-c", "p/a.c", "-I" + root + "/p", "-o", "bld-out/p/a.o", "-MD", "-MF", "bld-out/p/a.d"},
				Inputs:  []string{"p/a.c"},
				More:    &graph.More{Depfile: "bld-out/p/a.d", Discoverable: []string{"p/a.h", "p/inc/b.h", "p/unused.h"}},
				Outputs: []string{"bld-out/p/a.d", "bld-out/p/a.o"}}
			if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode); err != nil {
				t.Fatal(err, string(rec.results["//p:a"].Output))
			}
			d := readFile(t, filepath.Join(root, "bld-out/p/a.d"))
			for _, want := range []string{"bld-out/p/a.o:", "  p/a.c \\\n", "  p/a.h \\\n", "  p/inc/b.h", "/usr/include/stdio.h"} {
				if !strings.Contains(d, want) {
					t.Errorf("depfile lacks %q:\n%s", want, d)
				}
			}
			if strings.Contains(d, root) || strings.Contains(d, sandbox.FixedDir) || strings.Contains(d, "unused") {
				t.Errorf("depfile names the exec root, the workspace's path or an unread header:\n%s", d)
			}
		})
	}
}

func needGcc(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("gcc is not installed; this test needs the real compiler (see .ci/run)")
	}
	return gcc
}

// TestSandboxGccDebugInfoIsLocationIndependent compiles the same source
// with -g in two workspaces at different paths: in the namespace both see
// /tmp/bld-sandbox/execroot as their working directory, so the objects are
// byte-identical.
func TestSandboxGccDebugInfoIsLocationIndependent(t *testing.T) {
	t.Parallel()
	needNamespace(t)
	gcc := needGcc(t)
	var objects [][]byte
	for _, dir := range []string{"one", "checkout/two"} {
		root := filepath.Join(t.TempDir(), dir)
		writeFiles(t, root, map[string]string{
			"lib/f.c": "#include \"f.h\"\nint twice(int x) { return x * F; }\n",
			"lib/f.h": "#define F 2\n",
		})
		a := &graph.Action{Owner: "//lib:f", Mnemonic: "CcCompile", Env: []string{"PATH=" + filepath.Dir(gcc) + ":/usr/bin:/bin"},
			Argv:   []string{"gcc", "-g", "-O0", "-c", "lib/f.c", "-o", "bld-out/lib/f.o"},
			Inputs: []string{"lib/f.c", "lib/f.h"}, Outputs: []string{"bld-out/lib/f.o"}}
		if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), sandbox.ModeNamespace); err != nil {
			t.Fatal(err, string(rec.results["//lib:f"].Output))
		}
		obj, err := os.ReadFile(filepath.Join(root, "bld-out/lib/f.o"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(obj, []byte(root)) {
			t.Errorf("the object built in %s names that directory", root)
		}
		if !bytes.Contains(obj, []byte(sandbox.FixedExecRoot)) {
			t.Errorf("the object's debug info does not name %s as its compilation directory", sandbox.FixedExecRoot)
		}
		objects = append(objects, obj)
	}
	if !bytes.Equal(objects[0], objects[1]) {
		t.Error("objects built with -g in two workspaces differ")
	}
}

func TestSandboxCancelKillsQuickly(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			a := sh("//p:sleep", "sleep 30", nil, []string{"bld-out/s"})
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			begin := time.Now()
			_, _, err := buildSandboxed(t, ctx, root, []*graph.Action{a}, 1, false, newMemCache(), mode)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want one wrapping context.Canceled", err)
			}
			if d := time.Since(begin); d > 3*time.Second {
				t.Errorf("Run took %v; the sandboxed action was not killed at once", d)
			}
			if left, _ := os.ReadDir(sandbox.Dir(root)); len(left) != 0 {
				t.Errorf("%d exec roots left after the build", len(left))
			}
		})
	}
}

// In namespace mode the command sees its inputs as regular files and no
// other workspace file by any path: not by a relative path out of the exec
// root, not through the real path of an input, not by the checkout's path.
func TestNamespaceShowsOnlyInputs(t *testing.T) {
	t.Parallel()
	if _, _, err := sandbox.NewManager(t.TempDir(), sandbox.ModeNamespace).Mode(context.Background()); err != nil {
		t.Fatalf("namespace mode does not work here: %v", err)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"p/in.txt": "declared\n", "p/secret.txt": "undeclared\n"})
	for _, tt := range []struct {
		name, script string
		wantOK       bool
	}{
		{"the input is a regular file", `test -f p/in.txt && ! test -L p/in.txt && cat p/in.txt > bld-out/o`, true},
		{"relative escape", `cat ../src/p/secret.txt > bld-out/o`, false},
		{"relative escape two up", `cat ../../bld-sandbox/src/p/secret.txt > bld-out/o`, false},
		{"next to the input's real path", `cat "$(dirname "$(readlink -f p/in.txt)")/secret.txt" > bld-out/o`, false},
		{"the checkout's path", `cat ` + root + `/p/secret.txt > bld-out/o`, false},
	} {
		a := sh("//:t", tt.script, []string{"p/in.txt"}, []string{"bld-out/o"})
		_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), sandbox.ModeNamespace)
		if (err == nil) != tt.wantOK {
			t.Errorf("%s: error %v, output %q", tt.name, err, rec.results["//:t"].Output)
		}
	}
}

// A program found through an absolute PATH entry inside the workspace runs
// only if it is an input, and then it is that program that runs (as the
// action key resolved it), not another one later in PATH.
func TestProgramInWorkspacePath(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"bin/cat": "#!/bin/sh\necho wrapper > \"$1\"\n"})
			os.Chmod(filepath.Join(root, "bin/cat"), 0o755)
			env := []string{"PATH=" + filepath.Join(root, "bin") + ":/usr/bin:/bin"}
			a := &graph.Action{Owner: "//:w", Mnemonic: "W", Argv: []string{"cat", "bld-out/o"}, Env: env, Outputs: []string{"bld-out/o"}}
			_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode)
			if err == nil || !strings.Contains(err.Error()+rec.results["//:w"].Err.Error(), "bin/cat exists in the workspace but is not an input") {
				t.Errorf("undeclared bin/cat: %v / %v", err, rec.results["//:w"].Err)
			}
			a.Inputs = []string{"bin/cat"}
			if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode); err != nil {
				t.Fatalf("declared bin/cat: %v %q", err, rec.results["//:w"].Output)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "bld-out/o")); string(got) != "wrapper\n" {
				t.Errorf("output %q, want the wrapper's", got)
			}
		})
	}
}

// In the namespace sandbox the command keeps no capability (the helper had
// CAP_SYS_ADMIN to mount), through the zygote (where a command in a pid
// namespace is its pid 1) and through the per-action helper
// (BLD_SANDBOX_ZYGOTE=0, where the helper is pid 1).
func TestNamespaceCommandCapabilities(t *testing.T) {
	needNamespace(t)
	for _, zygote := range []string{"1", "0"} {
		t.Run("zygote="+zygote, func(t *testing.T) {
			t.Setenv("BLD_SANDBOX_ZYGOTE", zygote)
			root := t.TempDir()
			a := sh("//p:caps", `{ echo $$; grep CapEff /proc/self/status; } > bld-out/caps`, nil, []string{"bld-out/caps"})
			if _, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), sandbox.ModeNamespace); err != nil {
				t.Fatal(err, string(rec.results["//p:caps"].Output))
			}
			lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(root, "bld-out/caps"))), "\n")
			if len(lines) != 2 || lines[1] != "CapEff:\t0000000000000000" {
				t.Errorf("the command's pid and capabilities: %q", lines)
			}
			if pid1 := lines[0] == "1"; pid1 != (zygote == "1") {
				t.Errorf("the command's pid is %s (zygote %s)", lines[0], zygote)
			}
		})
	}
}

// An action past its Timeout is killed at once in every sandbox mode
// (through the zygote in namespace mode), with everything it started.
func TestSandboxTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			a := sh("//p:slow", "sleep 30 & sleep 31", nil, []string{"bld-out/s"})
			a.Edit().Timeout = 300 * time.Millisecond
			begin := time.Now()
			_, rec, err := buildSandboxed(t, context.Background(), root, []*graph.Action{a}, 1, false, newMemCache(), mode)
			if err == nil || !errors.Is(rec.results["//p:slow"].Err, ErrTimedOut) {
				t.Errorf("err = %v, action error %v; want one wrapping ErrTimedOut", err, rec.results["//p:slow"].Err)
			}
			// Well under the commands' 30 s, with room for a loaded machine.
			if d := time.Since(begin); d > 20*time.Second {
				t.Errorf("Run took %v; the action was not killed at its timeout", d)
			}
		})
	}
}

// In the namespace sandbox, a command's output is read until the pipe's
// end, which a process that left the command's group may hold: with a
// pid namespace (the default) it dies with the command, so the action
// ends at once; without one (AllowDaemon) bld reads for waitDelay after
// the command's end, no longer, and keeps what the command printed.
func TestNamespaceOutputHeldByDaemon(t *testing.T) {
	needNamespace(t)
	for _, daemon := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowDaemon=%v", daemon), func(t *testing.T) {
			took := buildWithDaemon(t, sandbox.ModeNamespace, daemon)
			switch {
			case daemon && (took < waitDelay || took > waitDelay+20*time.Second):
				t.Errorf("the action took %v with a daemon holding its output, want waitDelay (%v) and a little more", took, waitDelay)
			case !daemon && took >= waitDelay:
				t.Errorf("the action took %v: its pid namespace's processes died with it, nothing held its output", took)
			}
		})
	}
}

// buildWithDaemon runs an action whose command leaves a daemon behind (it
// leaves the command's group, setsid, and keeps stdout) and ends once the
// daemon has left, printing "printed"; it checks that the action succeeds
// with that output, and returns how long the build took. allowDaemon sets
// the action's AllowDaemon. The daemon is killed at the test's end.
func buildWithDaemon(t *testing.T, mode sandbox.Mode, allowDaemon bool) time.Duration {
	t.Helper()
	root := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	a := sh("//p:d", "setsid sh -c 'echo $$ > "+pidFile+".new; mv "+pidFile+".new "+pidFile+"; exec sleep 60' & "+
		"while [ ! -e "+pidFile+" ]; do sleep 0.01; done; echo printed; echo x > bld-out/o", nil, []string{"bld-out/o"})
	a.AllowDaemon = allowDaemon
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			// Its pid is the host's unless a pid namespace hid it
			// (and killed it with the command).
			hostPid := mode == sandbox.ModeOff || allowDaemon
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && hostPid {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, rec, err := buildSandboxed(t, ctx, root, []*graph.Action{a}, 1, false, newMemCache(), mode)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err, string(rec.results["//p:d"].Output))
	}
	if out := string(rec.results["//p:d"].Output); out != "printed\n" {
		t.Errorf("output %q, want %q", out, "printed\n")
	}
	return took
}

// When the zygote cannot start a command (here, its interpreter is not
// there: exec fails), the per-action helper runs it, with an output pipe
// of its own, and what it says of the failure is the action's output.
func TestNamespaceZygoteFallbackOutput(t *testing.T) {
	needNamespace(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"p/tool.sh": "#!/no/such/interpreter\necho never\n"})
	a := &graph.Action{Owner: "//p:t", Mnemonic: "Tool", Argv: []string{"p/tool.sh"}, Env: testEnv,
		Inputs: []string{"p/tool.sh"}, Outputs: []string{"bld-out/o"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, rec, err := buildSandboxed(t, ctx, root, []*graph.Action{a}, 1, false, newMemCache(), sandbox.ModeNamespace)
	if err == nil {
		t.Fatal("an action whose interpreter does not exist succeeded")
	}
	r := rec.results["//p:t"]
	if out := string(r.Output) + r.Err.Error(); !strings.Contains(out, "no such file or directory") {
		t.Errorf("the action's output and error say %q, want the helper's exec error", out)
	}
}
