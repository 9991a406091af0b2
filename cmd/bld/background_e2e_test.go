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
