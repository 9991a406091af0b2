// Package graph holds the action graph: actions as plain data, and the checks
// that run on the whole graph before anything executes.
//
// An action knows nothing of Starlark or of the rule that made it. Every path
// in an action (inputs, outputs, argv elements that name files) is relative to
// the workspace root, and actions run in a directory with the workspace's
// layout (an exec root holding their inputs, see exec/sandbox, or the
// workspace root itself), so the same graph is valid whichever directory the
// checkout sits in, and can be printed, cached, run locally or sent to a remote executor.
package graph

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"time"
)

// SandboxExecRoot is the absolute path at which a sandboxed action sees its
// exec root (its inputs, at their workspace-relative paths) when the
// sandbox runs it in a Linux mount namespace: the same in every checkout,
// so that tools recording their working directory (gcc -g) write the same
// bytes wherever the workspace is. Elsewhere, and for actions run without
// a sandbox, the working directory is not fixed.
const SandboxExecRoot = "/tmp/bld-sandbox/execroot"

// An Action is one command that reads input files and writes output files.
//
// Exactly one of Argv and Content describes what the action does: an action
// with Argv runs that command; an action without Argv writes Content to its
// single output (what ctx.actions.write declares), with the executable bit set
// when Executable is true.
//
// What most actions leave empty is in More, behind a pointer that is nil
// for them, and read through Action's methods of the same names
// (a.Depfile(), a.Timeout(), ...), which give the zero value then: a build
// keeps an Action for every action (100,000 at the scale bld is measured
// at), and these fields took half of each (160 of 320 bytes). Edit gives
// the More to set them in.
type Action struct {
	// Owner is the label of the target whose rule declared the action
	// ("//pkg:name"); it is what diagnostics and the status line show.
	Owner string
	// Mnemonic is a short kind, such as "CcCompile" or "Genrule".
	Mnemonic string
	// Description is the progress message; empty means Mnemonic and Owner.
	Description string

	// Argv is the command line; Argv[0] is looked up in the action's PATH.
	Argv []string
	// Env is the complete environment of the command, as sorted "KEY=value"
	// entries with unique keys. Nothing else of bld's environment leaks in.
	Env []string

	// Inputs are the files the action reads: source files, or outputs of
	// other actions. Sorted and unique.
	Inputs []string
	// Outputs are the files the action must write, all under the output
	// directory. Sorted, unique and non-empty.
	Outputs []string

	// More holds the fields most actions leave empty; nil when all are.
	More *More

	// The flags follow, together: an Action is kept for every action of
	// a build, and a bool between wider fields takes a word of its own
	// (TestActionSize).

	// Executable sets the executable bit of what a file-writing action
	// writes.
	Executable bool
	// Jobserver marks an action that may use the GNU make jobserver for
	// inner parallelism; only such actions see MAKEFLAGS.
	Jobserver bool
	// NoCache marks an action whose result must never be reused: it runs
	// on every build that needs it.
	NoCache bool
	// NoSandbox runs the command in the workspace root itself instead of
	// a private exec root that holds only its inputs.
	NoSandbox bool
	// Test marks the run of a test: its failure is the test's verdict,
	// not a build error, so it stops nothing (without -k, a failed
	// compile stops the build; a failed test does not, as in Bazel,
	// which runs every test). Scheduling only: not part of the key.
	Test bool
	// QuietOutput keeps what a successful run printed out of the display
	// (a passing test's log); it is still kept, and shown on failure
	// unless QuietFailure.
	QuietOutput bool
	// QuietFailure keeps what a failed run printed out of the display too
	// (bld test --test_output=summary: the log is in a file).
	QuietFailure bool
	// AllowDaemon lets processes the command started outlive it if they
	// left its process group (a compiler cache server that daemonizes).
	// Without it, everything the command started is killed when it
	// exits, wherever the sandbox can find it (see exec/sandbox).
	AllowDaemon bool
	// NoRemoteExec runs the command on this machine even when the build
	// executes actions remotely (Bazel's "no-remote-exec"; "no-remote" and
	// "local" imply it). Scheduling only: not part of the action's key.
	NoRemoteExec bool
	// NoRemoteCache keeps the action's result out of the remote cache: it
	// is neither looked up there nor uploaded (Bazel's "no-remote-cache";
	// "no-remote" and "local" imply it). The local cache still applies.
	NoRemoteCache bool
	// Serial runs the actions of Group one at a time, to bound peak
	// memory. Scheduling only: not part of the action's key.
	Serial bool
}

// More is what most actions leave empty (Action.More).
type More struct {
	// Content is what a file-writing action (no Argv) writes; see
	// Executable.
	Content []byte

	// Discoverable are files the action may read besides Inputs (a
	// compile's candidate headers). They are dependencies like Inputs and
	// the sandbox shows them to the command, but when Depfile is set only
	// those the depfile names enter the action's key by content; the rest
	// enter it by path alone. Without Depfile they count as Inputs.
	// Sorted, unique, disjoint from Inputs.
	Discoverable []string
	// Depfile, when not empty, is one of Outputs: a Make-syntax dependency
	// file (gcc -MD -MF, rustc --emit=dep-info) in which the command lists
	// the files it read.
	Depfile string

	// JobserverStyle, for a Jobserver action, is how it is told about the
	// jobserver: "fifo" (--jobserver-auth=fifo:PATH), "pipe" (inherited
	// descriptors), or "" for bld's choice by program (package
	// exec/jobserver, StyleFor). It changes no output, so it is not part
	// of the action's key.
	JobserverStyle string
	// Timeout, when positive, bounds how long the command may run: past
	// it, it is killed and the action fails (a test's timeout). Not part
	// of the action's key.
	Timeout time.Duration

	// ExecProperties are the platform properties a remote executor
	// matches workers by ("OSFamily" -> "linux", "container-image" ->
	// ...): the target's exec_properties over the workspace's default.
	// They are the Platform of the action's REAPI Action and Command, so
	// they are part of its key.
	ExecProperties map[string]string

	// Group, when not empty, names a set of actions that do one job
	// together, such as the partitions of a unit ("//p:lib partitions"):
	// their outputs are shown together once all have finished, each
	// diagnostic once with a count of the actions that printed it.
	// Scheduling and display only: not part of the action's key.
	Group string
	// Hint, when not empty, is printed after the output of the action
	// when it fails: what the rule that declared it knows about likely
	// causes and remedies.
	Hint string

	// Pipeline and Stage, when Stage is not empty, name the optimization
	// stage the action belongs to: Pipeline is the label of the pipeline
	// ("//app:app_pgo"), Stage the stage's name within it ("train"). The
	// event log and the stage table read them, and --from-stage and
	// --rerun-stage select actions by them. Not part of the action's key.
	Pipeline, Stage string
}

