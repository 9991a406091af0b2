package main

import (
	"path/filepath"

	"bld/starlark/workspace"
)

// layout is where bld writes in a workspace: the one home of the paths
// under bld-out/ (workspace.OutputDir) and bld-out/.bld
// (workspace.StateDir) that commands use.
type layout struct {
	root string // the workspace root, absolute
}

// stateDir holds bld's own state: the lock, the analysis snapshot, the
// records of running commands, long outputs, the build log.
func (l layout) stateDir() string {
	return filepath.Join(l.root, filepath.FromSlash(workspace.StateDir))
}

// analysisSnapshot is the snapshot of the last analysis (package snapshot).
func (l layout) analysisSnapshot() string { return filepath.Join(l.stateDir(), "analysis") }

// processDir records the process groups of running commands
// (executor.KillLeftovers).
func (l layout) processDir() string { return filepath.Join(l.stateDir(), "running") }

// logDir holds the whole output of commands that printed too much to keep
// in memory.
func (l layout) logDir() string { return filepath.Join(l.stateDir(), "logs") }

// buildLog is how long each action took when it last ran (package
// buildlog), like ninja's .ninja_log.
func (l layout) buildLog() string { return filepath.Join(l.stateDir(), "build_log") }

// timingsReport is the HTML report of bld build --timings.
func (l layout) timingsReport() string {
	return filepath.Join(l.root, workspace.OutputDir, "timings.html")
}

// compileCommands is the compilation database bld build
// --compile_commands writes, at the workspace root, where clangd looks.
func (l layout) compileCommands() string { return filepath.Join(l.root, "compile_commands.json") }
