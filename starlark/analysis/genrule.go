package analysis

import (
	"path"
	"slices"

	"go.starlark.net/starlark"

	"bld/exec/graph"
	"bld/exec/shell"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/workspace"
)

// genrule runs the implementation of the built-in genrule
// (rules/genrule.star's _genrule_impl) in Go: the same action, the same
// files and the same result, without a Starlark call, its dicts and lists
// (a tenth of a 100,000-genrule analysis). ok is false when the Starlark
// implementation must run instead: whenever anything would fail (its error
// and traceback are the Starlark implementation's), and nothing has been
// recorded then. rules/genrule.star stays the definition; a test compares
// the two on every feature.
func (rc *ruleContext) genrule() (c *Configured, ok bool) {
	t := rc.target
	i, found := slices.BinarySearch(t.Rule.AttrNames, "outs")
	if !found || rc.attrOuts == nil {
		return nil, false
	}
	outs := rc.attrOuts[i]
	cmd, ok1 := t.Attr("cmd").(starlark.String)
	message, ok2 := t.Attr("message").(starlark.String)
	if !ok1 || !ok2 || len(outs) == 0 || len(rc.produced) > 0 {
		return nil, false
	}
	var buf [8]label.Label
	srcs := labelListFiles(loading.AppendLabels(buf[:0], t.Attr("srcs")), rc.deps)
	tools := labelListFiles(loading.AppendLabels(buf[:0], t.Attr("tools")), rc.deps)

	// subs = dict(ctx.var, SRCS = srcs, OUTS = outs, RULEDIR = ruledir), then
	// $@ and $(@D), or $(@D) = ruledir, and $<: genruleVars, which makes
	// only the text the command uses.
	command, err := rc.expandWith(string(cmd), &genruleVars{config: rc.a.varMap, pkg: t.Label.Pkg, srcs: srcs, outs: outs}, true)
	if err != nil {
		return nil, false
	}

	// ctx.actions.run(outputs = outs, inputs = srcs, tools = tools,
	// executable = "/bin/sh", arguments = ["-e", "-c", cmd],
	// mnemonic = "Genrule", progress_message = ctx.attr.message or
	// "Generating %{output}", jobserver = ctx.attr.jobserver)
	act := &graph.Action{
		Owner:    t.Label.String(),
		Mnemonic: "Genrule",
		Argv:     []string{"/bin/sh", "-e", "-c", command},
		Env:      slices.Clip(rc.a.baseEnv),
		Outputs:  sortedPaths(outs),
	}
	switch j := t.Attr("jobserver").(type) {
	case starlark.Bool:
		act.Jobserver = bool(j)
	case starlark.String:
		if j != "fifo" && j != "pipe" {
			return nil, false
		}
		act.Jobserver, act.JobserverStyle = true, string(j)
	default:
		return nil, false
	}
	if message == "" {
		message = "Generating %{output}"
	}
	act.Description = rc.actions.progress(string(message), outs)
	ins := make([]*File, 0, len(srcs)+len(tools))
	act.Inputs = sortedPaths(append(append(ins, srcs...), tools...))
	if err := rc.actions.add(nil, act, outs); err != nil {
		return nil, false // add fails on nothing today
	}
	// return [DefaultInfo(files = outs)]: the DefaultInfo its files say
	// all of, made when asked for.
	return &Configured{Label: t.Label, Target: t, Files: outs, implicitDefault: true}, true
}

// genruleVars are the make variables of a genrule's cmd, as
// rules/genrule.star's subs dict has them.
type genruleVars struct {
	config     map[string]starlark.Value // ctx.var
	pkg        string
	srcs, outs []*File
}

func (g *genruleVars) lookup(name string) (string, bool, error) {
	paths := func(files []*File) string {
		if len(files) == 1 {
			return shell.Quote(files[0].Path)
		}
		p := make([]string, len(files))
		for i, f := range files {
			p[i] = f.Path
		}
		return shell.Join(p)
	}
	ruledir := func() string {
		if g.pkg == "" {
			return workspace.OutputDir
		}
		return workspace.OutputDir + "/" + g.pkg
	}
	switch {
	case name == "SRCS":
		return paths(g.srcs), true, nil
	case name == "OUTS":
		return paths(g.outs), true, nil
	case name == "RULEDIR":
		return shell.Quote(ruledir()), true, nil
	case name == "@" && len(g.outs) == 1:
		return paths(g.outs), true, nil
	case name == "@D" && len(g.outs) == 1:
		return shell.Quote(path.Dir(g.outs[0].Path)), true, nil
	case name == "@D":
		return shell.Quote(ruledir()), true, nil
	case name == "<" && len(g.srcs) == 1:
		return paths(g.srcs), true, nil
	}
	v, ok := g.config[name]
	if !ok {
		return "", false, nil
	}
	text, err := substitution(v)
	return text, true, err
}

// known is only for errors, which the Starlark implementation reports.
func (g *genruleVars) known() string { return "" }
