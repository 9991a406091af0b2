package status

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/executor"
	"bld/exec/graph"
)

func TestDistinctMessages(t *testing.T) {
	ax := &graph.Action{Owner: "//a:x", Mnemonic: "CcCompile", Description: "Compiling src/where.c"}
	by := &graph.Action{Owner: "//b:y", Mnemonic: "CcCompile", Description: "Compiling src/where.c"}
	other := &graph.Action{Owner: "//a:x", Mnemonic: "CcCompile", Description: "Compiling src/main.c"}
	// Two actions of one owner with the default message: naming the owner
	// again would not tell them apart, so it is not appended.
	d1 := &graph.Action{Owner: "//c:z", Mnemonic: "Stamp", Outputs: []string{"1"}}
	d2 := &graph.Action{Owner: "//c:z", Mnemonic: "Stamp", Outputs: []string{"2"}}
	got := distinctMessages([]*graph.Action{ax, by, other, d1, d2, other})
	want := map[*graph.Action]string{
		ax:    "Compiling src/where.c (//a:x)",
		by:    "Compiling src/where.c (//b:y)",
		other: "Compiling src/main.c", // listed twice, still one action
		d1:    "Stamp //c:z",
		d2:    "Stamp //c:z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	// The display keeps only the messages that differ from Message().
	over := messageOverrides([]*graph.Action{ax, by, other, d1, d2})
	wantOver := map[*graph.Action]string{ax: want[ax], by: want[by]}
	if diff := cmp.Diff(wantOver, over); diff != "" {
		t.Errorf("overrides (-want +got):\n%s", diff)
	}
	d := New(&bytes.Buffer{}, false)
	d.Planned([]*graph.Action{ax, by, other, d1, d2})
	for a, m := range want {
		if got := d.message(a); got != m {
			t.Errorf("display message of %s = %q, want %q", a.Owner, got, m)
		}
	}
}

// Every block of output is headed by its action, whether it ran or was
// restored; in a group, each action's header heads what is left of its
// output once repeated diagnostics are left out, and an action with
// nothing left prints no header.
func TestHeaders(t *testing.T) {
	p0 := &graph.Action{Owner: "//lib:lib", Mnemonic: "CcCompile", Description: "Compiling partition 1/3 of //lib:lib", More: &graph.More{Group: "//lib:lib partitions"}, Outputs: []string{"0.o"}}
	p1 := &graph.Action{Owner: "//lib:lib", Mnemonic: "CcCompile", Description: "Compiling partition 2/3 of //lib:lib", More: &graph.More{Group: "//lib:lib partitions"}, Outputs: []string{"1.o"}}
	p2 := &graph.Action{Owner: "//lib:lib", Mnemonic: "CcCompile", Description: "Compiling partition 3/3 of //lib:lib", More: &graph.More{Group: "//lib:lib partitions"}, Outputs: []string{"2.o"}}
	tool := &graph.Action{Owner: "//gen:tab", Mnemonic: "Genrule", Description: "Generating tab.c", Argv: []string{"lemon", "x.y"}, Outputs: []string{"tab.c"}}
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{p0, p1, p2, tool})
	d.Finished(executor.Result{ID: 3, Action: tool, Status: executor.StatusRestored, Output: []byte("1 parsing conflicts.\n")})
	d.Finished(executor.Result{ID: 2, Action: p2, Status: executor.StatusRan, Output: []byte(partition1)})
	d.Finished(executor.Result{ID: 1, Action: p1, Status: executor.StatusRan})
	d.Finished(executor.Result{ID: 0, Action: p0, Status: executor.StatusRan, Output: []byte(partition0)})
	merged := new(shownDiagnostics).merge([][]byte{[]byte(partition0), nil, []byte(partition1)}, nil, "3 actions of //lib:lib partitions")
	want := "From //gen:tab (Genrule, restored): Generating tab.c:\n1 parsing conflicts.\n" +
		"From //lib:lib (CcCompile): Compiling partition 1/3 of //lib:lib:\n" + string(merged[0]) +
		"From //lib:lib (CcCompile): Compiling partition 3/3 of //lib:lib:\n" + string(merged[2])
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if n := strings.Count(buf.String(), "unused variable 'u'"); n != 1 {
		t.Errorf("the shared warning is printed %d times, want 1", n)
	}
}

