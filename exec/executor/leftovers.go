package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"bld/exec/sandbox"
)

// Each action's command runs in a process group of its own, so that Ctrl-C
// kills everything it started. But when bld itself is killed with SIGKILL
// (or the machine's OOM killer picks it), nobody kills those groups: they go
// on writing into bld-out/ while the next build runs the same actions again.
//
// So the executor records every running group as an empty file named by its
// process group ID in Options.ProcessDir, removed when the group's leader
// has been waited for; and KillLeftovers, called by the next build before
// it starts anything, kills the groups whose files remain.

// trackGroup records the running process group pgid in dir; the returned
// function removes the record. With an empty dir it does nothing.
func trackGroup(dir string, pgid int) (untrack func()) {
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, strconv.Itoa(pgid))
	if f, err := os.Create(path); err == nil {
		f.Close()
	}
	return func() { os.Remove(path) }
}

// KillLeftovers kills the process groups that a previous build, killed
// before it could clean up, recorded in dir, and removes the records. It
// returns how many groups it killed. A group is killed only if its leader
// still runs in root, in one of root's exec roots, or in the namespace
// sandbox's fixed exec root (its working directory), so that a process group
// ID reused by an unrelated program is left alone.
//
// The caller must ensure no other build uses dir at the same time (bld
// holds the workspace lock).
func KillLeftovers(dir, root string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", dir, err)
	}
	killed := 0
	for _, e := range entries {
		pgid, err := strconv.Atoi(e.Name())
		if err != nil || pgid <= 1 {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pgid)); err == nil && ranHere(cwd, root) {
			if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return killed, nil
}

// ranHere reports whether a process with working directory cwd may be a
// command that a build in root started.
func ranHere(cwd, root string) bool {
	return cwd == root || cwd == sandbox.FixedExecRoot || strings.HasPrefix(cwd, sandbox.Dir(root)+"/")
}
