package analysis

import (
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"go.starlark.net/starlark"

	"bld/exec/graph"
	"bld/exec/store"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/structs"
	"bld/starlark/workspace"
)

// ruleContext is the ctx a rule implementation receives.
type ruleContext struct {
	a      *Analyzer
	entry  *entry // the target's, which keeps its actions
	target *loading.Target
	deps   *depMap
	// owner is target.Label.String(): the thread's name and the Owner
	// of the target's actions (one string for both).
	owner string

	// attrOuts holds, for each output attribute in attribute order, the
	// files declared for it and, for an output list attribute, the same
	// as a frozen list, ctx.outputs' and ctx.files' both (attrOut). Only
	// the output attributes have one: most rules have one or two among
	// seven or more attributes (a slot per attribute was ~250 bytes per
	// target for a genrule, against 48).
	attrOuts []attrOut
	// structs are ctx.attr, ctx.files, ctx.file, ctx.executable and
	// ctx.outputs (ctxStruct), each made on its first read.
	structs [numCtxStructs]atomic.Pointer[structs.Struct]
	// finished is set once the implementation has returned.
	finished bool
	actions  actionsValue // ctx.actions, &actions
	// args are the arguments of the implementation: (ctx,).
	args [1]starlark.Value

	// declared lists the files the implementation declared, in order;
	// produced holds those an action writes.
	declared []*File
	produced fileSet
	// predeclared are the files of output attributes.
	predeclared []*File
}

var _ starlark.HasAttrs = (*ruleContext)(nil)

// An attrOut is what ctx holds of an output attribute, the one at index
// attr in target.Rule.AttrNames: its files and, for an output list, the
// frozen list of them.
type attrOut struct {
	attr  int
	files []*File
	list  *starlark.List
}

// attrOut returns what ctx holds of the output attribute at index i in
// target.Rule.AttrNames, which newRuleContext declared. (A linear search:
// a rule has a few output attributes.)
func (rc *ruleContext) attrOut(i int) *attrOut {
	for j := range rc.attrOuts {
		if rc.attrOuts[j].attr == i {
			return &rc.attrOuts[j]
		}
	}
	panic(fmt.Sprintf("attribute %d of %s is not an output attribute", i, rc.target.Label))
}

// newRuleContext returns the ctx of t's implementation: it checks the
// attributes against the dependencies' providers and files and declares
// the files of output attributes, in attribute order, so that its errors
// come before anything the implementation does. The structs are made when
// the implementation first reads one.
func newRuleContext(a *Analyzer, e *entry, t *loading.Target, deps *depMap) (*ruleContext, error) {
	rc := &ruleContext{a: a, entry: e, target: t, deps: deps, owner: t.Label.String()}
	rc.actions.rc = rc
	for i, name := range t.Rule.AttrNames {
		schema := t.Rule.Schema(i)
		v := t.AttrAt(i)
		if len(schema.Providers) > 0 && schema.Type.IsDependency() {
			for _, l := range loading.LabelsOf(v) {
				for _, p := range schema.Providers {
					if _, ok := deps.of(l).Provider(p); !ok {
						return nil, fmt.Errorf("attribute %s: %s does not provide %s, which %s requires; use a target that does (for CcInfo: a cc_unit)",
							name, l, p.Name(), t.Rule.Name())
					}
				}
			}
		}
		switch schema.Type {
		case loading.AttrLabel:
			if v == starlark.None {
				continue
			}
			dep := deps.of(v.(*loading.LabelValue).Label)
			if len(dep.Files) != 1 && schema.SingleFile {
				return nil, fmt.Errorf("attribute %s: %s provides %d files, but the attribute takes exactly one", name, dep.Label, len(dep.Files))
			}
			if schema.Executable && dep.Executable == nil && len(dep.Files) != 1 {
				return nil, fmt.Errorf("attribute %s: %s is not executable (it has no DefaultInfo.executable and not exactly one file)", name, dep.Label)
			}
		case loading.AttrOutput, loading.AttrOutputList:
			var buf [4]label.Label
			labels := loading.AppendLabels(buf[:0], v)
			outs := make([]*File, 0, len(labels))
			for _, l := range labels {
				f, err := rc.declare(l.Name)
				if err != nil {
					return nil, fmt.Errorf("attribute %s: %v", name, err)
				}
				outs = append(outs, f)
			}
			out := attrOut{attr: i, files: outs}
			if schema.Type == loading.AttrOutputList {
				out.list = rc.fileList(outs)
			}
			rc.attrOuts = append(rc.attrOuts, out)
			if rc.predeclared == nil {
				rc.predeclared = outs[:len(outs):len(outs)] // shared, not copied: appends copy
			} else {
				rc.predeclared = append(rc.predeclared, outs...)
			}
		}
	}
	return rc, nil
}

