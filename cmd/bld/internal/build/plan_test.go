package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bld/exec/executor"
	"bld/exec/status"
	"bld/rules"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/snapshot"
)

// Analyze plans a genrule, and a second Analyze of the same request reuses
// the snapshot; another configuration does not.
func TestAnalyzeAndSnapshot(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   `genrule(name = "g", outs = ["g.txt"], cmd = "echo $(COMPILATION_MODE) > $@")` + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := Layout{Root: root}
	os.MkdirAll(l.StateDir(), 0o755)
	pattern, err := label.ParsePattern("//p:g", "")
	if err != nil {
		t.Fatal(err)
	}
	plan := func(cfg analysis.Config) (*Plan, []string) {
		var ph Phases
		p, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.Config = cfg
			r.Phases = &ph
		}))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ph.List {
			names = append(names, p.Name)
		}
		return p, names
	}
	p, phases := plan(analysis.Config{})
	if len(p.Graph.Actions) != 1 || len(p.Goals) != 1 || p.Graph.Actions[0].Outputs[0] != "bld-out/p/g.txt" {
		t.Fatalf("plan: %d actions, goals %v", len(p.Graph.Actions), p.Goals)
	}
	if len(phases) != 2 || phases[0] != "loading" || phases[1] != "analysis" {
		t.Errorf("first analysis phases %v, want loading, analysis", phases)
	}
	if _, phases = plan(analysis.Config{}); len(phases) != 1 || phases[0] != "analysis snapshot" {
		t.Errorf("second analysis phases %v, want the snapshot", phases)
	}
	opt, phases := plan(analysis.Config{CompilationMode: analysis.ModeOpt})
	if len(phases) != 2 {
		t.Errorf("-c opt reused the fastbuild snapshot: phases %v", phases)
	}
	if argv := opt.Graph.Actions[0].Argv; argv[len(argv)-1] == p.Graph.Actions[0].Argv[len(argv)-1] {
		t.Errorf("-c opt gave the same command: %q", argv)
	}
}

// TestAnalyzeSnapshotBytes checks the snapshot Analyze saves, whose actions
// are encoded while the index is made and the graph checked: the same
// workspace in two directories gives the same bytes, and they hold the
// reads of the graph's check (a source's existence) and the index. Saved
// later (Request.SaveLater) while the plan's actions run (under -race:
// the executor and the encoder share the actions), the bytes are the
// same, and the next Analyze reuses them.
func TestAnalyzeSnapshotBytes(t *testing.T) {
	files := map[string]string{"WORKSPACE.star": ""}
	for i := range 6 {
		p := fmt.Sprintf("p%d", i)
		build := `genrule(name = "a", srcs = ["a.in"], outs = ["a.txt"], cmd = "cat $< > $@")` + "\n" +
			`genrule(name = "b", srcs = [":a"], outs = ["b.txt"], cmd = "cat $(SRCS) > $@")` + "\n"
		if i > 0 {
			build = strings.Replace(build, `[":a"]`, fmt.Sprintf(`[":a", "//p%d:b"]`, i-1), 1)
		}
		files[p+"/BUILD.star"] = build
		files[p+"/a.in"] = p
	}
	pattern, err := label.ParsePattern("//...", "")
	if err != nil {
		t.Fatal(err)
	}
	save := func(later bool) []byte {
		root := t.TempDir()
		for name, content := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
			if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l := Layout{Root: root}
		os.MkdirAll(l.StateDir(), 0o755)
		p, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.SaveLater = later
		}))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Graph.Actions) != 12 {
			t.Fatalf("%d actions, want 12", len(p.Graph.Actions))
		}
		if later {
			out, err := Execute(context.Background(), p, ExecOptions{
				Layout: l, CacheDir: filepath.Join(root, "cache"), Tokens: executor.NewSemaphore(2),
				Observer: status.Multi(),
			})
			if err != nil || out.RunErr != nil || out.Summary.Ran != 12 {
				t.Fatalf("executing beside the save: %v, %v, %+v", err, out.RunErr, out.Summary)
			}
			if err := p.WaitSaved(); err != nil {
				t.Fatalf("WaitSaved: %v", err)
			}
			if err := p.WaitSaved(); err != nil {
				t.Fatalf("WaitSaved again: %v", err)
			}
			var ph Phases
			again, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
				r.Phases = &ph
			}))
			if err != nil {
				t.Fatal(err)
			}
			if len(ph.List) != 1 || ph.List[0].Name != "analysis snapshot" || len(again.Graph.Actions) != 12 {
				t.Errorf("after a build that saved later: phases %v, %d actions; want the snapshot's 12", ph.List, len(again.Graph.Actions))
			}
		} else if err := p.WaitSaved(); err != nil {
			t.Fatalf("WaitSaved without SaveLater: %v", err)
		}
		data, err := os.ReadFile(l.AnalysisSnapshot())
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := save(false)
	if again := save(false); !bytes.Equal(first, again) {
		t.Fatal("the same workspace saved different snapshots")
	}
	if later := save(true); !bytes.Equal(first, later) {
		t.Fatal("the snapshot saved while the actions ran differs from the one saved before")
	}
	s, err := snapshot.Decode(first)
	if err != nil {
		t.Fatal(err)
	}
	if s.Reads == nil || !s.Reads.Exists["p3/a.in"] || s.Index == nil || len(s.Actions) != 12 {
		t.Errorf("snapshot: reads %v, index %v, %d actions; want p3/a.in's existence, an index, 12 actions", s.Reads, s.Index != nil, len(s.Actions))
	}
}

