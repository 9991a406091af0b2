package sandbox

import "bld/exec/graph"

// The fixed paths of ModeNamespace. On the host, FixedDir is only an empty
// directory (a mount point, created when missing); inside each action's
// mount namespace a private tmpfs is mounted on it, holding the mount point
// below.
const (
	// FixedDir is the mount point of the namespace's private tmpfs.
	FixedDir = "/tmp/bld-sandbox"
	// FixedExecRoot is where the action's exec root appears, and the
	// command's working directory: graph.SandboxExecRoot, the path rules
	// see as ctx.exec_root, under FixedDir.
	FixedExecRoot = graph.SandboxExecRoot
)

// helperArg, as argv[1], makes Main run the namespace helper. It starts with
// a dash so that a program that forgot to call Main fails on it as an
// unknown flag (the probe then reports the namespace mode as unavailable)
// instead of running as if asked to.
const helperArg = "-bld-sandbox-helper"

// Verbs of the helper (argv[2]).
const (
	verbExec  = "exec"  // set up the namespace, then exec the command
	verbProbe = "probe" // set up the namespace, check it, print probeOK
	// verbZygote: serve requests to run commands, each in a mount
	// namespace of its own, until bld closes the control socket
	// (zygote_linux.go).
	verbZygote = "zygote"
)

const probeOK = "bld-sandbox-ok"
