package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// processesRunning returns the pids whose command line is exactly argv.
func processesRunning(t *testing.T, argv ...string) []string {
	t.Helper()
	want := []byte(string(bytes.Join(func() [][]byte {
		var b [][]byte
		for _, a := range argv {
			b = append(b, []byte(a))
		}
		return b
	}(), []byte{0})) + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, "cmdline")); err == nil && bytes.Equal(data, want) {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

// An action that leaves a process running in the background: the build
// does not wait for it, and it does not outlive the action.
func TestBackgroundProcessKilled(t *testing.T) {
	for _, mode := range []string{"auto", "off"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorkspace(t, map[string]string{
				"bg/BUILD.star": `genrule(name = "bg", outs = ["o.txt"], cmd = "sleep 987.654 & echo hi > $@")
`,
			})
			r := w.mustBuild("build", "--sandbox="+mode, "//bg:bg")
			if r.elapsed > 3*time.Second {
				t.Errorf("the build took %v: it waited for the background process", r.elapsed)
			}
			deadline := time.Now().Add(2 * time.Second)
			for len(processesRunning(t, "sleep", "987.654")) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the background process survived the build: pids %v", processesRunning(t, "sleep", "987.654"))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// An action that prints 20 MB and fails: bld prints its FAILED block with
// the first and last 512 KiB and where the whole output is, once; the file
// holds all of it.
func TestHugeOutputBounded(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"big/BUILD.star": `genrule(name = "big", outs = ["o.txt"], cmd = "seq 1 2600000; exit 1")
`,
	})
	r := w.bld("build", "//big:big")
	if r.code != exitFailed {
		t.Fatalf("want exit %d:\n%.2000s", exitFailed, r.String())
	}
	if n := len(r.stderr); n > 2<<20 {
		t.Errorf("bld printed %d bytes, want at most about 1 MiB", n)
	}
	wantContains(t, r.stderr, "FAILED: //big:big (Genrule)", "\n1\n2\n3\n", "\n2600000\n",
		"bytes of output left out here; the whole output is in "+w.path("bld-out/.bld/logs/bld-out_big_o.txt.log"))
	data, err := os.ReadFile(w.path("bld-out/.bld/logs/bld-out_big_o.txt.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("1\n2\n")) || !bytes.HasSuffix(data, []byte("\n2599999\n2600000\n")) {
		t.Errorf("the log does not hold the whole output (%d bytes)", len(data))
	}
}
