package analysis

import (
	"go.starlark.net/starlark"
)

// A method is a built-in function of ctx or of ctx.actions
// (ctx.expand_make_variables, ctx.actions.run, ...). Rules see what
// starlark.NewBuiltin would make (type builtin_function_or_method, printed
// as <built-in function NAME>, hashed by its name, equal only to itself),
// but reading ctx.actions.run allocates nothing: each ruleContext holds its
// methods, one per name, made with it. (A Builtin bound to the context
// would be two allocations per read, and every genrule reads two.)
type method struct {
	rc *ruleContext
	id methodID
}

type methodID uint8

const (
	methodDeclareFile methodID = iota
	methodRun
	methodRunShell
	methodWrite
	methodExpandLocation
	methodExpandMakeVariables
	methodPartition
	numMethods
)

var methodNames = [numMethods]string{
	methodDeclareFile:         "declare_file",
	methodRun:                 "run",
	methodRunShell:            "run_shell",
	methodWrite:               "write",
	methodExpandLocation:      "expand_location",
	methodExpandMakeVariables: "expand_make_variables",
	methodPartition:           "partition",
}

// namer is what the implementations of methods need of the function
// called: its name, for their errors.
type namer interface{ Name() string }

var _ starlark.Callable = (*method)(nil)

func (m *method) Name() string          { return methodNames[m.id] }
func (m *method) String() string        { return "<built-in function " + m.Name() + ">" }
func (m *method) Type() string          { return "builtin_function_or_method" }
func (m *method) Freeze()               {}
func (m *method) Truth() starlark.Bool  { return true }
func (m *method) Hash() (uint32, error) { return starlark.String(m.Name()).Hash() }

func (m *method) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rc := m.rc
	switch m.id {
	case methodDeclareFile:
		return rc.actions.declareFile(thread, m, args, kwargs)
	case methodRun, methodRunShell:
		return rc.actions.run(thread, m, args, kwargs)
	case methodWrite:
		return rc.actions.write(thread, m, args, kwargs)
	case methodExpandLocation:
		return rc.expandLocationBuiltin(thread, m, args, kwargs)
	case methodExpandMakeVariables:
		return rc.expandMakeVariablesBuiltin(thread, m, args, kwargs)
	default: // methodPartition
		return rc.partitionBuiltin(thread, m, args, kwargs)
	}
}
