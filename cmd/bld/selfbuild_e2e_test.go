package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bld builds itself: a copy of this repository is a workspace whose
// //:bld target (go_binary) makes a working bld.
func TestSelfBuild(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkspace(t, nil)
	for _, f := range []string{"WORKSPACE.star", "BUILD.star", "go.mod", "go.sum"} {
		copyTree(t, filepath.Join(repo, f), w.path(f))
	}
	for _, d := range []string{"cmd", "starlark", "rules", "exec"} {
		copyTree(t, filepath.Join(repo, d), w.path(d))
	}
	// The go command needs its module and build caches: the user's own,
	// so that the test neither downloads modules nor rebuilds the world.
	for _, name := range []string{"GOMODCACHE", "GOCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		w.env = append(w.env, name+"="+strings.TrimSpace(string(out)))
	}
	w.env = append(w.env, "GOPROXY=off")

	w.mustBuild("build", "//:bld")
	out, err := exec.Command(w.path("bld-out/bld"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "bld ") {
		t.Fatalf("bld-out/bld version: %v\n%s", err, out)
	}
	r := w.mustBuild("build", "--explain", "//:bld")
	wantContains(t, r.stderr, "nothing to do")
}

// copyTree copies a file or a directory tree, skipping bld-out.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			if fi.Name() == "bld-out" {
				return filepath.SkipDir
			}
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