// noMore is what the accessors read for an action with no More.
var noMore More

// more returns a.More, or the empty More if it is nil (to read only).
func (a *Action) more() *More {
	if a.More == nil {
		return &noMore
	}
	return a.More
}

// Edit returns a.More to set fields of, made if it is nil.
func (a *Action) Edit() *More {
	if a.More == nil {
		a.More = &More{}
	}
	return a.More
}

// IsZero reports whether m has no field set (a nil slice or map is not
// set; an empty one is).
func (m *More) IsZero() bool {
	return m.Content == nil && m.Discoverable == nil && m.Depfile == "" && m.JobserverStyle == "" &&
		m.Timeout == 0 && m.ExecProperties == nil && m.Group == "" && m.Hint == "" && m.Pipeline == "" && m.Stage == ""
}

// SetMore sets a.More to a copy of m, or to nil if m has no field set.
func (a *Action) SetMore(m More) {
	if m.IsZero() {
		a.More = nil
		return
	}
	a.More = &m
}

// Content is More.Content, or nil.
func (a *Action) Content() []byte { return a.more().Content }

// Discoverable is More.Discoverable, or nil.
func (a *Action) Discoverable() []string { return a.more().Discoverable }

// Depfile is More.Depfile, or "".
func (a *Action) Depfile() string { return a.more().Depfile }

// JobserverStyle is More.JobserverStyle, or "".
func (a *Action) JobserverStyle() string { return a.more().JobserverStyle }

// Timeout is More.Timeout, or 0.
func (a *Action) Timeout() time.Duration { return a.more().Timeout }

// ExecProperties is More.ExecProperties, or nil.
func (a *Action) ExecProperties() map[string]string { return a.more().ExecProperties }

// Group is More.Group, or "".
func (a *Action) Group() string { return a.more().Group }

// Hint is More.Hint, or "".
func (a *Action) Hint() string { return a.more().Hint }

// Pipeline is More.Pipeline, or "".
func (a *Action) Pipeline() string { return a.more().Pipeline }

// Stage is More.Stage, or "".
func (a *Action) Stage() string { return a.more().Stage }

// StageID returns "<pipeline> <stage>", what names the action's stage in
// messages, or "" for an action of no stage.
func (a *Action) StageID() string {
	if a.Stage() == "" {
		return ""
	}
	return a.Pipeline() + " " + a.Stage()
}

// AllInputs returns Inputs and Discoverable: every file the action may
// read, each a dependency.
func (a *Action) AllInputs() []string {
	disc := a.Discoverable()
	if len(disc) == 0 {
		return a.Inputs
	}
	all := make([]string, 0, len(a.Inputs)+len(disc))
	return append(append(all, a.Inputs...), disc...)
}

// Message is the line the status display shows for the action.
func (a *Action) Message() string {
	if a.Description != "" {
		return a.Description
	}
	return a.Mnemonic + " " + a.Owner
}

// fieldsVersion starts what FieldsDigest hashes: change it when what the
// digest covers, or its encoding, changes (and with it the version of
// every stored form that keeps digests, such as the analysis snapshot's).
const fieldsVersion = "bld-fields-1"

// FieldsDigest returns the SHA-256 of the fields of a that its action key
// covers besides file contents: what it runs (Argv, Env) or writes
// (Content, Executable), Inputs, Discoverable, Depfile, Outputs and
// ExecProperties. Two actions that differ in any of these have different
// digests; the fields that only schedule or display an action (Owner,
// Mnemonic, Timeout, Group, ...) are not in it. The action cache builds
// its records' description digests on it (exec/cache), through
// Graph.FieldsDigest, which may have it without hashing (KeptDigests).
func (a *Action) FieldsDigest() [32]byte {
	var arr [1024]byte // most actions' descriptions fit: no allocation
	buf := arr[:0]
	add := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	list := func(l []string) {
		buf = binary.AppendUvarint(buf, uint64(len(l)))
		for _, s := range l {
			add(s)
		}
	}
	add(fieldsVersion)
	if len(a.Argv) == 0 {
		add("write")
		buf = binary.AppendUvarint(buf, uint64(len(a.Content())))
		buf = append(buf, a.Content()...)
		if a.Executable {
			add("0755")
		} else {
			add("0644")
		}
	} else {
		add("run")
		list(a.Argv)
		list(a.Env)
	}
	list(a.Inputs)
	list(a.Discoverable())
	add(a.Depfile())
	list(a.Outputs)
	props := a.ExecProperties()
	buf = binary.AppendUvarint(buf, uint64(len(props)))
	if len(props) > 0 { // sorting no keys still allocates
		for _, name := range slices.Sorted(maps.Keys(props)) {
			add(name)
			add(props[name])
		}
	}
	return sha256.Sum256(buf)
}
