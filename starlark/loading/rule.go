package loading

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"bld/starlark/label"
)

// A Rule is a kind of target, made by rule(implementation, attrs). Calling it
// from a BUILD.star file (directly or through a macro) declares a target.
// Its name is the global it was assigned to.
type Rule struct {
	name string
	// Impl is the implementation function, called once per target at
	// analysis with a ctx.
	Impl *starlark.Function
	// Attrs is the attribute schema; AttrNames lists it sorted.
	Attrs     map[string]*Attr
	AttrNames []string
	// schemas are AttrNames' schemas, in order, made once (Schema).
	schemas []*Attr
	// Executable rules produce a program (DefaultInfo.executable).
	Executable bool
	// Test rules are executable rules whose program is a test: bld test
	// runs it, and it passes when it exits 0.
	Test bool
	Doc  string
	// DefinedIn is the .star file that defined the rule.
	DefinedIn label.Label
}

var _ starlark.Callable = (*Rule)(nil)

func (r *Rule) Name() string {
	if r.name == "" {
		return "<anonymous rule>"
	}
	return r.name
}
func (r *Rule) String() string        { return "<rule " + r.Name() + ">" }
func (r *Rule) Type() string          { return "rule" }
func (r *Rule) Freeze()               {}
func (r *Rule) Truth() starlark.Bool  { return true }
func (r *Rule) Hash() (uint32, error) { return starlark.String(fmt.Sprintf("%p", r)).Hash() }

// rule(implementation, attrs = {}, doc = "", executable = False)
func ruleBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		impl       *starlark.Function
		attrs      *starlark.Dict
		doc        string
		executable bool
		test       bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "implementation", &impl, "attrs?", &attrs, "doc?", &doc, "executable?", &executable, "test?", &test); err != nil {
		return nil, err
	}
	executable = executable || test
	if impl.NumParams() != 1 {
		return nil, fmt.Errorf("rule: the implementation %s must take exactly one parameter (ctx)", impl.Name())
	}
	schema, names, err := attrsFromDict(attrs)
	if err != nil {
		return nil, fmt.Errorf("rule: %v", err)
	}
	if executable {
		names = addImplicitAttrs(schema, names, executableAttrs)
	}
	if test {
		names = addImplicitAttrs(schema, names, testAttrs)
	}
	m, _ := thread.Local(moduleKey).(label.Label)
	schemas := make([]*Attr, len(names))
	for i, n := range names {
		schemas[i] = schema[n]
	}
	return &Rule{Impl: impl, Attrs: schema, AttrNames: names, schemas: schemas, Executable: executable, Test: test, Doc: doc, DefinedIn: m}, nil
}

// Schema returns the schema of the attribute AttrNames[i],
// Attrs[AttrNames[i]], without a lookup by name.
func (r *Rule) Schema(i int) *Attr {
	if len(r.schemas) == len(r.AttrNames) {
		return r.schemas[i]
	}
	return r.Attrs[r.AttrNames[i]]
}

// CallInternal declares a target in the package being evaluated.
func (r *Rule) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	pb, _ := thread.Local(packageKey).(*packageBuilder)
	if pb == nil {
		return nil, fmt.Errorf("%s: a rule can only be called while a BUILD.star file is evaluated (from the file itself or a macro it calls), not when a .star file is loaded", r.Name())
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: takes keyword arguments only (name = ..., ...)", r.Name())
	}
	return starlark.None, r.declare(pb, callerInFile(thread, pb.pkg.File), kwargs)
}

// declare declares the target of a call of r with kwargs at pos in the
// package pb builds.
func (r *Rule) declare(pb *packageBuilder, pos syntax.Position, kwargs []starlark.Tuple) error {
	var name string
	for _, kv := range kwargs {
		if string(kv[0].(starlark.String)) == "name" {
			s, ok := kv[1].(starlark.String)
			if !ok {
				return fmt.Errorf("%s: name must be a string, got %s", r.Name(), kv[1].Type())
			}
			name = string(s)
		}
	}
	if name == "" {
		return fmt.Errorf("%s: missing the mandatory attribute name", r.Name())
	}
	if err := checkTargetName(name, pb.pkg.Path); err != nil {
		return fmt.Errorf("%s: invalid target name %q: %v", r.Name(), name, err)
	}
	t := &Target{
		Label: label.Label{Pkg: pb.pkg.Path, Name: name},
		Rule:  r,
		attrs: make([]starlark.Value, len(r.AttrNames)),
		Pos:   pos,
	}
	// what names the target in errors; formatted only for one.
	what := func() string { return fmt.Sprintf("%s %q", r.Name(), name) }
	visibilitySet := false
	for _, kv := range kwargs {
		k, v := string(kv[0].(starlark.String)), kv[1]
		a, ok := r.Attrs[k]
		switch {
		case k == "name":
			continue
		case k == "visibility":
			if v == starlark.None {
				continue
			}
			vis, err := visibilityOf(v, pb.pkg.Path)
			if err != nil {
				return fmt.Errorf("%s: attribute visibility: %v", what(), err)
			}
			t.Visibility = vis
			visibilitySet = true
			continue
		case k == "tags":
			l, ok := v.(*starlark.List)
			if !ok && v != starlark.None {
				return fmt.Errorf("%s: attribute tags: want a list of strings, got %s", what(), v.Type())
			}
			tags, err := stringsOf(l)
			if err != nil {
				return fmt.Errorf("%s: attribute tags: %v", what(), err)
			}
			t.Tags = tags
			continue
		case k == "exec_properties":
			props, err := stringDictOf(v)
			if err != nil {
				return fmt.Errorf("%s: attribute exec_properties: %v", what(), err)
			}
			t.ExecProperties = props
			continue
		case !ok || strings.HasPrefix(k, "_"):
			return fmt.Errorf("%s: unknown attribute %q%s; the attributes of %s are: %s",
				what(), k, suggest(k, publicAttrs(r)), r.Name(), strings.Join(publicAttrs(r), ", "))
		}
		i, _ := slices.BinarySearch(r.AttrNames, k)
		if v == starlark.None {
			t.attrs[i] = nil // None means unset: the default applies, or mandatory fails
			continue
		}
		var cv starlark.Value
		var err error
		switch v.(type) {
		case *Select, *SelectorList:
			cv, err = coerceSelect(a, v, pb.pkg.Path)
		default:
			cv, err = coerceAttr(a, v, "", pb.pkg.Path)
		}
		if err != nil {
			return fmt.Errorf("%s: attribute %s (%s): %v", what(), k, a.Type, err)
		}
		t.attrs[i] = cv
	}
	for i, k := range r.AttrNames {
		if t.attrs[i] != nil {
			continue
		}
		a := r.Attrs[k]
		if a.Mandatory {
			return fmt.Errorf("%s: missing the mandatory attribute %s", what(), k)
		}
		t.attrs[i] = a.Default
	}
	if !visibilitySet {
		t.Visibility = pb.defaultVisibility
	}
	return pb.add(t)
}