// depMap maps the labels of a target's dependencies to their analyses: two
// slices searched in order for the few most targets have (a map of one
// entry is larger than the target's other analysis data), a map for many.
type depMap struct {
	labels []label.Label
	cs     []*Configured
	m      map[label.Label]*Configured
}

func newDepMap(labels []label.Label, cs []*Configured) *depMap {
	d := &depMap{labels: labels, cs: cs}
	const few = 8
	if len(labels) > few {
		d.m = make(map[label.Label]*Configured, len(labels))
		for i, l := range labels {
			d.m[l] = cs[i]
		}
	}
	return d
}

// get returns the analysis of the dependency l, if l is one.
func (d *depMap) get(l label.Label) (*Configured, bool) {
	if d.m != nil {
		c, ok := d.m[l]
		return c, ok
	}
	for i := range d.labels {
		if d.labels[i] == l {
			return d.cs[i], true
		}
	}
	return nil, false
}

// of returns the analysis of the dependency l, nil if l is none.
func (d *depMap) of(l label.Label) *Configured {
	c, _ := d.get(l)
	return c
}

// labelListFiles returns the files of the targets of a label list, each
// file once (as in Bazel), in order.
func labelListFiles(labels []label.Label, deps *depMap) []*File {
	if len(labels) == 1 {
		return deps.of(labels[0]).Files
	}
	var all []*File
	seen := map[*File]bool{}
	for _, l := range labels {
		for _, f := range deps.of(l).Files {
			if !seen[f] {
				seen[f] = true
				all = append(all, f)
			}
		}
	}
	return all
}

// The structs of ctx, by their index in ruleContext.structs.
const (
	ctxAttr = iota
	ctxFiles
	ctxFile
	ctxExecutable
	ctxOutputs
	numCtxStructs
)

// ctxStruct returns ctx.attr, ctx.files, ctx.file, ctx.executable or
// ctx.outputs (which: ctxAttr, ...), made on its first read: each on its
// own, since most implementations read a few (genrule three) and a native
// one none. newRuleContext checked everything that can fail. (Not a
// sync.Once: ctx can reach another thread only through a value the
// implementation returned, so two first reads at once are rare, and the
// one whose struct is not kept returns the other's, which is the same.
// Five Onces and values were 140 bytes of every target's ctx, the
// pointers are 40.)
func (rc *ruleContext) ctxStruct(which int) starlark.Value {
	p := &rc.structs[which]
	if s := p.Load(); s != nil {
		return s
	}
	if s := rc.makeStruct(which); p.CompareAndSwap(nil, s) {
		return s
	}
	return p.Load()
}

// makeStruct makes the struct ctxStruct returns: a structs.Struct, as any
// struct rules see, its names the layout that every target of the rule
// shares (ctxLayoutsOf), its values made here.
func (rc *ruleContext) makeStruct(which int) *structs.Struct {
	t := rc.target
	l := &rc.a.ctxLayoutsOf(t.Rule)[which]
	if len(l.attrs) == 0 {
		return rc.a.emptyStruct
	}
	s, values := structs.Alloc(l.layout)
	for k, i := range l.attrs {
		if i == nameField {
			values[k] = starlark.String(t.Label.Name)
		} else {
			values[k] = rc.field(which, i, t.Rule.Schema(i))
		}
	}
	return s
}

