package snapshot

import (
	"fmt"
	"testing"

	"bld/exec/graph"
	"bld/starlark/workspace"
)

// genSnapshot returns a snapshot shaped like that of bench/gen's layered
// genrules: n actions, each reading two outputs of the layer before.
func genSnapshot(n int) *Snapshot {
	s := &Snapshot{Key: "k", Reads: &workspace.Reads{Files: map[string]string{}, Exists: map[string]bool{}}, Env: map[string]EnvValue{}}
	for i := range n {
		pkg := fmt.Sprintf("p%04d", i/100)
		out := fmt.Sprintf("bld-out/%s/t%d.txt", pkg, i)
		a := &graph.Action{Owner: fmt.Sprintf("//%s:t%d", pkg, i), Mnemonic: "Genrule",
			Argv:    []string{"/bin/sh", "-c", fmt.Sprintf("cat $(SRCS) > %s; echo %d >> %s", out, i, out)},
			Env:     []string{"PATH=/usr/bin:/bin"},
			Outputs: []string{out}}
		if i >= 100 {
			a.Inputs = []string{fmt.Sprintf("bld-out/p%04d/t%d.txt", (i-100)/100, i-100), fmt.Sprintf("bld-out/p%04d/t%d.txt", (i-99)/100, i-99)}
		} else {
			src := fmt.Sprintf("%s/src%d.txt", pkg, i)
			a.Inputs = []string{src}
			s.Reads.Exists[src] = true
		}
		s.Actions = append(s.Actions, a)
		s.Goals = append(s.Goals, out)
		s.Reads.Files[pkg+"/BUILD.star"] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	}
	return s
}

func BenchmarkEncode(b *testing.B) {
	s := genSnapshot(100000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data, err := Encode(genSnapshot(100000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
