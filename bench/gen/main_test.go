package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// edge is one action as either file describes it.
type edge struct {
	Inputs []string
	Cmd    string
}

var (
	genruleRE = regexp.MustCompile(`(?s)genrule\(\s*name = ("[^"]*"),\s*srcs = \[([^\]]*)\],\s*outs = \[("[^"]*")\],\s*cmd = ("[^"]*"),\s*\)`)
	stringRE  = regexp.MustCompile(`"[^"]*"`)
)

func unquote(t *testing.T, s string) string {
	t.Helper()
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("bad string %s: %v", s, err)
	}
	return u
}

// starEdges reads every BUILD.star under dir and returns the actions they
// declare, keyed by output path, with labels resolved and cmd expanded the
// way bld expands a genrule's.
func starEdges(t *testing.T, dir string) map[string]edge {
	t.Helper()
	type rule struct {
		pkg, name, out, cmd string
		srcs                []string
	}
	rules := map[string]rule{} // by label "//pkg:name"
	files, err := filepath.Glob(filepath.Join(dir, "*", "BUILD.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no BUILD.star files in %s (%v)", dir, err)
	}
	for _, f := range files {
		pkg := filepath.Base(filepath.Dir(f))
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		ms := genruleRE.FindAllStringSubmatch(text, -1)
		if got, want := len(ms), strings.Count(text, "genrule("); got != want {
			t.Fatalf("%s: parsed %d of %d genrules", f, got, want)
		}
		for _, m := range ms {
			r := rule{pkg: pkg, name: unquote(t, m[1]), out: unquote(t, m[3]), cmd: unquote(t, m[4])}
			for _, s := range stringRE.FindAllString(m[2], -1) {
				r.srcs = append(r.srcs, unquote(t, s))
			}
			rules["//"+pkg+":"+r.name] = r
		}
	}
	edges := map[string]edge{}
	for _, r := range rules {
		var in []string
		for _, s := range r.srcs {
			switch {
			case strings.HasPrefix(s, ":") || strings.HasPrefix(s, "//"):
				l := s
				if strings.HasPrefix(s, ":") {
					l = "//" + r.pkg + s
				}
				d, ok := rules[l]
				if !ok {
					t.Fatalf("//%s:%s: src %q names no target", r.pkg, r.name, s)
				}
				in = append(in, "bld-out/"+d.pkg+"/"+d.out)
			default:
				p := r.pkg + "/" + s
				if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
					t.Fatalf("//%s:%s: source file: %v", r.pkg, r.name, err)
				}
				in = append(in, p)
			}
		}
		out := "bld-out/" + r.pkg + "/" + r.out
		cmd := strings.NewReplacer("$(SRCS)", strings.Join(in, " "), "$@", out).Replace(r.cmd)
		edges[out] = edge{Inputs: in, Cmd: cmd}
	}
	return edges
}

// ninjaEdges reads dir/build.ninja (the simple subset gen writes).
func ninjaEdges(t *testing.T, dir string) map[string]edge {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "build.ninja"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unesc := strings.NewReplacer("$$", "$", "$ ", " ", "$:", ":")
	// splitPaths splits on unescaped spaces.
	splitPaths := func(s string) []string {
		var out []string
		for _, p := range regexp.MustCompile(`(?:\$.|[^ $])+`).FindAllString(s, -1) {
			out = append(out, unesc.Replace(p))
		}
		return out
	}
	edges := map[string]edge{}
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "build "):
			head, ins, ok := strings.Cut(strings.TrimPrefix(line, "build "), ": genrule")
			if !ok {
				t.Fatalf("build.ninja: unexpected line %q", line)
			}
			cur = unesc.Replace(head)
			if _, dup := edges[cur]; dup {
				t.Fatalf("build.ninja: %s built twice", cur)
			}
			edges[cur] = edge{Inputs: splitPaths(strings.TrimSpace(ins))}
		case strings.HasPrefix(line, "  cmd = "):
			e := edges[cur]
			e.Cmd = unesc.Replace(strings.TrimPrefix(line, "  cmd = "))
			edges[cur] = e
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return edges
}

func TestSameGraph(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    *graph
		n    int
	}{
		{"wide", wide(250, 100), 250},
		{"layered", layered(250, 30, 5), 250},
		{"layered-short-last-layer", layered(107, 10, 4), 107},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.g.write(dir); err != nil {
				t.Fatal(err)
			}
			star, nin := starEdges(t, dir), ninjaEdges(t, dir)
			if len(star) != tc.n {
				t.Errorf("BUILD.star files declare %d genrules, want %d", len(star), tc.n)
			}
			if diff := cmp.Diff(star, nin); diff != "" {
				t.Errorf("BUILD.star and build.ninja differ (-star +ninja):\n%s", diff)
			}
			// Every action reads a source file, or 2 or 3 generated files.
			for out, e := range star {
				gen := 0
				for _, in := range e.Inputs {
					if strings.HasPrefix(in, "bld-out/") {
						gen++
					}
				}
				if !(len(e.Inputs) == 1 && gen == 0) && !(gen == len(e.Inputs) && gen >= 2 && gen <= 3) {
					t.Errorf("%s reads %v", out, e.Inputs)
				}
			}
		})
	}
}

// TestLayeredShape checks that layered graphs mix same-package and
// cross-package labels and are deterministic.
func TestLayeredShape(t *testing.T) {
	g := layered(1000, 100, 10)
	local, remote := 0, 0
	for i := range g.targets {
		for _, l := range g.srcLabels(&g.targets[i]) {
			switch {
			case strings.HasPrefix(l, ":"):
				local++
			case strings.HasPrefix(l, "//"):
				remote++
			}
		}
	}
	if local == 0 || remote == 0 {
		t.Errorf("layered graph has %d same-package and %d cross-package deps; want both", local, remote)
	}
	if diff := cmp.Diff(layered(1000, 100, 10).targets, g.targets, cmp.AllowUnexported(target{})); diff != "" {
		t.Errorf("layered is not deterministic:\n%s", diff)
	}
	if len(g.pkgs) != 10 {
		t.Errorf("got %d packages, want 10", len(g.pkgs))
	}
}

// TestNinjaBuilds runs ninja on a small workspace.
func TestNinjaBuilds(t *testing.T) {
	ninja, err := exec.LookPath("ninja")
	if err != nil {
		t.Fatal("ninja is not installed (apt-get install ninja-build; .ci/run does)")
	}
	dir := t.TempDir()
	g := layered(60, 10, 3)
	if err := g.write(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ninja, "-j2")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ninja: %v\n%s", err, out)
	}
	var got []string
	filepath.Walk(filepath.Join(dir, "bld-out"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	var want []string
	for i := range g.targets {
		want = append(want, g.targets[i].outPath())
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ninja outputs (-want +got):\n%s", diff)
	}
}