// A group whose every diagnostic was printed by an earlier member: the later
// member prints no header, having nothing left.
func TestHeaderOmittedWhenMergedAway(t *testing.T) {
	a := &graph.Action{Owner: "//p:u", Mnemonic: "CcCompile", More: &graph.More{Group: "g"}, Outputs: []string{"a"}}
	b := &graph.Action{Owner: "//p:u", Mnemonic: "CcCompile", More: &graph.More{Group: "g"}, Outputs: []string{"b"}}
	warning := "p/h.h:1:5: warning: x [-Wx]\n"
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{a, b})
	d.Finished(executor.Result{ID: 0, Action: a, Status: executor.StatusRan, Output: []byte(warning)})
	d.Finished(executor.Result{ID: 1, Action: b, Status: executor.StatusRan, Output: []byte(warning)})
	want := "From //p:u (CcCompile):\n" + warning + "[bld: the warning above was printed by 2 of 2 actions of g; shown once]\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestSubcommandsAndColor(t *testing.T) {
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		d := New(&buf, false)
		d.Subcommands(true)
		d.Color(color)
		d.Planned([]*graph.Action{compile, write})
		d.Started(0, compile)
		d.Started(1, write)
		d.Finished(executor.Result{ID: 1, Action: write, Status: executor.StatusRan, Output: []byte("note\n")})
		d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusFailed, ExitCode: 1, Err: errors.New("command exited with status 1")})
		d.Summary(executor.Summary{Total: 2, Ran: 1, Failed: 1}, time.Second)
		want := `SUBCOMMAND: //lib:foo (CcCompile)
gcc -c lib/foo.c '-DMSG=hello world' -o bld-out/lib/foo.o
[0/2, 1 running] CcCompile //lib:foo
SUBCOMMAND: //lib:cfg (Write): Writing config.h
write bld-out/lib/config.h
[0/2, 1 running] Writing config.h
From //lib:cfg (Write): Writing config.h:
note
FAILED: //lib:foo (CcCompile)
gcc -c lib/foo.c '-DMSG=hello world' -o bld-out/lib/foo.o
error: command exited with status 1
bld: 1 action failed:
  //lib:foo (CcCompile)
bld: 2 actions: 1 ran, 0 up to date, 1 failed (1.00s)
`
		if color {
			want = strings.NewReplacer(
				"SUBCOMMAND:", "\x1b[32mSUBCOMMAND:\x1b[0m",
				"FAILED:", "\x1b[1;31mFAILED:\x1b[0m",
				"From //lib:cfg (Write): Writing config.h:", "\x1b[1mFrom //lib:cfg (Write): Writing config.h:\x1b[0m",
				"  //lib:foo (CcCompile)\n", "  \x1b[1;31m//lib:foo (CcCompile)\x1b[0m\n",
			).Replace(want)
		}
		if diff := cmp.Diff(want, buf.String()); diff != "" {
			t.Errorf("color=%v: output (-want +got):\n%s", color, diff)
		}
	}
}

// Across actions that are not a group (compiles including one header), the
// header's warning is printed once, by the first: a later action's block
// keeps what is left (its header only if anything is), a restored action's
// output is merged the same way, a failure keeps its errors, and the build
// ends with the repeated diagnostic and how many actions printed it, before
// the list of failures.
func TestDiagnosticsOnceAcrossActions(t *testing.T) {
	cc := func(name string) *graph.Action {
		return &graph.Action{Owner: "//p:" + name, Mnemonic: "CcCompile", Argv: []string{"gcc", "-c", "p/" + name + ".c"}, Outputs: []string{name + ".o"}}
	}
	a, b, c, e := cc("a"), cc("b"), cc("c"), cc("e")
	own := "p/b.c:5:1: warning: control reaches end of non-void function [-Wreturn-type]\n"
	undeclared := "p/e.c:2:3: error: 'y' undeclared (first use in this function)\n"
	var buf bytes.Buffer
	d := New(&buf, false)
	d.Planned([]*graph.Action{a, b, c, e})
	d.Finished(executor.Result{ID: 0, Action: a, Status: executor.StatusRan, Output: []byte(headerWarning("p/a.c"))})
	d.Finished(executor.Result{ID: 1, Action: b, Status: executor.StatusRan, Output: []byte(headerWarning("p/b.c") + own)})
	d.Finished(executor.Result{ID: 2, Action: c, Status: executor.StatusRestored, Output: []byte(headerWarning("p/c.c"))})
	d.Finished(executor.Result{ID: 3, Action: e, Status: executor.StatusFailed, ExitCode: 1, Err: errors.New("command exited with status 1"),
		Output: []byte(headerWarning("p/e.c") + undeclared)})
	d.Summary(executor.Summary{Total: 4, Ran: 2, Restored: 1, Failed: 1}, time.Second)
	want := "From //p:a (CcCompile):\n" + headerWarning("p/a.c") +
		"From //p:b (CcCompile):\n" + own +
		"FAILED: //p:e (CcCompile)\ngcc -c p/e.c\nerror: command exited with status 1\n" + undeclared +
		"bld: 1 diagnostic printed once, repeated by other actions:\n" +
		"  p/h.h:3:7: warning: unused variable 'x' [-Wunused-variable] (4 actions)\n" +
		"bld: 1 action failed:\n  //p:e (CcCompile)\n" +
		"bld: 4 actions: 2 ran, 1 restored, 0 up to date, 1 failed (1.00s)\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// The display is on the build's path, called for every action: an action
// that finishes without output costs no allocation.
func TestFinishedWithoutOutputAllocatesNothing(t *testing.T) {
	d := New(io.Discard, false)
	d.Planned([]*graph.Action{compile, write})
	d.Finished(executor.Result{ID: 0, Action: compile, Status: executor.StatusRan, Output: []byte(headerWarning("p/a.c"))})
	for _, status := range []executor.Status{executor.StatusCached, executor.StatusRestored, executor.StatusRan} {
		if n := testing.AllocsPerRun(100, func() {
			d.Finished(executor.Result{ID: 1, Action: write, Status: status})
		}); n != 0 {
			t.Errorf("Finished(%s, no output) allocates %v times", status, n)
		}
	}
}
