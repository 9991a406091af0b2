package executor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// A command that prints more than bld keeps in memory (here 3 MB, stdout
// and stderr interleaved, much more than a pipe holds) runs to its end
// (bld reads while it waits), its kept output is the head, a note naming
// the log and the tail, and the log holds all of it, in every mode the
// runner starts commands in.
func TestHugeOutputThroughTheRunner(t *testing.T) {
	t.Parallel()
	modes := append([]sandbox.Mode{sandbox.ModeOff}, sandboxModes(t)...)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			logDir := filepath.Join(root, "logs")
			// 3000 lines of 1000 bytes: "NNNN" and x's; odd lines on stderr.
			script := `i=0; line=$(printf '%996s' '' | tr ' ' x); while [ $i -lt 3000 ]; do ` +
				`if [ $((i % 2)) = 0 ]; then printf '%04d%s\n' $i "$line"; else printf '%04d%s\n' $i "$line" >&2; fi; i=$((i+1)); done; ` +
				`echo done > bld-out/o`
			a := sh("//p:big", script, nil, []string{"bld-out/o"})
			g, err := graph.New([]*graph.Action{a}, func(string) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := Run(ctx, g, []int{0}, Options{Root: root, Cache: newMemCache(), Tokens: NewSemaphore(1),
				Observer: rec, Sandbox: mode, LogDir: logDir}); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			for i := range 3000 {
				fmt.Fprintf(&want, "%04d%s\n", i, strings.Repeat("x", 996))
			}
			whole, err := os.ReadFile(logPathFor(logDir, a.Outputs))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(whole, want.Bytes()) {
				t.Errorf("the log holds %d bytes, not the command's %d", len(whole), want.Len())
			}
			out := rec.results["//p:big"].Output
			if !bytes.HasPrefix(out, want.Bytes()[:outputHeadLimit]) || !bytes.HasSuffix(out, want.Bytes()[want.Len()-outputTailLimit:]) ||
				!bytes.Contains(out, []byte("the whole output is in "+logPathFor(logDir, a.Outputs))) {
				t.Errorf("kept output of %d bytes is not the head, a note naming the log, and the tail", len(out))
			}
		})
	}
}

// How a command ended is said in its error: an exit status, or the signal
// that killed it (which only then is spelt out).
func TestCommandEndInError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script, want string
	}{
		{"exit 3", "command exited with status 3"},
		{"kill -KILL $$", "command terminated: signal: killed"},
		{"kill -TERM $$", "command terminated: signal: terminated"},
	} {
		root := t.TempDir()
		a := sh("//p:end", tc.script, nil, []string{"bld-out/o"})
		g, err := graph.New([]*graph.Action{a}, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = Run(ctx, g, []int{0}, Options{Root: root, Cache: newMemCache(), Tokens: NewSemaphore(1),
			Observer: rec, Sandbox: sandbox.ModeOff})
		cancel()
		if err == nil {
			t.Fatalf("%q: the build succeeded", tc.script)
		}
		r := rec.results["//p:end"]
		if r.Err == nil || r.Err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.script, r.Err, tc.want)
		}
		if wantCode := map[bool]int{true: 3, false: -1}[tc.script == "exit 3"]; r.ExitCode != wantCode {
			t.Errorf("%q: exit code %d, want %d", tc.script, r.ExitCode, wantCode)
		}
	}
}
