package main

import (
	"testing"
)

// A BUILD.star whose data grows without end is stopped by the heap
// watchdog: the error names the file, line and column, the bound and the
// flag; bld exits 1 instead of exhausting the machine's memory. bld query
// has the same watchdog and flag.
func TestMemoryWatchdog(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"mem/BUILD.star": `def grow():
    x = []
    for i in range(1000000):
        x.append([i] * 1000)  # 16 KB each, 16 GB in all
    return x

y = grow()
`,
		"ok/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")
`,
	})
	for _, args := range [][]string{
		{"build", "--max_eval_memory=128MiB", "//mem:all"},
		{"query", "--max_eval_memory", "128M", "//mem:all"},
	} {
		r := w.bld(args...)
		if r.code != exitFailed {
			t.Fatalf("want exit %d:\n%s", exitFailed, r)
		}
		wantContains(t, r.stderr, "mem/BUILD.star:7:9: in <toplevel>",
			"past its bound of 128.0 MiB (--max_eval_memory), while it evaluated mem/BUILD.star")
		// The interpreter notices the cancellation at the loop's next
		// step: in its body (line 4) or at the for (line 3).
		wantMatch(t, r.stderr, `mem/BUILD\.star:[34]:\d+: in grow`)
	}
	// Below the bound nothing changes; a bad size is a bad command line.
	w.mustBuild("build", "--max_eval_memory=128MiB", "//ok:g")
	if r := w.bld("build", "--max_eval_memory=lots", "//ok:g"); r.code != exitUsage {
		t.Errorf("--max_eval_memory=lots: want exit %d:\n%s", exitUsage, r)
	}
}
