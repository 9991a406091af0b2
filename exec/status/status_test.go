package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/executor"
	"bld/exec/graph"
)

var (
	compile = &graph.Action{Owner: "//lib:foo", Mnemonic: "CcCompile", Argv: []string{"gcc", "-c", "lib/foo.c", "-DMSG=hello world", "-o", "bld-out/lib/foo.o"},
		Outputs: []string{"bld-out/lib/foo.o"}}
	write = &graph.Action{Owner: "//lib:cfg", Mnemonic: "Write", Description: "Writing config.h", More: &graph.More{Content: []byte("x")}, Outputs: []string{"bld-out/lib/config.h"}}
	t0    = time.Unix(1700000000, 250_000_000)
)

func TestPlainDisplay(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{compile, write, write})
	d.Finished(executor.Result{ID: 2, Action: write, Status: executor.StatusCached})
	d.Started(0, compile)
	d.Started(1, write)
	d.Finished(executor.Result{ID: 1, Action: write, Status: executor.StatusRan})
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan, Output: []byte("foo.c:1: warning: unused\nsecond line")})
	d.Summary(executor.Summary{Total: 3, Ran: 2, UpToDate: 1}, 420*time.Millisecond)
	want := `[1/3, 1 running] CcCompile //lib:foo
[1/3, 1 running] Writing config.h
From //lib:foo (CcCompile):
foo.c:1: warning: unused
second line
bld: 3 actions: 2 ran, 1 up to date (0.42s)
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestFailureBlock(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{compile, write})
	d.Started(0, compile)
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusFailed, ExitCode: 1,
		Err: errors.New("command exited with status 1"), Output: []byte("lib/foo.c:3:5: error: nope\n")})
	d.Finished(executor.Result{ID: 1, Action: write, Status: executor.StatusFailed, ExitCode: -1, Err: errors.New("disk full")})
	d.Summary(executor.Summary{Total: 3, Failed: 2, Skipped: 1}, 50*time.Millisecond)
	want := `[0/2, 1 running] CcCompile //lib:foo
FAILED: //lib:foo (CcCompile)
gcc -c lib/foo.c '-DMSG=hello world' -o bld-out/lib/foo.o
error: command exited with status 1
lib/foo.c:3:5: error: nope
FAILED: //lib:cfg (Write)
write bld-out/lib/config.h
error: disk full
bld: 2 actions failed:
  //lib:foo (CcCompile)
  //lib:cfg (Write): Writing config.h
