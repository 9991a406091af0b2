package analysis

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"bld/exec/graph"
	"bld/starlark/label"
)

// actionsValue is ctx.actions.
type actionsValue struct {
	rc *ruleContext
}

var _ starlark.HasAttrs = (*actionsValue)(nil)

func (av *actionsValue) String() string        { return "<actions for " + av.rc.target.Label.String() + ">" }
func (av *actionsValue) Type() string          { return "actions" }
func (av *actionsValue) Freeze()               {}
func (av *actionsValue) Truth() starlark.Bool  { return true }
func (av *actionsValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: actions") }
func (av *actionsValue) AttrNames() []string {
	return []string{"declare_file", "run", "run_shell", "write"}
}

func (av *actionsValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "declare_file":
		return (*method[kindDeclareFile])(av.rc), nil
	case "run":
		return (*method[kindRun])(av.rc), nil
	case "run_shell":
		return (*method[kindRunShell])(av.rc), nil
	case "write":
		return (*method[kindWrite])(av.rc), nil
	}
	return nil, nil
}

func (av *actionsValue) checkLive(b namer) error {
	if av.rc.finished {
		return fmt.Errorf("%s: the analysis of %s is over; actions can only be declared while its implementation runs", b.Name(), av.rc.target.Label)
	}
	return nil
}

// declare_file(filename, sibling = None)
func (av *actionsValue) declareFile(_ *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := av.checkLive(b); err != nil {
		return nil, err
	}
	var name string
	var sibling starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filename", &name, "sibling?", &sibling); err != nil {
		return nil, err
	}
	if s, ok := sibling.(*File); ok {
		dir := path.Dir(s.ShortPath())
		pkg := av.rc.target.Label.Pkg
		rel := strings.TrimPrefix(strings.TrimPrefix(dir, pkg), "/")
		if pkg != "" && dir != pkg && !strings.HasPrefix(dir, pkg+"/") {
			return nil, fmt.Errorf("declare_file: sibling %s is not in package //%s", s.Path, pkg)
		}
		name = path.Join(rel, name)
	} else if sibling != starlark.None {
		return nil, fmt.Errorf("declare_file: sibling must be a File, got %s", sibling.Type())
	}
	f, err := av.rc.declare(name)
	if err != nil {
		return nil, fmt.Errorf("declare_file: %v", err)
	}
	return f, nil
}

