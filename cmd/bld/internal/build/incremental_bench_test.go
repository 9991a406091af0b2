package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wideWorkspace writes pkgs packages of per genrules each, every one with a
// source file, like bench/gen's wide shape.
func wideWorkspace(b *testing.B, pkgs, per int) string {
	root := b.TempDir()
	files := map[string]string{"WORKSPACE.star": ""}
	for p := range pkgs {
		var sb strings.Builder
		for i := range per {
			n := fmt.Sprintf("t%03d%02d", p, i)
			fmt.Fprintf(&sb, "genrule(name = %q, srcs = [%q], outs = [%q], cmd = \"cat $(SRCS) > $@\")\n", n, n+".in", n+".txt")
			files[fmt.Sprintf("p%03d/%s.in", p, n)] = n + "\n"
		}
		files[fmt.Sprintf("p%03d/BUILD.star", p)] = sb.String()
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkIncremental10k: a comment added to one BUILD.star of 100
// packages of 100 genrules, then an analysis that reuses the snapshot.
// BenchmarkFull10k analyzes the same workspace without a snapshot.
func BenchmarkIncremental10k(b *testing.B) { benchAnalyze(b, true) }
func BenchmarkFull10k(b *testing.B)        { benchAnalyze(b, false) }

func benchAnalyze(b *testing.B, incremental bool) {
	root := wideWorkspace(b, 100, 100)
	snap := filepath.Join(b.TempDir(), "analysis")
	if !incremental {
		snap = ""
	}
	t := &testing.T{}
	if _, _, err := analyzeForTest(t, root, []string{"//..."}, snap); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		f, _ := os.OpenFile(filepath.Join(root, "p042/BUILD.star"), os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprintf(f, "# %d\n", i)
		f.Close()
		b.StartTimer()
		_, phases, err := analyzeForTest(t, root, []string{"//..."}, snap)
		if err != nil {
			b.Fatal(err)
		}
		if incremental && !strings.HasPrefix(phases[len(phases)-1], "analysis (incremental") {
			b.Fatalf("phases %q", phases)
		}
	}
}
