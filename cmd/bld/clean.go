package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"bld/starlark/workspace"
)

var cleanCommand = &command{
	summary: "remove bld-out/, the outputs of the workspace (never a shared cache)",
	usage:   "bld clean",
	run:     runClean,
}

func runClean(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 {
		return usageError("takes no arguments")
	}
	root, _, err := workspace.FindRoot(env.dir)
	if err != nil {
		return err
	}
	out := filepath.Join(root, workspace.OutputDir)
	stateDir := filepath.Join(out, ".bld")
	if _, err := os.Stat(stateDir); err != nil {
		// Nothing bld made (or not even a bld-out/): nothing to lock.
		if err := os.RemoveAll(out); err != nil {
			return fmt.Errorf("removing %s: %w", out, err)
		}
		return nil
	}
	// A build may be running: wait for it, and keep the lock file itself
	// (a build waiting on it must not find a new one unlocked).
	unlock, err := lockWorkspace(ctx, stateDir, env)
	if err != nil {
		return err
	}
	defer unlock()
	if err := removeAllBut(out, filepath.Join(stateDir, "lock")); err != nil {
		return fmt.Errorf("removing %s: %w", out, err)
	}
	return nil
}

// removeAllBut removes dir and everything in it except the file keep and
// the directories that lead to it.
func removeAllBut(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case p == keep:
		case e.IsDir() && strings.HasPrefix(keep, p+string(filepath.Separator)):
			if err := removeAllBut(p, keep); err != nil {
				return err
			}
		default:
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}
