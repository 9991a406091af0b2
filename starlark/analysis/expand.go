package analysis

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"bld/exec/shell"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

// expand_location(input, targets = [])
func (rc *ruleContext) expandLocationBuiltin(_ *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var input string
	var targets *starlark.List
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "input", &input, "targets?", &targets); err != nil {
		return nil, err
	}
	out, err := rc.expand(input, nil, false)
	if err != nil {
		return nil, err // the Starlark error already names expand_location
	}
	return starlark.String(out), nil
}

// expand_make_variables(attribute_name, command, additional_substitutions = {}, *, srcs = None, outs = None)
func (rc *ruleContext) expandMakeVariablesBuiltin(thread *starlark.Thread, b namer, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	// The parameters in the thread's struct (scratchOf): no allocation
	// (this runs once per genrule).
	sp := &scratchOf(thread).expand
	*sp = expandParams{} // UnpackArgs leaves an omitted parameter as it is
	err := starlark.UnpackArgs(b.Name(), args, kwargs, "attribute_name", &sp.attrName, "command", &sp.command,
		"additional_substitutions?", &sp.subs, "srcs?", &sp.srcs, "outs?", &sp.outs)
	p := *sp
	*sp = expandParams{}
	if err != nil {
		return nil, err
	}
	// Every value is checked; the text of those the command uses is made
	// when it does. The variables are looked up in a slice on the stack,
	// not a map, the first of a name counting: additional_substitutions',
	// then those of srcs and outs, then the configuration's (ctx.var).
	var buf [16]makeVar
	vars := varList(buf[:0])
	if p.subs != nil {
		for _, k := range p.subs.Keys() {
			ks, ok := k.(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: additional_substitutions must map strings to strings or lists of paths", b.Name())
			}
			v, _, _ := p.subs.Get(k)
			if err := checkSubstitution(v); err != nil {
				return nil, fmt.Errorf("%s: additional_substitutions[%q]: %v", b.Name(), string(ks), err)
			}
			vars = append(vars, makeVar{name: string(ks), value: v})
		}
	}
	if p.srcs != nil {
		if err := checkSubstitution(p.srcs); err != nil {
			return nil, fmt.Errorf("%s: srcs: %v", b.Name(), err)
		}
		vars = append(vars, makeVar{name: "SRCS", value: p.srcs})
		if p.srcs.Len() == 1 {
			vars = append(vars, makeVar{name: "<", value: p.srcs})
		}
	}
	if p.outs != nil {
		if err := checkSubstitution(p.outs); err != nil {
			return nil, fmt.Errorf("%s: outs: %v", b.Name(), err)
		}
		// $(RULEDIR) is bld-out/<package>, where declare puts the
		// target's outputs (joined only if the command uses it).
		ruleDir := makeVar{name: "RULEDIR", path: rc.target.Label.Pkg, inOutputDir: true}
		vars = append(vars, makeVar{name: "OUTS", value: p.outs}, ruleDir)
		if p.outs.Len() == 1 {
			vars = append(vars, makeVar{name: "@", value: p.outs}, makeVar{name: "@D", path: path.Dir(pathOf(p.outs.Index(0)))})
		} else {
			ruleDir.name = "@D"
			vars = append(vars, ruleDir)
		}
	}
	vars = append(vars, rc.a.configVars...)
	out, err := rc.expand(p.command, vars, true)
	if err != nil {
		return nil, fmt.Errorf("attribute %s of %s: %v", p.attrName, rc.target.Label, err)
	}
	return starlark.String(out), nil
}

// pathOf returns the path of v, a File or a string (checkSubstitution
// checked that it is one).
func pathOf(v starlark.Value) string {
	if f, ok := v.(*File); ok {
		return f.Path
	}
	s, _ := v.(starlark.String)
	return string(s)
}

