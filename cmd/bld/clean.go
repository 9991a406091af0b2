package main

import (
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
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("removing %s: %w", out, err)
	}
	return nil
}
