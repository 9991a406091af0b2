package toolchain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsDriver(t *testing.T) {
	for name, want := range map[string]bool{
		"gcc": true, "/usr/bin/g++": true, "cc": true, "c++": true, "gcc-12": true,
		"x86_64-linux-gnu-gcc-12": true, "clang++-15": true, "clang": true,
		"ar": false, "ld": false, "/bin/sh": false, "gcc-ar": false, "gccgo": false, "my-tool-1": false,
	} {
		if got := IsDriver(name); got != want {
			t.Errorf("IsDriver(%q) = %v, want %v", name, got, want)
		}
	}
}

// The real gcc: its identity names its cc1 and an assembler, and changes
// when a component resolves elsewhere (here: "as" found first in a
// directory prepended to PATH).
func TestProbeGCC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed: %v", err)
	}
	root := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	id, err := Probe(context.Background(), root, gcc, env)
	if err != nil {
		t.Fatal(err)
	}
	if id.Version == "" || !strings.Contains(id.Version, "-") {
		t.Errorf("Version = %q, want version and machine", id.Version)
	}
	var cc1, as string
	for _, p := range id.Programs {
		switch filepath.Base(p) {
		case "cc1":
			cc1 = p
		case "as":
			as = p
		}
	}
	if cc1 == "" || as == "" {
		t.Fatalf("Programs = %v, want cc1 and as", id.Programs)
	}
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "as"), []byte("#!/bin/sh\nexec "+as+" \"$@\"\n"), 0o755)
	id2, err := Probe(context.Background(), root, gcc, []string{"PATH=" + bin + ":" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range id2.Programs {
		found = found || p == filepath.Join(bin, "as")
	}
	if !found {
		t.Errorf("with %s first in PATH, Programs = %v, want its as", bin, id2.Programs)
	}
}

func TestProbeFailingDriver(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "gcc")
	os.WriteFile(bad, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755)
	_, err := Probe(context.Background(), root, bad, []string{"PATH=/usr/bin:/bin"})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Probe of a failing driver: %v, want its message", err)
	}
}
