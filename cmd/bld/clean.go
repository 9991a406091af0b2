package main

import (
	"bld/cmd/bld/internal/build"
	"context"
	"fmt"
	"os"
	"path/filepath"

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
	stateDir := build.Layout{Root: root}.StateDir()
	if _, err := os.Stat(stateDir); err != nil {
		// Nothing bld made (or not even a bld-out/): nothing to lock.
		if err := os.RemoveAll(out); err != nil {
			return fmt.Errorf("removing %s: %w", out, err)
		}
		return nil
	}
	// A build may be running: wait for it. Removing the lock file with
	// the rest is safe: a build that waited on it finds it gone and
	// locks the new one (lockWorkspace).
	unlock, err := lockWorkspace(ctx, build.Layout{Root: root}.LockFile(), env)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("removing %s: %w", out, err)
	}
	return nil
}
