// Command gen writes a synthetic bld workspace of trivial genrules, and the
// same action graph as a build.ninja at the workspace root, so that bld and
// ninja can be timed running the very same commands.
//
//	go run ./bench/gen -shape wide|layered -n 1000 -out DIR
//
// Shapes:
//
//   - wide: n independent genrules; each reads one source file of its own
//     (so bld hashes n inputs) and copies it: cat $(SRCS) > $@.
//   - layered: -layers layers of ceil(n/layers) genrules each. Layer 0 reads
//     one source file per target, like wide. Every target of layer k > 0
//     reads 2 or 3 outputs of layer k-1, picked from its column index
//     (deterministic), and writes their checksum: cat $(SRCS) | cksum > $@
//     (cksum keeps outputs small however deep the graph is).
//
// Targets are spread over packages p0000, p0001, ... of -per-pkg targets
// each. In the wide shape target t is in package t/per-pkg. In the layered
// shape a package holds a band of columns through all layers, so a target's
// inputs are mostly in its own package (":t00042") and sometimes in another
// ("//p0003:t00042").
//
// Outputs are bld-out/<package>/<target>.txt in both tools; commands are
// written into build.ninja already expanded, exactly as bld expands
// $(SRCS) and $@ (workspace-relative paths, srcs in the order written),
// and both tools run them with /bin/sh from the workspace root.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A target is one genrule of the generated graph.
type target struct {
	name string // "t00042"
	pkg  string // "p0003"
	src  string // its source file in the package ("t00042.in"), or ""
	deps []int  // indices of the targets whose outputs it reads
	cmd  string // genrule cmd, with $(SRCS) and $@
}

func (t *target) out() string { return t.name + ".txt" }

// outPath is the workspace-relative path of the target's output.
func (t *target) outPath() string { return "bld-out/" + t.pkg + "/" + t.out() }

// graph is the whole generated workspace, before it is written.
type graph struct {
	targets []target
	pkgs    []string // sorted package names
}

func pkgName(i int) string { return fmt.Sprintf("p%04d", i) }

// wide makes n independent genrules, perPkg to a package.
func wide(n, perPkg int) *graph {
	g := &graph{}
	for i := 0; i < n; i++ {
		g.targets = append(g.targets, target{
			name: fmt.Sprintf("t%05d", i),
			pkg:  pkgName(i / perPkg),
			src:  fmt.Sprintf("t%05d.in", i),
			cmd:  "cat $(SRCS) > $@",
		})
	}
	g.collectPkgs()
	return g
}

// layered makes n genrules in the given number of layers. Target index
// k*w+c is column c of layer k, w = ceil(n/layers); only the last layer may
// be short. Column c lives in package c*p/w, p = ceil(n/perPkg), so each
// package holds a band of columns through all the layers.
func layered(n, perPkg, layers int) *graph {
	w := (n + layers - 1) / layers
	p := (n + perPkg - 1) / perPkg
	g := &graph{}
	for i := 0; i < n; i++ {
		k, c := i/w, i%w
		t := target{
			name: fmt.Sprintf("t%05d", i),
			pkg:  pkgName(c * p / w),
		}
		if k == 0 {
			t.src = t.name + ".in"
			t.cmd = "cat $(SRCS) > $@"
		} else {
			// Layer k-1 is full (only the last layer is short), so every
			// column modulo w exists there.
			below := (k - 1) * w
			cols := []int{c, (c + 1) % w}
			if c%2 == 0 {
				cols = append(cols, (c+w/2)%w)
			}
			seen := map[int]bool{}
			for _, dc := range cols {
				if !seen[dc] {
					seen[dc] = true
					t.deps = append(t.deps, below+dc)
				}
			}
			t.cmd = "cat $(SRCS) | cksum > $@"
		}
		g.targets = append(g.targets, t)
	}
	g.collectPkgs()
	return g
}

func (g *graph) collectPkgs() {
	seen := map[string]bool{}
	for _, t := range g.targets {
		if !seen[t.pkg] {
			seen[t.pkg] = true
			g.pkgs = append(g.pkgs, t.pkg)
		}
	}
	sort.Strings(g.pkgs)
}

// srcLabels is the genrule's srcs attribute: the source file first, then
// the labels of the targets it reads.
func (g *graph) srcLabels(t *target) []string {
	var s []string
	if t.src != "" {
		s = append(s, t.src)
	}
	for _, d := range t.deps {
		dt := &g.targets[d]
		if dt.pkg == t.pkg {
			s = append(s, ":"+dt.name)
		} else {
			s = append(s, "//"+dt.pkg+":"+dt.name)
		}
	}
	return s
}