// A makeVar is a make variable of expand_make_variables: a value of
// additional_substitutions (a string or a list of paths,
// checkSubstitution), or, with value nil, one path (RULEDIR, @D), which
// is quoted as a list's paths are: path, or with inOutputDir, path in
// bld-out/.
type makeVar struct {
	name        string
	value       starlark.Value
	path        string
	inOutputDir bool
}

// text returns what v expands to (substitution).
func (v makeVar) text() (string, error) {
	switch {
	case v.value != nil:
		return substitution(v.value)
	case v.inOutputDir:
		return shell.Quote(path.Join(workspace.OutputDir, v.path)), nil
	}
	return shell.Quote(v.path), nil
}

// configVars returns the make variables of vars (ctx.var, whose keys
// and values are strings), in its order.
func configVars(vars *starlark.Dict) []makeVar {
	var out []makeVar
	for _, kv := range vars.Items() {
		k, _ := kv[0].(starlark.String)
		out = append(out, makeVar{name: string(k), value: kv[1]})
	}
	return out
}

// varList holds the variables of an expansion; of two of the same name,
// the first counts.
type varList []makeVar

// get returns the variable name. (A linear search: a command names a
// few variables, of a few.)
func (vs varList) get(name string) (makeVar, bool) {
	for _, v := range vs {
		if v.name == name {
			return v, true
		}
	}
	return makeVar{}, false
}

// checkSubstitution reports an error if v cannot be a value of
// additional_substitutions (substitution says which can).
func checkSubstitution(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		return nil
	case *starlark.List:
		for i := range v.Len() {
			switch e := v.Index(i).(type) {
			case *File, starlark.String:
			default:
				return fmt.Errorf("element %d is a %s; a list holds paths (Files or strings)", i, e.Type())
			}
		}
		return nil
	}
	return fmt.Errorf("got a %s; want a string or a list of paths (Files or strings)", v.Type())
}

// substitution returns the text of one value of additional_substitutions: a
// string as it is (the caller's own shell text), or a list of paths (Files or
// strings) as shell words, each quoted by shell.Quote, separated by spaces.
func substitution(v starlark.Value) (string, error) {
	switch v := v.(type) {
	case starlark.String:
		return string(v), nil
	case *starlark.List:
		paths := make([]string, v.Len())
		for i := range paths {
			switch e := v.Index(i).(type) {
			case *File:
				paths[i] = e.Path
			case starlark.String:
				paths[i] = string(e)
			default:
				return "", fmt.Errorf("element %d is a %s; a list holds paths (Files or strings)", i, e.Type())
			}
		}
		return shell.Join(paths), nil
	}
	return "", fmt.Errorf("got a %s; want a string or a list of paths (Files or strings)", v.Type())
}

// expand replaces $(location L) and its kin with the paths of L's files. With
// makeVars, the result is shell text: the paths are quoted by shell.Quote, $$
// becomes $, $(NAME) and $X are replaced by vars, and any other $ is an error.
// Without makeVars (argv expansion), the paths are never quoted and other text
// is left alone.
func (rc *ruleContext) expand(s string, vars varList, makeVars bool) (string, error) {
	lookup := func(name string) (string, bool, error) {
		v, ok := vars.get(name)
		if !ok {
			return "", false, nil
		}
		text, err := v.text()
		return text, true, err
	}
	if strings.IndexByte(s, '$') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 64) // room for a few paths: one allocation, mostly
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return builtString(&b), nil
		}
		if i == len(s)-1 {
			if makeVars {
				return "", fmt.Errorf("a lone $ ends the command; write $$ for a literal $")
			}
			b.WriteString(s)
			return builtString(&b), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch c := s[1]; {
		case c == '$':
			if makeVars {
				b.WriteString("$")
			} else {
				b.WriteString("$$")
			}
			s = s[2:]
		case c == '(':
			end := strings.IndexByte(s, ')')
			if end < 0 {
				return "", fmt.Errorf("unterminated $( in %q", s)
			}
			inner := s[2:end]
			s = s[end+1:]
			if fn, arg, ok := strings.Cut(inner, " "); ok {
				paths, err := rc.location(fn, strings.TrimSpace(arg))
				if err != nil {
					return "", err
				}
				if makeVars {
					b.WriteString(shell.Join(paths))
				} else {
					b.WriteString(strings.Join(paths, " "))
				}
				continue
			}
			if !makeVars {
				b.WriteString("$(" + inner + ")")
				continue
			}
			v, ok, err := lookup(inner)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("$(%s) is not defined; known variables: %s (write $$ for a literal $)", inner, knownVars(vars))
			}
			b.WriteString(v)
		default:
			if !makeVars {
				b.WriteByte('$')
				s = s[1:]
				continue
			}
			v, ok, err := lookup(string(c))
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("$%c is not defined; known variables: %s (write $$ for a literal $, e.g. $$HOME)", c, knownVars(vars))
			}
			b.WriteString(v)
			s = s[2:]
		}
	}
}