// nameField stands, in a ctxLayout's attrs, for ctx.attr.name, which is
// no attribute of the rule's.
const nameField = -1

// A ctxLayout is the fields of one of ctx's structs (ctxAttr, ...) for
// every target of a rule: their names, sorted, and for each the index of
// its attribute in the rule's AttrNames (nameField for ctx.attr.name).
type ctxLayout struct {
	layout *structs.Layout
	attrs  []int
}

// ctxLayoutsOf returns the layouts of ctx's structs for the targets of r,
// by the struct's index (ctxAttr, ...), made on r's first target and
// shared by its others (the fields depend on r's schema alone: hasField).
func (a *Analyzer) ctxLayoutsOf(r *loading.Rule) *[numCtxStructs]ctxLayout {
	if ls, ok := a.ctxLayouts.Load(r); ok {
		return ls.(*[numCtxStructs]ctxLayout)
	}
	ls := new([numCtxStructs]ctxLayout)
	for which := range ls {
		var names []string
		var attrs []int
		// AttrNames is sorted: name goes in at its place.
		nameDone := which != ctxAttr
		for i, n := range r.AttrNames {
			if !nameDone && n > "name" {
				names, attrs = append(names, "name"), append(attrs, nameField)
				nameDone = true
			}
			if hasField(which, r.Schema(i)) {
				names, attrs = append(names, n), append(attrs, i)
			}
		}
		if !nameDone {
			names, attrs = append(names, "name"), append(attrs, nameField)
		}
		ls[which] = ctxLayout{layout: structs.NewLayout(names), attrs: attrs}
	}
	got, _ := a.ctxLayouts.LoadOrStore(r, ls)
	return got.(*[numCtxStructs]ctxLayout)
}

// hasField reports whether the struct which (ctxAttr, ...) has a field for
// an attribute of the given schema: ctx.attr for every attribute,
// ctx.files for label, label list and output attributes, ctx.file for
// label attributes, ctx.executable for those with executable = True, and
// ctx.outputs for output attributes.
func hasField(which int, schema *loading.Attr) bool {
	switch which {
	case ctxAttr:
		return true
	case ctxFiles:
		switch schema.Type {
		case loading.AttrLabel, loading.AttrLabelList, loading.AttrOutput, loading.AttrOutputList:
			return true
		}
	case ctxFile:
		return schema.Type == loading.AttrLabel
	case ctxExecutable:
		return schema.Type == loading.AttrLabel && schema.Executable
	case ctxOutputs:
		return schema.Type == loading.AttrOutput || schema.Type == loading.AttrOutputList
	}
	return false
}

