// Package graph holds the action graph: actions as plain data, and the checks
// that run on the whole graph before anything executes.
//
// An action knows nothing of Starlark or of the rule that made it. Every path
// in an action (inputs, outputs, argv elements that name files) is relative to
// the workspace root, and actions run with the workspace root as their working
// directory, so the same graph is valid whichever directory the checkout sits
// in, and can be printed, cached, run locally or sent to a remote executor.
package graph

// An Action is one command that reads input files and writes output files.
//
// Exactly one of Argv and Content describes what the action does: an action
// with Argv runs that command; an action without Argv writes Content to its
// single output (what ctx.actions.write declares), with the executable bit set
// when Executable is true.
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

	// Content and Executable describe a file-writing action (no Argv).
	Content    []byte
	Executable bool

	// Inputs are the files the action reads: source files, or outputs of
	// other actions. Sorted and unique.
	Inputs []string
	// Outputs are the files the action must write, all under the output
	// directory. Sorted, unique and non-empty.
	Outputs []string

	// Jobserver marks an action that may use the GNU make jobserver for
	// inner parallelism; only such actions see MAKEFLAGS.
	Jobserver bool
	// NoCache marks an action whose result must never be reused: it runs
	// on every build that needs it.
	NoCache bool
}

// Message is the line the status display shows for the action.
func (a *Action) Message() string {
	if a.Description != "" {
		return a.Description
	}
	return a.Mnemonic + " " + a.Owner
}