// TestSaveLaterKilled checks the state a build killed before its snapshot
// was written leaves (Request.SaveLater; the write is atomic, so the file
// is the snapshot of the build before): the next Analyze finds it stale
// and analyzes again, and plans what the workspace says now.
func TestSaveLaterKilled(t *testing.T) {
	root := t.TempDir()
	writeWorkspace(t, root, map[string]string{
		"WORKSPACE.star": "",
		"p/BUILD.star":   `genrule(name = "g", outs = ["g.txt"], cmd = "echo one > $@")` + "\n",
	})
	l := Layout{Root: root}
	os.MkdirAll(l.StateDir(), 0o755)
	pattern, err := label.ParsePattern("//p:g", "")
	if err != nil {
		t.Fatal(err)
	}
	analyze := func() (*Plan, []string) {
		var ph Phases
		p, err := Analyze(context.Background(), testRequest(root, l, pattern, func(r *Request) {
			r.Phases = &ph
			r.SaveLater = true
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitSaved(); err != nil {
			t.Fatalf("WaitSaved: %v", err)
		}
		var names []string
		for _, p := range ph.List {
			names = append(names, p.Name)
		}
		return p, names
	}
	analyze()
	before, err := os.ReadFile(l.AnalysisSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	writeWorkspace(t, root, map[string]string{
		"p/BUILD.star": `genrule(name = "g", outs = ["g.txt"], cmd = "echo two > $@")` + "\n",
	})
	analyze()
	// Killed before the write: the snapshot on disk is the one before.
	if err := os.WriteFile(l.AnalysisSnapshot(), before, 0o644); err != nil {
		t.Fatal(err)
	}
	p, phases := analyze()
	if len(phases) == 0 || phases[0] == "analysis snapshot" {
		t.Errorf("after a build killed before its save: phases %v, want an analysis", phases)
	}
	if argv := p.Graph.Actions[0].Argv; !strings.Contains(argv[len(argv)-1], "echo two") {
		t.Errorf("after a build killed before its save: command %q, want the workspace's echo two", argv)
	}
	if _, phases = analyze(); len(phases) != 1 || phases[0] != "analysis snapshot" {
		t.Errorf("the build after: phases %v, want the snapshot", phases)
	}
}

// testRequest is the Request of these tests for pattern in the workspace
// root (layout l), with set's changes.
func testRequest(root string, l Layout, pattern label.Pattern, set func(*Request)) Request {
	r := Request{
		Loader:   loading.New(loading.Options{Root: root, Builtins: rules.Files}),
		Base:     []string{"PATH=/usr/bin:/bin"},
		Patterns: []label.Pattern{pattern},
		Lookup:   func(string) (string, bool) { return "", false },
		SnapPath: l.AnalysisSnapshot(),
		Identity: "test",
		Stderr:   io.Discard,
	}
	set(&r)
	return r
}
