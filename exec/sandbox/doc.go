// Package sandbox runs an action's command in a private exec root that holds
// only the action's declared inputs, so that a command reading a workspace
// file its action does not declare fails instead of silently depending on it.
//
// # The exec root
//
// Each running action gets a directory of its own, <root>/bld-out/.bld/sandbox/<n>
// (see Dir), removed when the action is done. It holds a symbolic link per
// input (Inputs and Discoverable; a directory input is one link to the
// directory), real directories for the parents of those links and for the
// parents of every declared output, and nothing else. Links, never hard
// links: link(2) changes the source's ctime (which bld's stat memo watches)
// and a tool writing in place would modify the source.
//
// After the command exits 0, Collect moves each declared output from the
// exec root into the workspace (a rename: same file system) and rewrites the
// action's depfile to workspace-relative paths. Whatever else the command
// left in the exec root is deleted with it.
//
// # Modes
//
// ModeNamespace (Linux with unprivileged user namespaces): the command runs
// in a new user and mount namespace in which the exec root is mounted at one
// fixed path, FixedExecRoot, whatever the checkout's location, so tools that
// record their working directory (gcc -g) write the same bytes in every
// checkout. The exec root holds a placeholder for each input, on which the
// helper bind-mounts the input itself, read-only, from a view of the
// workspace that it unmounts before the command starts; an empty read-only
// tmpfs is mounted over the workspace's real path. So the command sees its
// inputs as the files and directories they are (not links), and no other
// workspace file by any path: relative, the checkout's absolute path, or
// the real path of an input. Go cannot run code
// between clone and exec, so bld starts its own binary (os.Executable) as a
// helper, which Main intercepts. Normally that helper is the zygote, started
// once per bld process: for each command it makes a mount namespace of its
// own on one thread, mounts the exec root, and forks the command from that
// thread (in a pid namespace of its own, whose pid 1 it is), with the
// descriptors bld sent it (see zygote_linux.go). When the zygote is off
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