bld: 3 actions: 0 ran, 0 up to date, 2 failed, 1 skipped (0.05s)
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestSmartDisplay(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, true)
	d.Planned([]*graph.Action{compile, write})
	d.Started(0, compile)
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan, Output: []byte("warning\n")})
	d.Started(1, write)
	d.Finished(executor.Result{ID: 1, Action: write, Status: executor.StatusRan})
	d.Summary(executor.Summary{Total: 2, Ran: 2}, time.Second)
	want := "\r[0/2, 1 running] CcCompile //lib:foo\x1b[K" +
		"\r\x1b[KFrom //lib:foo (CcCompile):\nwarning\n" +
		"\r[1/2] CcCompile //lib:foo\x1b[K" +
		"\r[1/2] Writing config.h\x1b[K" +
		"\r[2/2] Writing config.h\x1b[K" +
		"\r\x1b[Kbld: 2 actions: 2 ran, 0 up to date (1.00s)\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		s    executor.Summary
		want string
	}{
		{executor.Summary{Total: 12, UpToDate: 12}, "bld: nothing to do: 12 actions up to date (0.05s)\n"},
		{executor.Summary{Total: 258, Ran: 2, Restored: 250, UpToDate: 6}, "bld: 258 actions: 2 ran, 250 restored, 6 up to date (0.05s)\n"},
		{executor.Summary{Total: 3, Restored: 3}, "bld: 3 actions: 0 ran, 3 restored, 0 up to date (0.05s)\n"},
		{executor.Summary{Total: 3, Ran: 1, UpToDate: 2}, "bld: 3 actions: 1 ran, 2 up to date (0.05s)\n"},
		{executor.Summary{Total: 4, Restored: 1, Failed: 1, Skipped: 2}, "bld: 4 actions: 0 ran, 1 restored, 0 up to date, 1 failed, 2 skipped (0.05s)\n"},
	} {
		var buf bytes.Buffer
		New(&buf, false).Summary(tc.s, 50*time.Millisecond)
		if got := buf.String(); got != tc.want {
			t.Errorf("Summary(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"cc", "-o", "a b", "it's", ""}, `cc -o 'a b' 'it'\''s' ''`},
		{[]string{"sh", "-c", "echo $HOME > x"}, `sh -c 'echo $HOME > x'`},
		{[]string{"ld", "-Wl,--gc-sections", "@args.txt", "x=1"}, `ld -Wl,--gc-sections @args.txt x=1`},
	} {
		if got := CommandLine(&graph.Action{Argv: tt.argv}); got != tt.want {
			t.Errorf("CommandLine(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

func TestEventLogAndMulti(t *testing.T) {
	var buf, plain bytes.Buffer
	log := NewEventLog(&buf)
	obs := Multi(New(&plain, false), log)
	obs.Planned([]*graph.Action{compile, write})
	obs.Started(0, compile)
	obs.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan, Reason: "no previous result",
		Start: t0, End: t0.Add(1500 * time.Millisecond)})
	obs.Finished(executor.Result{ID: 1, Action: write, Status: executor.StatusCached, Start: t0, End: t0})
	obs.Finished(executor.Result{ID: 2, Action: compile, Status: executor.StatusRestored, Reason: "ignored", Start: t0, End: t0})
	if err := log.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []Event
	for line := range strings.Lines(buf.String()) {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, e)
	}
	want := []Event{
		{Label: "//lib:foo", Mnemonic: "CcCompile", Outputs: []string{"bld-out/lib/foo.o"}, Start: 1700000000.25, End: 1700000001.75,
			Status: "ran", Reason: "no previous result"},
		{Label: "//lib:cfg", Mnemonic: "Write", Outputs: []string{"bld-out/lib/config.h"}, Start: 1700000000.25, End: 1700000000.25,
			Status: "cached"},
		{Label: "//lib:foo", Mnemonic: "CcCompile", Outputs: []string{"bld-out/lib/foo.o"}, Start: 1700000000.25, End: 1700000000.25,
			Status: "restored"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !strings.Contains(plain.String(), "[0/2, 1 running] CcCompile //lib:foo") {
		t.Errorf("Multi did not reach the display: %q", plain.String())
	}
	// The JSON field names are the contract of --events.
	for _, field := range []string{`"label"`, `"mnemonic"`, `"outputs"`, `"start"`, `"end"`, `"exit_code"`, `"status"`, `"reason"`} {
		if !strings.Contains(buf.String(), field) {
			t.Errorf("event log lacks %s", field)
		}
	}
}

// Real processes that write their output slowly, in parallel: each action's
// output appears as one contiguous block.
func TestOutputBlocksNotInterleaved(t *testing.T) {
	root := t.TempDir()
	var actions []*graph.Action
	for i := range 4 {
		script := fmt.Sprintf(`for n in 1 2 3 4 5; do echo "action%d line$n"; echo "action%d err$n" >&2; sleep 0.02; done; touch bld-out/o%d`, i, i, i)
		actions = append(actions, &graph.Action{Owner: fmt.Sprintf("//p:a%d", i), Mnemonic: "Sh",
			Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Outputs: []string{fmt.Sprintf("bld-out/o%d", i)}})
	}
	actions[3].Argv[2] += "; exit 2"
	g, err := graph.New(actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, smart := range []bool{false, true} {
		var buf bytes.Buffer
		d := New(&buf, smart)
		sum, _ := executor.Run(context.Background(), g, []int{0, 1, 2, 3}, executor.Options{
			Root: root, KeepGoing: true, Cache: nopCache{}, Tokens: executor.NewSemaphore(4), Observer: d})
		d.Summary(sum, time.Second)
		out := buf.String()
		for i := range 4 {
			var block strings.Builder
			for n := 1; n <= 5; n++ {
				fmt.Fprintf(&block, "action%d line%d\naction%d err%d\n", i, n, i, n)
			}
			if c := strings.Count(out, block.String()); c != 1 {
				t.Errorf("smart=%v: action %d's output appears %d times as a block in:\n%s", smart, i, c, out)
			}
		}
		if c := strings.Count(out, "FAILED: //p:a3 (Sh)\n"); c != 1 {
			t.Errorf("smart=%v: failure reported %d times", smart, c)
		}
	}
}

type nopCache struct{}

func (nopCache) Check(context.Context, *graph.Action) (executor.Check, error) {
	return executor.Check{Reason: "always"}, nil
}
func (nopCache) Store(context.Context, *graph.Action, string, []byte) error { return nil }
func (nopCache) Close() error                                               { return nil }

// The status line counts the actions finished and those running: a line
// per action started when not on a terminal, the line rewritten on one.
func TestStatusLineCountsRunning(t *testing.T) {
	actions := make([]*graph.Action, 4)
	for i := range actions {
		actions[i] = &graph.Action{Owner: fmt.Sprintf("//p:a%d", i), Mnemonic: "Sh", Argv: []string{"sh"}, Outputs: []string{fmt.Sprintf("o%d", i)}}
	}
	for _, smart := range []bool{false, true} {
		var buf bytes.Buffer
		d := New(&buf, smart)
		d.Planned(actions)
		d.Started(0, actions[0])
		d.Started(1, actions[1])
		d.Started(2, actions[2])
		d.Finished(executor.Result{ID: 1, Action: actions[1], Status: executor.StatusRan})
		d.Started(3, actions[3])
		for _, id := range []int{0, 2, 3} {
			d.Finished(executor.Result{ID: id, Action: actions[id], Status: executor.StatusRan})
		}
		want := "[0/4, 1 running] Sh //p:a0\n[0/4, 2 running] Sh //p:a1\n[0/4, 3 running] Sh //p:a2\n[1/4, 3 running] Sh //p:a3\n"
		if smart {
			want = "\r[0/4, 1 running] Sh //p:a0\x1b[K\r[0/4, 2 running] Sh //p:a1\x1b[K\r[0/4, 3 running] Sh //p:a2\x1b[K" +
				"\r[1/4, 2 running] Sh //p:a2\x1b[K\r[1/4, 3 running] Sh //p:a3\x1b[K" +
				"\r[2/4, 2 running] Sh //p:a3\x1b[K\r[3/4, 1 running] Sh //p:a3\x1b[K\r[4/4] Sh //p:a3\x1b[K"
		}
		if diff := cmp.Diff(want, buf.String()); diff != "" {
			t.Errorf("smart=%v: status (-want +got):\n%s", smart, diff)
		}
	}
}

// A status line longer than the terminal is cut, by runes, to fit.
func TestStatusLineFitsTheTerminal(t *testing.T) {
	a := &graph.Action{Owner: "//p:é", Mnemonic: "Sh", Description: "Écrire é", Argv: []string{"sh"}, Outputs: []string{"o"}}
	var buf bytes.Buffer
	d := New(&buf, true)
	d.width = 24
	d.Planned([]*graph.Action{a})
	d.Started(0, a)
	if want := "\r[0/1, 1 running] Écr...\x1b[K"; buf.String() != want {
		t.Errorf("status line %q, want %q", buf.String(), want)
	}
}

// An action whose command has ended (executor.Options.CommandEnded) no
// longer counts as running while its outputs are stored: at -j2 the next
// command's line says 2 running, not 3. A file-writing action (no command,
// done by a checker, not under a token) is never counted.
func TestCommandEndedNotRunning(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{compile, write, compile})
	d.Started(0, compile)
	d.Started(1, write)
	d.CommandEnded(0)
	d.Started(2, compile)
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan})
	want := "[0/3, 1 running] CcCompile //lib:foo\n[0/3, 1 running] Writing config.h\n[0/3, 1 running] CcCompile //lib:foo\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// A terminal too narrow for "..." gets the line as it is, never a panic.
func TestStatusLineNarrowTerminal(t *testing.T) {
	for width := 1; width <= 5; width++ {
		var buf bytes.Buffer
		d := New(&buf, true)
		d.width = width
		d.Planned([]*graph.Action{compile})
		d.Started(0, compile)
		if !strings.Contains(buf.String(), "CcCompile") && width <= 4 {
			t.Errorf("width %d: status line %q", width, buf.String())
		}
	}
}