// run(outputs, executable, arguments = [], inputs = [], tools = [], env = {},
//
//	mnemonic = "Action", progress_message = "", jobserver = False,
//	execution_requirements = {}, env_inherit = [], depfile = None,
//	discoverable_inputs = [], group = "", serial = False, failure_hint = "")
//
// run_shell takes command (a shell script run by /bin/sh -c) instead of
// executable; its arguments become $1, $2, ...
func (av *actionsValue) run(thread *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := av.checkLive(b); err != nil {
		return nil, err
	}
	// The parameters, in one struct, the thread's own (scratchOf):
	// separate variables whose addresses UnpackArgs takes would be an
	// allocation each, and a struct of this call's one (~290 bytes per
	// action).
	p := &scratchOf(thread).run
	*p = runParams{
		inputs: starlark.None, tools: starlark.None, executable: starlark.None, depfile: starlark.None,
		discoverable: starlark.None, jobserver: starlark.False, mnemonic: "Action",
	}
	shell := b.Name() == "run_shell"
	second, secondPtr := "executable", any(&p.executable)
	if shell {
		second, secondPtr = "command", &p.command
		p.mnemonic = "RunShell"
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "outputs", &p.outputs, second, secondPtr,
		"arguments?", &p.arguments, "inputs?", &p.inputs, "tools?", &p.tools, "env?", &p.env,
		"mnemonic?", &p.mnemonic, "progress_message?", &p.progress, "jobserver?", &p.jobserver,
		"execution_requirements?", &p.requirements, "env_inherit?", &p.envInherit,
		"depfile?", &p.depfile, "discoverable_inputs?", &p.discoverable,
		"group?", &p.group, "serial?", &p.serial, "failure_hint?", &p.failureHint,
		"stage?", &p.stage, "pipeline?", &p.pipeline); err != nil {
		*p = runParams{}
		return nil, err
	}
	outputs, inputs, tools, executable, depfile, discoverable, jobserver := p.outputs, p.inputs, p.tools, p.executable, p.depfile, p.discoverable, p.jobserver
	command, mnemonic, progress, group, failureHint, stage, pipeline := p.command, p.mnemonic, p.progress, p.group, p.failureHint, p.stage, p.pipeline
	arguments, envInherit, env, requirements, serial := p.arguments, p.envInherit, p.env, p.requirements, p.serial
	*p = runParams{} // the thread keeps no value of this call
	outs, err := av.outputs(b, outputs)
	if err != nil {
		return nil, err
	}
	ins, err := filesOf(inputs, b.Name(), "inputs")
	if err != nil {
		return nil, err
	}
	toolFiles, err := filesOf(tools, b.Name(), "tools")
	if err != nil {
		return nil, err
	}
	ins = append(ins, toolFiles...)
	maybe, err := filesOf(discoverable, b.Name(), "discoverable_inputs")
	if err != nil {
		return nil, err
	}
	n := 1
	if arguments != nil {
		n += arguments.Len()
	}
	var argv []string
	if shell {
		argv = append(make([]string, 0, 4+n-1), "/bin/sh", "-c", command, "sh")
	} else {
		switch exe := executable.(type) {
		case *File:
			argv = append(make([]string, 0, n), exe.Path)
			if !strings.Contains(exe.Path, "/") {
				argv[0] = "./" + exe.Path
			}
			ins = append(ins, exe)
		case starlark.String:
			if exe == "" {
				return nil, fmt.Errorf("%s: executable is empty", b.Name())
			}
			argv = append(make([]string, 0, n), string(exe))
		default:
			return nil, fmt.Errorf("%s: executable must be a File or a program name, got %s", b.Name(), executable.Type())
		}
	}
	if arguments != nil {
		for i := 0; i < arguments.Len(); i++ {
			switch x := arguments.Index(i).(type) {
			case starlark.String:
				argv = append(argv, string(x))
			case *File:
				argv = append(argv, x.Path)
			default:
				return nil, fmt.Errorf("%s: arguments[%d] is a %s; want a string or a File", b.Name(), i, x.Type())
			}
		}
	}
	actEnv, err := av.env(b, env, envInherit)
	if err != nil {
		return nil, err
	}
	// The inputs and outputs in one array, each slice with no room to
	// append into the other's: one allocation per action, not two.
	paths := make([]string, 0, len(ins)+len(outs))
	paths = appendSortedPaths(paths, ins)
	nIn := len(paths)
	paths = appendSortedPaths(paths, outs)
	act := &graph.Action{
		Owner:       av.rc.owner,
		Mnemonic:    mnemonic,
		Description: av.progress(progress, outs),
		Argv:        argv,
		Env:         actEnv,
		Inputs:      paths[:nIn:nIn],
		Outputs:     slices.Clip(paths[nIn:]),
		Serial:      serial,
	}
	if disc := withoutPaths(sortedPaths(maybe), ins); len(disc) > 0 {
		act.Edit().Discoverable = disc
	}
	if failureHint != "" {
		act.Edit().Hint = failureHint
	}
	if group != "" {
		// Groups are the target's own: two targets' groups never merge.
		act.Edit().Group = act.Owner + " " + group
	} else if serial {
		return nil, fmt.Errorf("%s: serial = True needs a group: the actions that run one at a time", b.Name())
	}
	if err := av.setStage(b, act, stage, pipeline); err != nil {
		return nil, err
	}
	switch j := jobserver.(type) {
	case starlark.Bool:
		act.Jobserver = bool(j)
	case starlark.String:
		if j != "fifo" && j != "pipe" {
			return nil, fmt.Errorf("%s: jobserver = %s: want True, False, \"fifo\" or \"pipe\"", b.Name(), j)
		}
		act.Jobserver, act.Edit().JobserverStyle = true, string(j)
	default:
		return nil, fmt.Errorf("%s: jobserver must be a bool, \"fifo\" or \"pipe\", got %s", b.Name(), jobserver.Type())
	}
	switch f := depfile.(type) {
	case starlark.NoneType:
	case *File:
		if !slices.Contains(act.Outputs, f.Path) {
			return nil, fmt.Errorf("%s: depfile %s must be one of the action's outputs", b.Name(), f.Path)
		}
		act.Edit().Depfile = f.Path
	default:
		return nil, fmt.Errorf("%s: depfile must be a File (one of the outputs), got %s", b.Name(), depfile.Type())
	}
	if requirements != nil {
		for _, kv := range requirements.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: execution_requirements must map strings to strings", b.Name())
			}
			applyRequirement(act, string(k))
		}
	}
	return starlark.None, av.add(b, act, outs)
}