// field returns the value of the struct which (ctxAttr, ...) for the
// attribute of index i, whose schema is schema; that struct has a field
// for it (hasField).
func (rc *ruleContext) field(which, i int, schema *loading.Attr) starlark.Value {
	t, deps := rc.target, rc.deps
	v := t.AttrAt(i)
	switch schema.Type {
	case loading.AttrLabel:
		var dep *Configured
		if v != starlark.None {
			dep = deps.of(v.(*loading.LabelValue).Label)
		}
		switch which {
		case ctxAttr:
			if dep == nil {
				return starlark.None
			}
			return &targetValue{dep}
		case ctxFiles:
			if dep == nil {
				return rc.a.emptyList
			}
			return rc.fileList(dep.Files)
		case ctxFile:
			if dep == nil || len(dep.Files) != 1 {
				return starlark.None
			}
			return dep.Files[0]
		case ctxExecutable:
			if dep == nil {
				return starlark.None
			}
			if dep.Executable != nil {
				return dep.Executable
			}
			return dep.Files[0]
		}
	case loading.AttrLabelList:
		var buf [4]label.Label
		labels := loading.AppendLabels(buf[:0], v)
		switch which {
		case ctxAttr:
			if len(labels) == 0 {
				return rc.a.emptyList
			}
			// One allocation for the targets, one for the list's
			// elements.
			tvs := make([]targetValue, len(labels))
			targets := make([]starlark.Value, len(labels))
			for i, l := range labels {
				tvs[i].c = deps.of(l)
				targets[i] = &tvs[i]
			}
			list := starlark.NewList(targets)
			list.Freeze()
			return list
		case ctxFiles:
			return rc.fileList(labelListFiles(labels, deps))
		}
	case loading.AttrOutput:
		outs := rc.attrOut(i).files
		switch which {
		case ctxAttr:
			if len(outs) != 1 {
				return starlark.None
			}
			return &loading.LabelValue{Label: loading.LabelsOf(v)[0]}
		case ctxFiles:
			return rc.fileList(outs)
		case ctxOutputs:
			if len(outs) != 1 {
				return starlark.None
			}
			return outs[0]
		}
	case loading.AttrOutputList:
		switch which {
		case ctxAttr:
			return v
		case ctxFiles, ctxOutputs:
			// One frozen list for both: nothing can tell them apart.
			return rc.attrOut(i).list
		}
	default:
		if which == ctxAttr {
			return v
		}
	}
	panic(fmt.Sprintf("%s: struct %d has no field for attribute %s (hasField)", rc.target.Label, which, rc.target.Rule.AttrNames[i]))
}

// fileList returns files as a frozen list: the analysis's empty one when
// there are none.
func (rc *ruleContext) fileList(files []*File) *starlark.List {
	if len(files) == 0 {
		return rc.a.emptyList
	}
	return fileList(files)
}

func (rc *ruleContext) String() string        { return "<ctx for " + rc.target.Label.String() + ">" }
func (rc *ruleContext) Type() string          { return "ctx" }
func (rc *ruleContext) Freeze()               {}
func (rc *ruleContext) Truth() starlark.Bool  { return true }
func (rc *ruleContext) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: ctx") }

var ctxAttrs = []string{"actions", "attr", "bin_dir", "build_file_path", "exec_root", "executable", "expand_location",
	"expand_make_variables", "file", "files", "fragments", "label", "outputs", "partition", "var", "workspace_name"}

func (rc *ruleContext) AttrNames() []string { return ctxAttrs }

func (rc *ruleContext) Attr(name string) (starlark.Value, error) {
	switch name {
	case "actions":
		return &rc.actions, nil
	case "attr":
		return rc.ctxStruct(ctxAttr), nil
	case "files":
		return rc.ctxStruct(ctxFiles), nil
	case "file":
		return rc.ctxStruct(ctxFile), nil
	case "executable":
		return rc.ctxStruct(ctxExecutable), nil
	case "outputs":
		return rc.ctxStruct(ctxOutputs), nil
	case "label":
		return &loading.LabelValue{Label: rc.target.Label}, nil
	case "bin_dir":
		return rootValue(workspace.OutputDir), nil
	case "exec_root":
		// Where sandboxed actions run (docs/hermeticity.md); rules map it
		// away in outputs that record the working directory.
		return starlark.String(graph.SandboxExecRoot), nil
	case "build_file_path":
		return starlark.String(rc.target.Pos.Filename()), nil
	case "workspace_name":
		return starlark.String(""), nil
	case "expand_location":
		return (*method[kindExpandLocation])(rc), nil
	case "expand_make_variables":
		return (*method[kindExpandMakeVariables])(rc), nil
	case "var":
		return rc.a.vars, nil
	case "fragments":
		return rc.a.fragments, nil
	case "partition":
		return (*method[kindPartition])(rc), nil
	}
	return nil, nil
}

