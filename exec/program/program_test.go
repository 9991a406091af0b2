package program

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(root, "gen.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(root, "data.txt"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "dir.sh"), 0o755)
	abs := filepath.Join(bin, "tool")
	tests := []struct {
		argv0, path      string
		wantName, errSub string
	}{
		{argv0: "./gen.sh", wantName: "gen.sh"},
		{argv0: "bin/../gen.sh", wantName: "gen.sh"},
		{argv0: abs, wantName: abs},
		{argv0: "tool", path: "/nonexistent:bin", wantName: "bin/tool"},
		{argv0: "tool", path: "/nonexistent:" + bin, wantName: abs},
		{argv0: "tool", path: "/nonexistent", errSub: "not found in the action's PATH"},
		{argv0: "./data.txt", errSub: "no execute bit"},
		{argv0: "./dir.sh", errSub: "is a directory"},
		{argv0: "./missing", errSub: "no such file"},
		{argv0: "", errSub: "empty command"},
	}
	for _, tt := range tests {
		env := []string{}
		if tt.path != "" {
			env = append(env, "PATH="+tt.path)
		}
		p, err := Find(root, tt.argv0, env)
		if tt.errSub != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Errorf("Find(%q) error = %v, want one containing %q", tt.argv0, err, tt.errSub)
			}
			continue
		}
		if err != nil {
			t.Errorf("Find(%q): %v", tt.argv0, err)
			continue
		}
		if p.Name != tt.wantName || p.Info == nil {
			t.Errorf("Find(%q) = %+v, want Name %q", tt.argv0, p, tt.wantName)
		}
	}
	if _, err := Find(root, "tool", nil); err == nil || !strings.Contains(err.Error(), "no PATH") {
		t.Errorf("Find without PATH: %v", err)
	}
}