// runParams are the parameters of run and run_shell as UnpackArgs sets
// them.
type runParams struct {
	outputs, inputs, tools, executable, depfile, discoverable, jobserver starlark.Value
	command, mnemonic, progress, group, failureHint, stage, pipeline     string
	arguments, envInherit                                                *starlark.List
	env, requirements                                                    *starlark.Dict
	serial                                                               bool
}

// expandParams are the parameters of expand_make_variables as
// UnpackArgs sets them.
type expandParams struct {
	attrName, command string
	subs              *starlark.Dict
	srcs, outs        *starlark.List
}

// A scratch holds the parameters of the methods that run once per target
// or more (run, run_shell, expand_make_variables), the thread's own
// (scratchOf).
type scratch struct {
	run    runParams
	expand expandParams
}

// scratchKey is the thread local of a thread's scratch.
const scratchKey = "bld.analysis.scratch"

// scratchOf returns thread's scratch, made on its first call: the threads
// of analysis are reused from target to target, so this is one allocation
// per thread rather than one per call. A method uses its parameters only
// while it unpacks its arguments and copies them out (no Starlark runs in
// between), and clears them then, so that a nested call on the same thread
// could not find them in use and the thread keeps no value of a call.
func scratchOf(thread *starlark.Thread) *scratch {
	if s, ok := thread.Local(scratchKey).(*scratch); ok {
		return s
	}
	s := new(scratch)
	thread.SetLocal(scratchKey, s)
	return s
}

// write(output, content, is_executable = False)
func (av *actionsValue) write(_ *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := av.checkLive(b); err != nil {
		return nil, err
	}
	var output *File
	var content, stage, pipeline string
	var executable bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "output", &output, "content", &content, "is_executable?", &executable,
		"stage?", &stage, "pipeline?", &pipeline); err != nil {
		return nil, err
	}
	outs, err := av.outputs(b, starlark.NewList([]starlark.Value{output}))
	if err != nil {
		return nil, err
	}
	act := &graph.Action{
		Owner:       av.rc.owner,
		Mnemonic:    "FileWrite",
		Description: "Writing " + output.Path,
		More:        &graph.More{Content: []byte(content)},
		Executable:  executable,
		Outputs:     []string{output.Path},
	}
	if err := av.setStage(b, act, stage, pipeline); err != nil {
		return nil, err
	}
	return starlark.None, av.add(b, act, outs)
}

// setStage gives act the stage of the stage and pipeline arguments of
// run, run_shell or write: a stage name of lowercase letters, digits and
// _, and a pipeline label (default: the target's own label).
func (av *actionsValue) setStage(b namer, act *graph.Action, stage, pipeline string) error {
	if stage == "" {
		if pipeline != "" {
			return fmt.Errorf("%s: pipeline = %q needs a stage", b.Name(), pipeline)
		}
		return nil
	}
	if !validStageName(stage) {
		return fmt.Errorf("%s: stage %q: a stage name is lowercase letters, digits and _, starting with a letter", b.Name(), stage)
	}
	if pipeline == "" {
		pipeline = av.rc.target.Label.String()
	}
	l, err := label.Parse(pipeline, "", av.rc.target.Label.Pkg)
	if err != nil {
		return fmt.Errorf("%s: pipeline: %v", b.Name(), err)
	}
	act.Edit().Pipeline, act.Edit().Stage = l.String(), stage
	return nil
}

// validStageName reports whether s can name a stage: [a-z][a-z0-9_]*.
func validStageName(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return s != ""
}

// outputs checks that every output is a file this target declared and no
// other action writes.
func (av *actionsValue) outputs(b namer, v starlark.Value) ([]*File, error) {
	outs, err := filesOf(v, b.Name(), "outputs")
	if err != nil {
		return nil, err
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("%s: an action needs at least one output", b.Name())
	}
	for _, f := range outs {
		if f.IsSource || f.Owner != av.rc.target.Label {
			return nil, fmt.Errorf("%s: output %s was not declared by %s; declare outputs with ctx.actions.declare_file", b.Name(), f.Path, av.rc.target.Label)
		}
		if av.rc.produced.has(f) {
			return nil, fmt.Errorf("%s: output %s is already written by another action of %s", b.Name(), f.Path, av.rc.target.Label)
		}
	}
	return outs, nil
}

func (av *actionsValue) add(b namer, act *graph.Action, outs []*File) error {
	for _, tag := range av.rc.target.Tags {
		applyRequirement(act, tag)
	}
	if p := av.rc.a.config.execProperties(av.rc.target.ExecProperties); p != nil {
		act.Edit().ExecProperties = p
	}
	// Outputs are files this target declared (outputs checked it), so
	// no other target's action produces them.
	av.rc.entry.own = append(av.rc.entry.own, act)
	for _, f := range outs {
		av.rc.produced.add(f)
	}
	return nil
}