// builtString returns what b holds, in an allocation of about its own
// size: an expanded command is kept to the end of the build (it is the
// action's argv), and the room b kept past it (its Grow's, or twice what
// it held when it grew) would be kept with it: at 100,000 genrules, 3 MB
// of the analysis' live data (147 -> 144 MB at its end). A copy costs
// less than that room kept through the analysis and the whole build.
func builtString(b *strings.Builder) string {
	if b.Cap()-b.Len() > b.Len()/8+16 {
		return strings.Clone(b.String())
	}
	return b.String()
}

func knownVars(vars varList) string {
	var names []string
	for _, v := range vars {
		if k := v.name; len(k) == 1 {
			names = append(names, "$"+k)
		} else {
			names = append(names, "$("+k+")")
		}
	}
	sort.Strings(names)
	return strings.Join(slices.Compact(names), ", ")
}

// location returns the paths one $(fn L) expands to.
func (rc *ruleContext) location(fn, arg string) ([]string, error) {
	switch fn {
	case "location", "locations", "execpath", "execpaths", "rootpath", "rootpaths":
	default:
		return nil, fmt.Errorf("unknown function $(%s ...); bld knows location, locations, execpath, execpaths, rootpath, rootpaths", fn)
	}
	l, err := label.Parse(arg, "", rc.target.Label.Pkg)
	if err != nil {
		return nil, fmt.Errorf("$(%s %s): %v", fn, arg, err)
	}
	var files []*File
	if dep, ok := rc.deps.get(l); ok {
		files = dep.Files
		if dep.Executable != nil && !strings.HasSuffix(fn, "s") {
			files = []*File{dep.Executable}
		}
	} else if f := rc.predeclaredFile(l); f != nil {
		// An output of the target itself (genrule outs), as in Bazel.
		files = []*File{f}
	} else {
		return nil, fmt.Errorf("$(%s %s): %s is not a dependency or an output of %s; add it to srcs, tools or deps", fn, arg, l, rc.target.Label)
	}
	if !strings.HasSuffix(fn, "s") && len(files) != 1 {
		return nil, fmt.Errorf("$(%s %s): %s has %d files; use $(%ss %s) for several", fn, arg, l, len(files), fn, arg)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
		if strings.HasPrefix(fn, "rootpath") {
			paths[i] = f.ShortPath()
		}
	}
	return paths, nil
}

// predeclaredFile returns the file of l if l is one of the target's own
// output attributes (such as a genrule's outs), else nil.
func (rc *ruleContext) predeclaredFile(l label.Label) *File {
	if l.Repo != rc.target.Label.Repo || l.Pkg != rc.target.Label.Pkg {
		return nil
	}
	p := path.Join(workspace.OutputDir, l.Pkg, l.Name)
	for _, f := range rc.predeclared {
		if f.Path == p {
			return f
		}
	}
	return nil
}