// declare declares a file of the target, bld-out/<package>/<name>. It is an
// error if name is not a clean relative path naming a file, if the path is in
// bld's own state (workspace.StateDir) or names one of bld's temporary files
// (store.OutputTempPrefix), or if it collides with an output any
// target declared before: the same path, a directory of that output, or an
// output that is a directory of it.
func (rc *ruleContext) declare(name string) (*File, error) {
	if name == "." {
		return nil, fmt.Errorf("%q is not a file name; name the file the target writes", name)
	}
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
		return nil, fmt.Errorf("invalid file name %q: want a clean path relative to the package", name)
	}
	l := rc.target.Label
	p := path.Join(workspace.OutputDir, l.Pkg, name)
	if p == workspace.StateDir || strings.HasPrefix(p, workspace.StateDir+"/") {
		return nil, fmt.Errorf("cannot declare %s: %s is bld's own state; choose another name", p, workspace.StateDir)
	}
	// A build killed while restoring outputs leaves temporary files of
	// this name, and the next build removes every one of them.
	if strings.HasPrefix(path.Base(p), store.OutputTempPrefix) {
		return nil, fmt.Errorf("cannot declare %s: names starting with %q are bld's temporary files; choose another name", p, store.OutputTempPrefix)
	}
	rc.a.mu.Lock()
	defer rc.a.mu.Unlock()
	if f, ok := rc.a.st.files[p]; ok {
		if f.Owner == l {
			return nil, fmt.Errorf("file %s is declared twice by %s", p, l)
		}
		return nil, fmt.Errorf("file %s is already declared by %s; choose another name", p, declarer(f))
	}
	if err := rc.a.checkOutputDirs(p, rc.target); err != nil {
		return nil, err
	}
	f := rc.a.file(p, l, false)
	f.declarer = rc.target
	rc.a.addOutputDirs(f)
	rc.declared = append(rc.declared, f)
	return f, nil
}