func publicAttrs(r *Rule) []string {
	var names []string
	for _, n := range r.AttrNames {
		if !strings.HasPrefix(n, "_") {
			names = append(names, n)
		}
	}
	return append([]string{"name"}, names...)
}

// callerInFile returns the position of the outermost call in file (the line
// of the BUILD.star that declared the target, even through macros), or the
// innermost caller's position if file is not on the stack.
func callerInFile(thread *starlark.Thread, file string) syntax.Position {
	// Outermost first, one frame at a time (CallStack would copy them
	// all, for each target).
	for depth := thread.CallStackDepth() - 1; depth >= 0; depth-- {
		if pos := thread.CallFrame(depth).Pos; pos.Filename() == file {
			return pos
		}
	}
	return thread.CallFrame(1).Pos
}

// The attributes every executable rule has unless it declares them, as in
// Bazel: what bld run and bld test give the program.
var executableAttrs = map[string]*Attr{
	"args": {Type: AttrStringList, Default: zeroValue(AttrStringList),
		Doc: "Arguments the program gets from bld run and bld test, before those of the command line."},
	"data": {Type: AttrLabelList, Default: zeroValue(AttrLabelList),
		Doc: "Files the program reads when it runs: inputs of its test runs, at their workspace paths."},
}

// The attributes every test rule has unless it declares them (Bazel's).
var testAttrs = map[string]*Attr{
	"size": {Type: AttrString, Default: starlark.String("medium"),
		Values: []starlark.Value{starlark.String("small"), starlark.String("medium"), starlark.String("large"), starlark.String("enormous")},
		Doc:    "How heavy the test is; its timeout unless timeout says otherwise: small 60 s, medium 300 s, large 900 s, enormous 3600 s."},
	"timeout": {Type: AttrString, Default: starlark.String(""),
		Values: []starlark.Value{starlark.String(""), starlark.String("short"), starlark.String("moderate"), starlark.String("long"), starlark.String("eternal")},
		Doc:    "short 60 s, moderate 300 s, long 900 s, eternal 3600 s; empty: from size."},
}

// addImplicitAttrs adds to schema the attributes of implicit it does not
// declare, and returns the sorted names.
func addImplicitAttrs(schema map[string]*Attr, names []string, implicit map[string]*Attr) []string {
	for name, a := range implicit {
		if _, ok := schema[name]; !ok {
			schema[name] = a
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// stringDictOf returns a dict of strings to strings as a map; None is
// empty.
func stringDictOf(v starlark.Value) (map[string]string, error) {
	if v == starlark.None {
		return nil, nil
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("want a dict of strings to strings, got %s", v.Type())
	}
	m := make(map[string]string, d.Len())
	for _, kv := range d.Items() {
		k, ok1 := kv[0].(starlark.String)
		val, ok2 := kv[1].(starlark.String)
		if !ok1 || !ok2 || k == "" {
			return nil, fmt.Errorf("want a dict of non-empty strings to strings, got the entry %s: %s", kv[0].String(), kv[1].String())
		}
		m[string(k)] = string(val)
	}
	return m, nil
}

// checkTargetName reports whether name can name a target of package pkg:
// whether :name is a valid label there. A plain name is checked as it is
// (the label :name has the same name), without making the string ":name"
// (this runs for every target); the error is :name's.
func checkTargetName(name, pkg string) error {
	if !strings.ContainsAny(name, ":@/") {
		if _, err := label.Parse(name, "", pkg); err == nil {
			return nil
		}
	}
	_, err := label.Parse(":"+name, "", pkg)
	return err
}
