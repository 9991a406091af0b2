// Package sandbox runs an action's command in a private exec root that holds
// only the action's declared inputs, so that a command reading a workspace
// file its action does not declare fails instead of silently depending on it.
//
// # The exec root
//
// Each running action gets an exec root of its own, with the workspace's
// layout: an entry per input (Inputs and Discoverable; a directory input is
// one entry for the directory), directories for the parents of those and of
// every declared output, and nothing else. In ModeSymlinks it is a directory
// on disk, <root>/bld-out/.bld/sandbox/<n> (see Dir), with a symbolic link
// per input, removed when the action is done. Links, never hard links:
// link(2) changes the source's ctime (which bld's stat memo watches) and a
// tool writing in place would modify the source. In ModeNamespace it is on a
// tmpfs in the command's own mount namespace (see mountPlan), and only the
// directories that receive outputs are on disk: empty directories under Dir
// that the Manager binds there and reuses from action to action.
//
// After the command exits 0, Collect moves each declared output from the
// exec root into the workspace (a rename: same file system) and rewrites the
// action's depfile to workspace-relative paths. Whatever else the command
// left in the exec root is deleted with it.
//
// # Modes
//
// ModeNamespace (Linux with unprivileged user namespaces): the command runs
// in a new user and mount namespace in which the exec root is at one
// fixed path, FixedExecRoot, whatever the checkout's location, so tools that
// record their working directory (gcc -g) write the same bytes in every
// checkout. Each input is bind-mounted, read-only, on an empty file or
// directory of its kind in the exec root, from a view of the workspace that
// an empty read-only tmpfs mounted over the workspace's real path then
// covers. So the command sees its inputs as the files and directories they
// are (not links), and no other workspace file by any path: relative, the
// checkout's absolute path, or the real path of an input. Go cannot run code
// between clone and exec, so bld starts its own binary (os.Executable) as a
// helper, which Main intercepts. Normally that helper is the zygote, started
// once per Manager (Close stops it): for each command, one of its serving
// threads (a few, which serve commands side by side) enters a mount
// namespace for it (one it reuses, when the command gets a pid namespace,
// else a new one), mounts the exec root, forks
// the command (in a pid namespace of its own, whose pid 1 it is, with a
// /proc of that namespace only: no other process, bld's, the zygote's or
// another action's, is visible there), with the descriptors bld sent it,
// and goes back to the zygote's namespace for the next command (see
// zygote_linux.go). When the zygote is off
// (BLD_SANDBOX_ZYGOTE=0) or cannot serve a command, the executor starts the
// helper for that command alone: it makes the mounts, changes to
// FixedExecRoot, and execs the command in its place (same pid, so
// process-group kills still reach it; inherited descriptors such as the
// jobserver's survive). See namespace_linux.go for the exact recipe.
//
// ModeSymlinks (elsewhere, or when namespaces do not work): the command runs
// with the exec root's real path as working directory, and the links point
// to real absolute paths. Relative reads of undeclared files fail; reads by
// absolute path (the checkout's or through a link's target) do not.
//
// ModeOff: the command runs in the workspace root, as an action with
// NoSandbox does in every mode.
//
// The sandbox hides the workspace, not the system: /usr, /tmp (except
// FixedDir), $HOME and caches outside the workspace stay as they are.
package sandbox