// configured builds the analysis result from the implementation's return
// value: None, a provider instance, or a list of them.
func (rc *ruleContext) configured(ret starlark.Value) (*Configured, error) {
	for _, f := range rc.declared {
		if !rc.produced.has(f) {
			return nil, fmt.Errorf("file %s is declared but no action writes it; pass it in the outputs of an action", f.Path)
		}
	}
	c := &Configured{Label: rc.target.Label, Target: rc.target}
	// The instances, each provider once, in a buffer on the stack: the
	// map of Providers is made only for what is kept (most rules return
	// nothing but a DefaultInfo that is made again when asked for).
	var buf [4]*loading.ProviderInstance
	pis := buf[:0]
	var di *loading.ProviderInstance
	add := func(v starlark.Value, i int) error {
		pi, ok := v.(*loading.ProviderInstance)
		if !ok {
			return fmt.Errorf("element %d of the returned list is a %s, not a provider instance", i, v.Type())
		}
		for _, prev := range pis {
			if prev.Provider == pi.Provider {
				return fmt.Errorf("the implementation returned %s twice", pi.Provider.Name())
			}
		}
		pis = append(pis, pi)
		if pi.Provider == loading.DefaultInfo {
			di = pi
		}
		return nil
	}
	switch ret := ret.(type) {
	case starlark.NoneType:
	case *loading.ProviderInstance:
		if err := add(ret, 0); err != nil {
			return nil, err
		}
	case *starlark.List:
		for i := 0; i < ret.Len(); i++ {
			if err := add(ret.Index(i), i); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("the implementation returned a %s; return a list of providers (or None)", ret.Type())
	}
	if di != nil {
		var files []*File
		if direct, _, ok := di.PlainDefaultInfo(); ok && sameFiles(direct, rc.predeclared) {
			// DefaultInfo(files = ctx.outputs.outs), as genrule returns:
			// the output files as declared, which are distinct, are what
			// filesOf gives, without its two copies.
			files = rc.predeclared
		} else {
			var err error
			if files, err = filesOf(di.Field("files"), "DefaultInfo", "files"); err != nil {
				return nil, err
			}
		}
		c.Files = files
		if exe, ok := di.Field("executable").(*File); ok {
			c.Executable = exe
		} else if di.Field("executable") != starlark.None {
			return nil, fmt.Errorf("DefaultInfo.executable must be a File, got %s", di.Field("executable").Type())
		}
		if c.Executable == nil && rc.target.Rule.Executable {
			return nil, fmt.Errorf("%s is an executable rule, but its DefaultInfo has no executable; return DefaultInfo(files = ..., executable = <the program File>)", rc.target.Rule.Name())
		}
		if implicit(di, c) {
			// Made again when asked for (Configured.Provider): most
			// are not, and every target's Configured is kept.
			c.implicitDefault = true
		}
	} else {
		if rc.target.Rule.Executable {
			return nil, fmt.Errorf("%s is an executable rule, but it returned no DefaultInfo; return DefaultInfo(files = ..., executable = <the program File>)", rc.target.Rule.Name())
		}
		c.Files = rc.predeclared
		if len(c.Files) == 0 {
			c.Files = rc.declared
		}
		c.implicitDefault = true
	}
	for _, pi := range pis {
		if pi == di && c.implicitDefault {
			continue
		}
		if c.Providers == nil {
			c.Providers = make(map[*loading.Provider]*loading.ProviderInstance, len(pis))
		}
		c.Providers[pi.Provider] = pi
	}
	return c, nil
}

// sameFiles reports whether vals are files, element for element.
func sameFiles(vals []starlark.Value, files []*File) bool {
	if len(vals) != len(files) {
		return false
	}
	for i, v := range vals {
		if v != starlark.Value(files[i]) {
			return false
		}
	}
	return true
}

// implicit reports whether di, c's DefaultInfo, is the one that
// defaultInfo(c.Files, c.Executable) makes, field for field.
func implicit(di *loading.ProviderInstance, c *Configured) bool {
	files, exe, ok := di.PlainDefaultInfo()
	if !ok || len(files) != len(c.Files) {
		return false
	}
	for i, f := range files {
		if f != starlark.Value(c.Files[i]) {
			return false
		}
	}
	if c.Executable == nil {
		return exe == nil
	}
	return exe == starlark.Value(c.Executable)
}

// targetValue is a dependency as ctx.attr shows it: dep[Provider], dep.label.
type targetValue struct {
	c *Configured
}

var (
	_ starlark.Mapping   = (*targetValue)(nil)
	_ starlark.Container = (*targetValue)(nil)
	_ starlark.HasAttrs  = (*targetValue)(nil)
)

func (t *targetValue) String() string        { return "<target " + t.c.Label.String() + ">" }
func (t *targetValue) Type() string          { return "Target" }
func (t *targetValue) Freeze()               {}
func (t *targetValue) Truth() starlark.Bool  { return true }
func (t *targetValue) Hash() (uint32, error) { return starlark.String(t.c.Label.String()).Hash() }
func (t *targetValue) AttrNames() []string   { return []string{"label"} }

func (t *targetValue) Attr(name string) (starlark.Value, error) {
	if name == "label" {
		return &loading.LabelValue{Label: t.c.Label}, nil
	}
	return nil, nil
}

// Get implements dep[Provider]. A provider the target does not return is
// an error that says which providers it does return.
func (t *targetValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	p, ok := k.(*loading.Provider)
	if !ok {
		return nil, false, fmt.Errorf("a target is indexed by a provider, not a %s", k.Type())
	}
	pi, ok := t.c.Provider(p)
	if !ok {
		names := t.c.providerNames()
		what := "source file"
		if t.c.Target != nil {
			what = "rule " + t.c.Target.Rule.Name()
		}
		return nil, false, fmt.Errorf("%s (%s) does not provide %s; it provides %s (test with `%s in dep` first, or require it with attr.label_list(providers = [%s]))",
			t.c.Label, what, p.Name(), strings.Join(names, ", "), p.Name(), p.Name())
	}
	return pi, true, nil
}

// Has implements Provider in dep.
func (t *targetValue) Has(k starlark.Value) (bool, error) {
	p, ok := k.(*loading.Provider)
	if !ok {
		return false, fmt.Errorf("a target contains providers, not a %s", k.Type())
	}
	_, ok = t.c.Provider(p)
	return ok, nil
}
