package analysis

import (
	"go.starlark.net/starlark"
)

// A method is a built-in function of ctx or of ctx.actions
// (ctx.expand_make_variables, ctx.actions.run, ...), K saying which. Rules
// see what starlark.NewBuiltin would make (type builtin_function_or_method,
// printed as <built-in function NAME>, hashed by its name, equal only to
// itself), but reading ctx.actions.run allocates nothing and ctx holds
// nothing for it: a method is its ruleContext seen as another type,
// (*method[kindRun])(rc). (A Builtin bound to the context would be two
// allocations per read, and every genrule reads two; a method value per
// name in ruleContext was 112 bytes of every target's.)
type method[K methodKind] ruleContext

// A methodKind is a method's type argument: it says which method it is.
type methodKind interface{ id() methodID }

type (
	kindDeclareFile         struct{}
	kindRun                 struct{}
	kindRunShell            struct{}
	kindWrite               struct{}
	kindExpandLocation      struct{}
	kindExpandMakeVariables struct{}
	kindPartition           struct{}
)

func (kindDeclareFile) id() methodID         { return methodDeclareFile }
func (kindRun) id() methodID                 { return methodRun }
func (kindRunShell) id() methodID            { return methodRunShell }
func (kindWrite) id() methodID               { return methodWrite }
func (kindExpandLocation) id() methodID      { return methodExpandLocation }
func (kindExpandMakeVariables) id() methodID { return methodExpandMakeVariables }
func (kindPartition) id() methodID           { return methodPartition }

// A methodID says which method a method is: an index in methodNames.
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

var _ starlark.Callable = (*method[kindRun])(nil)

func (m *method[K]) id() methodID {
	var k K
	return k.id()
}

func (m *method[K]) Name() string          { return methodNames[m.id()] }
func (m *method[K]) String() string        { return "<built-in function " + m.Name() + ">" }
func (m *method[K]) Type() string          { return "builtin_function_or_method" }
func (m *method[K]) Freeze()               {}
func (m *method[K]) Truth() starlark.Bool  { return true }
func (m *method[K]) Hash() (uint32, error) { return starlark.String(m.Name()).Hash() }

func (m *method[K]) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	rc := (*ruleContext)(m)
	switch m.id() {
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