// srcPaths is what $(SRCS) expands to: workspace-relative paths, in order.
func (g *graph) srcPaths(t *target) []string {
	var s []string
	if t.src != "" {
		s = append(s, t.pkg+"/"+t.src)
	}
	for _, d := range t.deps {
		s = append(s, g.targets[d].outPath())
	}
	return s
}

// expand expands a genrule cmd the way bld does for a single-output rule.
func expand(cmd string, srcs []string, out string) string {
	r := strings.NewReplacer("$(SRCS)", strings.Join(srcs, " "), "$@", out)
	return r.Replace(cmd)
}

func (g *graph) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "WORKSPACE.star"),
		[]byte("# Synthetic benchmark workspace written by bench/gen.\n"), 0o644); err != nil {
		return err
	}
	byPkg := map[string][]*target{}
	for i := range g.targets {
		t := &g.targets[i]
		byPkg[t.pkg] = append(byPkg[t.pkg], t)
	}
	for _, p := range g.pkgs {
		pdir := filepath.Join(dir, p)
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return err
		}
		var b strings.Builder
		for _, t := range byPkg[p] {
			if t.src != "" {
				if err := os.WriteFile(filepath.Join(pdir, t.src), []byte(t.name+"\n"), 0o644); err != nil {
					return err
				}
			}
			var q []string
			for _, s := range g.srcLabels(t) {
				q = append(q, fmt.Sprintf("%q", s))
			}
			fmt.Fprintf(&b, "genrule(\n    name = %q,\n    srcs = [%s],\n    outs = [%q],\n    cmd = %q,\n)\n\n",
				t.name, strings.Join(q, ", "), t.out(), t.cmd)
		}
		if err := os.WriteFile(filepath.Join(pdir, "BUILD.star"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return g.writeNinja(filepath.Join(dir, "build.ninja"))
}

// ninjaEscape escapes a string for a ninja variable value or path.
func ninjaEscape(s string) string {
	return strings.NewReplacer("$", "$$", " ", "$ ", ":", "$:", "\n", "$\n").Replace(s)
}

func (g *graph) writeNinja(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# Written by bench/gen: the same graph as the BUILD.star files.\n")
	fmt.Fprintf(w, "ninja_required_version = 1.3\n\n")
	fmt.Fprintf(w, "rule genrule\n  command = $cmd\n  description = Genrule $out\n\n")
	for i := range g.targets {
		t := &g.targets[i]
		srcs := g.srcPaths(t)
		var in []string
		for _, s := range srcs {
			in = append(in, ninjaEscape(s))
		}
		cmd := expand(t.cmd, srcs, t.outPath())
		// Only $ and newlines need escaping in a variable value.
		cmd = strings.NewReplacer("$", "$$", "\n", "$\n").Replace(cmd)
		fmt.Fprintf(w, "build %s: genrule %s\n  cmd = %s\n", ninjaEscape(t.outPath()), strings.Join(in, " "), cmd)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	shape := flag.String("shape", "wide", "graph shape: wide or layered")
	n := flag.Int("n", 1000, "number of genrules")
	perPkg := flag.Int("per-pkg", 100, "targets per package")
	layers := flag.Int("layers", 10, "number of layers (layered shape)")
	out := flag.String("out", "", "directory to write the workspace into (must not exist, or be empty)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gen -shape wide|layered -n N [-per-pkg 100] [-layers 10] -out DIR")
		os.Exit(2)
	}
	if *n < 1 || *perPkg < 1 || *n > 99999 {
		fmt.Fprintln(os.Stderr, "gen: -n must be in 1..99999 and -per-pkg at least 1")
		os.Exit(2)
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		fmt.Fprintf(os.Stderr, "gen: %s is not empty\n", *out)
		os.Exit(2)
	}
	var g *graph
	switch *shape {
	case "wide":
		g = wide(*n, *perPkg)
	case "layered":
		if *layers < 2 || *layers > *n/2 {
			fmt.Fprintln(os.Stderr, "gen: -layers must be at least 2 and at most n/2 (layers of 2 or more)")
			os.Exit(2)
		}
		g = layered(*n, *perPkg, *layers)
	default:
		fmt.Fprintf(os.Stderr, "gen: unknown shape %q (want wide or layered)\n", *shape)
		os.Exit(2)
	}
	if err := g.write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