// A fileSet is a set of files: a target's actions write one file or a
// few, so a small set is a slice, first in a buffer of the set's own (a
// map per target was 250 bytes in two allocations: 25 MB at 100,000
// targets), and a map is made only past fileSetListMax files. The zero
// fileSet is empty.
type fileSet struct {
	buf  [2]*File
	list []*File
	m    map[*File]bool
}

// fileSetListMax is the largest set kept as a slice alone.
const fileSetListMax = 16

func (s *fileSet) has(f *File) bool {
	if s.m != nil {
		return s.m[f]
	}
	return slices.Contains(s.list, f)
}

func (s *fileSet) add(f *File) {
	if s.m != nil {
		s.m[f] = true
		return
	}
	if s.list == nil {
		s.list = s.buf[:0]
	}
	s.list = append(s.list, f)
	if len(s.list) > fileSetListMax {
		s.m = make(map[*File]bool, 2*len(s.list))
		for _, g := range s.list {
			s.m[g] = true
		}
		s.list = nil
	}
}

// env builds an action's environment, sorted: the base environment, then
// the variables of env_inherit taken from bld's own environment (unset ones
// are left out), then the env dict.
func (av *actionsValue) env(b namer, d *starlark.Dict, inherit *starlark.List) ([]string, error) {
	if (inherit == nil || inherit.Len() == 0) && (d == nil || d.Len() == 0) {
		// Shared by the actions: clipped, so that an append copies.
		return slices.Clip(av.rc.a.baseEnv), nil
	}
	m := envMap(av.rc.a.actionEnv)
	if inherit != nil {
		for i := 0; i < inherit.Len(); i++ {
			name, ok := inherit.Index(i).(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: env_inherit must be a list of variable names", b.Name())
			}
			av.rc.a.mu.Lock()
			av.rc.a.st.envRead[string(name)] = true
			av.rc.a.mu.Unlock()
			// Only this target's analysis touches its entry.
			r := av.rc.entry.readsOf()
			r.env = insertSorted(r.env, string(name))
			if v, ok := av.rc.a.hostEnv[string(name)]; ok {
				m[string(name)] = v
			}
		}
	}
	if d != nil {
		for _, kv := range d.Items() {
			k, ok1 := kv[0].(starlark.String)
			v, ok2 := kv[1].(starlark.String)
			if !ok1 || !ok2 || k == "" || strings.Contains(string(k), "=") {
				return nil, fmt.Errorf("%s: env must map variable names to strings", b.Name())
			}
			m[string(k)] = string(v)
		}
	}
	return sortedEnv(m), nil
}

// envMap returns the variables of "KEY=value" entries; of a name given
// twice, the last value counts.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// sortedEnv returns the variables of m as "KEY=value" entries, sorted.
func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// progress expands %{label} and %{output} in a progress message.
func (av *actionsValue) progress(msg string, outs []*File) string {
	if msg == "" {
		return ""
	}
	msg = strings.ReplaceAll(msg, "%{label}", av.rc.target.Label.String())
	return strings.ReplaceAll(msg, "%{output}", outs[0].Path)
}

// applyRequirement applies one of Bazel's execution requirements (given in
// execution_requirements, or as a tag of the target) to act. "local" is
// Bazel's: no sandbox, no remote execution, no remote cache. Unknown
// requirements ("requires-network", ...) change nothing: local actions
// reach the network.
func applyRequirement(act *graph.Action, req string) {
	switch req {
	case "no-cache":
		act.NoCache = true
	case "no-sandbox":
		act.NoSandbox = true
	case "local":
		act.NoSandbox, act.NoRemoteExec, act.NoRemoteCache = true, true, true
	case "no-remote":
		act.NoRemoteExec, act.NoRemoteCache = true, true
	case "no-remote-exec":
		act.NoRemoteExec = true
	case "no-remote-cache":
		act.NoRemoteCache = true
	case "allow-daemon":
		act.AllowDaemon = true
	}
}

// withoutPaths returns the sorted paths that are not the path of a file
// in files.
func withoutPaths(paths []string, files []*File) []string {
	if len(paths) == 0 {
		return nil
	}
	drop := make(map[string]bool, len(files))
	for _, f := range files {
		drop[f.Path] = true
	}
	out := paths[:0]
	for _, p := range paths {
		if !drop[p] {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
