package build

import (
	"path/filepath"

	"bld/starlark/workspace"
)

// Layout is where bld writes in a workspace: the one home of the paths
// under bld-out/ (workspace.OutputDir) and bld-out/.bld
// (workspace.StateDir) that commands use.
type Layout struct {
	Root string // the workspace root, absolute
}

// StateDir holds bld's own state: the lock, the analysis snapshot, the
// records of running commands, long outputs, the build log.
func (l Layout) StateDir() string {
	return filepath.Join(l.Root, filepath.FromSlash(workspace.StateDir))
}

// ActionRecord is the action cache's record of the workspace's actions
// whose outputs are in place (exec/cache's fast.go).
func (l Layout) ActionRecord() string { return filepath.Join(l.StateDir(), "actions") }

// LockFile is the workspace lock: one bld writes bld-out/ at a time.
func (l Layout) LockFile() string { return filepath.Join(l.StateDir(), "lock") }

// SandboxProbe keeps the answer of the namespace sandbox's probe
// (sandbox.Manager.RememberProbe).
func (l Layout) SandboxProbe() string { return filepath.Join(l.StateDir(), "sandbox-probe") }

// AnalysisSnapshot is the snapshot of the last analysis (package snapshot).
func (l Layout) AnalysisSnapshot() string { return filepath.Join(l.StateDir(), "analysis") }

// ProcessDir records the process groups of running commands
// (executor.KillLeftovers).
func (l Layout) ProcessDir() string { return filepath.Join(l.StateDir(), "running") }

// LogDir holds the whole output of commands that printed too much to keep
// in memory.
func (l Layout) LogDir() string { return filepath.Join(l.StateDir(), "logs") }

// BuildLog is how long each action took when it last ran (package
// buildlog), like ninja's .ninja_log.
func (l Layout) BuildLog() string { return filepath.Join(l.StateDir(), "build_log") }

// ShippedToolchains is where the toolchains packaged for remote workers
// (--remote_ship_toolchain) are remembered: their files by stamp, so that
// a build does not hash them again.
func (l Layout) ShippedToolchains() string { return filepath.Join(l.StateDir(), "shipped-toolchains") }

// RemoteOutputs is the table of outputs kept in the remote cache rather
// than downloaded (--remote_download_minimal; exec/cache's kept.go).
func (l Layout) RemoteOutputs() string { return filepath.Join(l.StateDir(), "remote-outputs") }

// TimingsReport is the HTML report of bld build --timings.
func (l Layout) TimingsReport() string {
	return filepath.Join(l.Root, workspace.OutputDir, "timings.html")
}

// CompileCommands is the compilation database bld build
// --compile_commands writes, at the workspace root, where clangd looks.
func (l Layout) CompileCommands() string { return filepath.Join(l.Root, "compile_commands.json") }

// OutputDir is where outputs go (workspace.OutputDir).
func (l Layout) OutputDir() string {
	return filepath.Join(l.Root, filepath.FromSlash(workspace.OutputDir))
}

// StagingDir is where files are written before they are renamed into
// place: a build killed meanwhile leaves its temporary files there, and
// the next build empties it under the workspace lock. (Restored outputs
// are written beside themselves; see exec/cache's RemoveTemps.)
func (l Layout) StagingDir() string { return filepath.Join(l.StateDir(), "staging") }
