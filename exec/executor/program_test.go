package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/sandbox"
)

// programCache says every action must run, and gives the program its
// check found (Check.Program): find, if not nil, resolves argv[0].
type programCache struct {
	root string
	find func(a *graph.Action) *program.Program

	mu     sync.Mutex
	stored []string
}

func (c *programCache) Check(_ context.Context, a *graph.Action) (Check, error) {
	return Check{Key: a.Owner, Reason: "no previous result", Program: c.find(a)}, nil
}

func (c *programCache) Store(_ context.Context, a *graph.Action, key string, _ []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stored = append(c.stored, key)
	return nil
}

func (c *programCache) Close() error { return nil }

// The runner starts the program the check resolved argv[0] to (the one
// its key covers), not what argv[0] would resolve to when it runs: here
// the action's PATH leads to tools/new.sh by then, but the check found
// tools/old.sh. Without a program from the check, the runner resolves
// argv[0] itself. In every sandbox mode.
func TestRunsTheProgramTheCheckFound(t *testing.T) {
	t.Parallel()
	modes := append([]sandbox.Mode{sandbox.ModeOff}, sandboxModes(t)...)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"old/tool.sh": "#!/bin/sh\necho old > \"$1\"\n",
				"new/tool.sh": "#!/bin/sh\necho new > \"$1\"\n",
			})
			env := []string{"PATH=new:old:/usr/bin:/bin"}
			keyed := func(a *graph.Action) *program.Program {
				if a.Owner != "//:keyed" {
					return nil
				}
				p, err := program.Find(root, a.Argv[0], []string{"PATH=old"})
				if err != nil {
					t.Error(err)
					return nil
				}
				return &p
			}
			actions := []*graph.Action{
				{Owner: "//:keyed", Mnemonic: "Tool", Argv: []string{"tool.sh", "bld-out/keyed.txt"}, Env: env,
					Inputs: []string{"old/tool.sh", "new/tool.sh"}, Outputs: []string{"bld-out/keyed.txt"}},
				{Owner: "//:unkeyed", Mnemonic: "Tool", Argv: []string{"tool.sh", "bld-out/unkeyed.txt"}, Env: env,
					Inputs: []string{"old/tool.sh", "new/tool.sh"}, Outputs: []string{"bld-out/unkeyed.txt"}},
			}
			c := &programCache{root: root, find: keyed}
			if _, _, err := buildSandboxed(t, context.Background(), root, actions, 2, false, c, mode); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(root, "bld-out/keyed.txt")); got != "old\n" {
				t.Errorf("the keyed action ran the program that wrote %q; want the one its check found (old)", got)
			}
			if got := readFile(t, filepath.Join(root, "bld-out/unkeyed.txt")); got != "new\n" {
				t.Errorf("the action without a program from its check ran the one that wrote %q; want new", got)
			}
		})
	}
}

// A program the check found that has gone by the time the action runs
// fails the action with the error of starting it, naming the program: it
// is not looked up again (it would not be the one keyed).
func TestProgramGoneAfterCheck(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"tools/gen.sh": "#!/bin/sh\necho hi > \"$1\"\n"})
	env := []string{"PATH=/usr/bin:/bin"}
	gone := func(a *graph.Action) *program.Program {
		p, err := program.Find(root, a.Argv[0], a.Env)
		if err != nil {
			t.Error(err)
			return nil
		}
		p.Path += ".gone" // as if it were deleted since
		return &p
	}
	actions := []*graph.Action{{Owner: "//:gen", Mnemonic: "Gen", Argv: []string{"tools/gen.sh", "bld-out/o.txt"}, Env: env,
		Inputs: []string{"tools/gen.sh"}, Outputs: []string{"bld-out/o.txt"}}}
	c := &programCache{root: root, find: gone}
	_, rec, err := buildSandboxed(t, context.Background(), root, actions, 1, false, c, sandbox.ModeOff)
	if err == nil {
		t.Fatal("the build succeeded")
	}
	res := rec.results["//:gen"]
	if res.Status != StatusFailed || res.Err == nil || !strings.Contains(res.Err.Error(), "tools/gen.sh.gone") {
		t.Errorf("result %s, %v; want failed naming tools/gen.sh.gone", res.Status, res.Err)
	}
	if len(c.stored) != 0 {
		t.Errorf("stored %v", c.stored)
	}
	if _, err := os.Stat(filepath.Join(root, "bld-out/o.txt")); err == nil {
		t.Error("the action wrote its output")
	}
}
