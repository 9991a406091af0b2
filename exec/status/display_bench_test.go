package status

import (
	"io"
	"testing"

	"bld/exec/executor"
	"bld/exec/graph"
)

// BenchmarkFinished is the display's cost per finished action (not a
// terminal, output discarded): without output, with a tool's line, and
// with a header's warning as gcc prints it (left out after the first
// time, since the diagnostics are printed once per build).
func BenchmarkFinished(b *testing.B) {
	a := &graph.Action{Owner: "//p:lib", Mnemonic: "CcCompile", Description: "Compiling p/a.c", Argv: []string{"gcc", "-c", "p/a.c"}, Outputs: []string{"a.o"}}
	for _, bc := range []struct {
		name   string
		status executor.Status
		output string
	}{
		{"no-output", executor.StatusCached, ""},
		{"tool-line", executor.StatusRan, "1 parsing conflicts.\n"},
		{"header-warning", executor.StatusRan, "In file included from p/a.c:1:\np/h.h: In function 'h':\n" +
			"p/h.h:3:33: warning: unused variable 'x' [-Wunused-variable]\n" +
			"    3 | static inline int h(void) { int x; return 1; }\n" +
			"      |                                 ^\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := New(io.Discard, false)
			d.Planned([]*graph.Action{a})
			r := executor.Result{Action: a, Status: bc.status, Output: []byte(bc.output)}
			b.ReportAllocs()
			for b.Loop() {
				d.Finished(r)
			}
		})
	}
}

// BenchmarkStarted is the display's cost per started action, not on a
// terminal: the line "[done/total, N running] message".
func BenchmarkStarted(b *testing.B) {
	a := &graph.Action{Owner: "//p:lib", Mnemonic: "CcCompile", Description: "Compiling p/a.c", Argv: []string{"gcc", "-c", "p/a.c"}, Outputs: []string{"a.o"}}
	d := New(io.Discard, false)
	d.Planned([]*graph.Action{a})
	b.ReportAllocs()
	for b.Loop() {
		d.Started(0, a)
	}
}
