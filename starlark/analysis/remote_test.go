package analysis_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
)

// TestRemoteRequirements: Bazel's tags and execution_requirements that
// concern remote execution reach the actions, and "local" implies both
// remote opt-outs.
func TestRemoteRequirements(t *testing.T) {
	files := map[string]string{"p/BUILD.star": `
genrule(name = "plain", outs = ["plain.txt"], cmd = "echo > $@")
genrule(name = "noremote", outs = ["nr.txt"], cmd = "echo > $@", tags = ["no-remote"])
genrule(name = "noexec", outs = ["ne.txt"], cmd = "echo > $@", tags = ["no-remote-exec"])
genrule(name = "nocache", outs = ["nc.txt"], cmd = "echo > $@", tags = ["no-remote-cache"])
genrule(name = "local", outs = ["l.txt"], cmd = "echo > $@", tags = ["local"])
`}
	a, err := analyze(t, files, "//p:plain")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"noremote", "noexec", "nocache", "local"} {
		if _, err := a.Analyze(context.Background(), label.Label{Pkg: "p", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	type req struct{ NoExec, NoCache, NoSandbox bool }
	got := map[string]req{}
	for _, act := range a.Actions() {
		got[act.Owner] = req{act.NoRemoteExec, act.NoRemoteCache, act.NoSandbox}
	}
	want := map[string]req{
		"//p:plain":    {},
		"//p:noremote": {NoExec: true, NoCache: true},
		"//p:noexec":   {NoExec: true},
		"//p:nocache":  {NoCache: true},
		"//p:local":    {NoExec: true, NoCache: true, NoSandbox: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requirements (-want +got):\n%s", diff)
	}
}

// TestExecProperties: a target's exec_properties override the workspace's
// default name by name, on every action of the target; a malformed value
// is an error naming the attribute.
func TestExecProperties(t *testing.T) {
	root := t.TempDir()
	write := func(p, c string) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("WORKSPACE.star", "")
	write("p/BUILD.star", `
genrule(name = "dflt", outs = ["d.txt"], cmd = "echo > $@")
genrule(name = "own", outs = ["o.txt"], cmd = "echo > $@",
        exec_properties = {"container-image": "docker://gcc:12", "Pool": "big"})
`)
	write("bad/BUILD.star", `genrule(name = "bad", outs = ["b.txt"], cmd = "echo > $@", exec_properties = {"a": 1})
`)
	cfg := analysis.Config{ExecProperties: []string{"OSFamily=linux", "container-image=docker://debian:12"}}
	analyzeWith := func(targets ...string) (*analysis.Analyzer, error) {
		a := analysis.New(loading.New(loading.Options{Root: root, Builtins: rules.Files}), cfg, []string{"PATH=/usr/bin:/bin"}, nil)
		for _, target := range targets {
			l, err := label.Parse(target, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err = a.Analyze(context.Background(), l); err != nil {
				return a, err
			}
		}
		return a, nil
	}
	a, err := analyzeWith("//p:dflt", "//p:own")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, act := range a.Actions() {
		got[act.Owner] = act.ExecProperties()
	}
	want := map[string]map[string]string{
		"//p:dflt": {"OSFamily": "linux", "container-image": "docker://debian:12"},
		"//p:own":  {"OSFamily": "linux", "container-image": "docker://gcc:12", "Pool": "big"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exec properties (-want +got):\n%s", diff)
	}
	if _, err := analyzeWith("//bad:bad"); err == nil || !strings.Contains(err.Error(), "exec_properties") {
		t.Errorf("a non-string exec property: got %v, want an error naming exec_properties", err)
	}
}
