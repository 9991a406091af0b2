package loading

import (
	"fmt"
	"slices"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"bld/starlark/label"
)

// A Package is the result of evaluating one BUILD.star file.
type Package struct {
	// Path is the package name, its directory relative to the root.
	Path string
	// File is the BUILD.star path relative to the workspace root, as it
	// appears in positions.
	File string
	// Targets by name.
	Targets map[string]*Target
	// Outputs maps the name of each file an output attribute declares
	// (genrule's outs, ...) to its target, so that the file's label
	// (//pkg:version.c) names it.
	Outputs map[string]*Target
}

// TargetNames returns the names of the package's targets, sorted.
func (p *Package) TargetNames() []string {
	names := make([]string, 0, len(p.Targets))
	for n := range p.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// A Target is one rule instance declared in a package.
type Target struct {
	Label label.Label
	Rule  *Rule
	// attrs holds every attribute of the rule, coerced, in the order of
	// Rule.AttrNames (a slice, not a map: there is one per target, and an
	// analysis keeps them all): label attributes as *LabelValue (lists
	// of them for label_list), unset ones as their default or zero value.
	// Read them with Attr.
	attrs []starlark.Value
	// Pos is where the BUILD.star declares the target.
	Pos syntax.Position
	// Tags are the target's tags attribute, as Bazel's: the ones that are
	// execution requirements ("no-sandbox", "no-cache", "local", ...)
	// apply to every action of the target.
	Tags []string
	// ExecProperties are the target's exec_properties attribute, as
	// Bazel's: platform properties for a remote executor, on every action
	// of the target, over the workspace's default.
	ExecProperties map[string]string
	// Visibility lists the packages and package groups that may depend on
	// the target (visibility.go); nil means every package.
	Visibility []label.Label
}

// Attr returns the value of the attribute name, or nil if the rule has no
// such attribute.
func (t *Target) Attr(name string) starlark.Value {
	if i, ok := slices.BinarySearch(t.Rule.AttrNames, name); ok && t.attrs != nil {
		return t.attrs[i]
	}
	return nil
}

// AttrAt returns the value of the attribute t.Rule.AttrNames[i]: Attr
// without the search by name, for a caller that goes through the rule's
// attributes in order.
func (t *Target) AttrAt(i int) starlark.Value {
	if t.attrs == nil {
		return nil
	}
	return t.attrs[i]
}

// ReleaseAttrs lets go of the values of t's attributes, for a caller done
// with them (an analysis, once t is analyzed), so that they can be
// collected while the rest of t (label, rule, position, tags, visibility)
// is still used: Attr returns nil from then on, and Deps nothing. The
// package of t must not be analyzed again as it is: the caller releases it
// (Loader.Release), so that the next LoadPackage evaluates it again. It
// must not be called while another goroutine reads t's attributes.
func (t *Target) ReleaseAttrs() { t.attrs = nil }

// WithAttrs returns a copy of t whose attributes named in set have the
// values given there (names the rule does not have are ignored); t is left
// as it is.
func (t *Target) WithAttrs(set map[string]starlark.Value) *Target {
	c := *t
	c.attrs = slices.Clone(t.attrs)
	for name, v := range set {
		if i, ok := slices.BinarySearch(t.Rule.AttrNames, name); ok {
			c.attrs[i] = v
		}
	}
	return &c
}

// Manual reports whether the target is tagged "manual": wildcard patterns
// (//..., :all) leave it out.
func (t *Target) Manual() bool {
	return slices.Contains(t.Tags, "manual")
}

// Deps returns the labels the target depends on, in attribute order then
// list order, each once.
func (t *Target) Deps() []label.Label {
	// Collected on the stack, then copied to a slice of their number:
	// analysis asks once per target, and most have one or two (a slice
	// with room for four was 192 bytes, against 48 for one).
	var buf [8]label.Label
	out := buf[:0]
	var seen map[label.Label]bool // for many labels; a few are searched
	add := func(l label.Label) {
		const few = 16
		if len(out) < few {
			if slices.Contains(out, l) {
				return
			}
		} else {
			if seen == nil {
				seen = make(map[label.Label]bool, 2*len(out))
				for _, x := range out {
					seen[x] = true
				}
			}
			if seen[l] {
				return
			}
			seen[l] = true
		}
		out = append(out, l)
	}
	for i := range t.Rule.AttrNames {
		v := t.AttrAt(i)
		if !t.Rule.Schema(i).Type.IsDependency() {
			// The conditions of a select() are dependencies whatever
			// the attribute's type.
			for _, l := range Conditions(v) {
				add(l)
			}
			continue
		}
		var labels [8]label.Label
		for _, l := range AppendLabels(labels[:0], v) {
			add(l)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return slices.Clone(out) // out itself is returned never: buf stays on the stack
}

// LabelsOf returns the labels in a coerced label or label_list value. For a
// value holding select()s, it is the labels of every branch and the
// conditions (what query shows as dependencies; analysis resolves the
// select()s first).
func LabelsOf(v starlark.Value) []label.Label {
	return AppendLabels(nil, v)
}

// AppendLabels appends LabelsOf(v) to dst and returns the result: with a
// dst that has room (a local array's slice), most values need no
// allocation.
func AppendLabels(dst []label.Label, v starlark.Value) []label.Label {
	switch v := v.(type) {
	case *SelectorList:
		for _, p := range v.Parts {
			if s, ok := p.(*Select); ok {
				for _, bv := range s.Values {
					dst = AppendLabels(dst, bv)
				}
				continue
			}
			dst = AppendLabels(dst, p)
		}
		return append(dst, Conditions(v)...)
	case *LabelValue:
		return append(dst, v.Label)
	case *starlark.List:
		dst = slices.Grow(dst, v.Len())
		for i := 0; i < v.Len(); i++ {
			if lv, ok := v.Index(i).(*LabelValue); ok {
				dst = append(dst, lv.Label)
			}
		}
		return dst
	}
	return dst
}

// packageBuilder collects targets while a BUILD.star file is evaluated.
type packageBuilder struct {
	pkg *Package
	// defaultVisibility is package(default_visibility = ...), if given.
	defaultVisibility []label.Label
}

func (pb *packageBuilder) add(t *Target) error {
	name := t.Label.Name
	if prev, dup := pb.pkg.Targets[name]; dup {
		return fmt.Errorf("duplicate target name %q: already declared at %s; rename one of them", name, prev.Pos)
	}
	if prev, dup := pb.pkg.Outputs[name]; dup {
		return fmt.Errorf("target name %q is already the name of an output of %s (declared at %s); rename one of them", name, prev.Label, prev.Pos)
	}
	for _, attr := range t.Rule.AttrNames {
		if typ := t.Rule.Attrs[attr].Type; typ != AttrOutput && typ != AttrOutputList {
			continue
		}
		var buf [4]label.Label
		for _, out := range AppendLabels(buf[:0], t.Attr(attr)) {
			if out.Pkg != t.Label.Pkg {
				return fmt.Errorf("output %s: an output must be in the target's own package //%s; write just its name", out, t.Label.Pkg)
			}
			if prev, dup := pb.pkg.Outputs[out.Name]; dup {
				return fmt.Errorf("output %q is declared twice: by %s (at %s) and by %s; give one of them another name", out.Name, prev.Label, prev.Pos, t.Label)
			}
			if _, dup := pb.pkg.Targets[out.Name]; dup || out.Name == name {
				return fmt.Errorf("output %q has the name of a target of package //%s; rename one of them", out.Name, t.Label.Pkg)
			}
			pb.pkg.Outputs[out.Name] = t
		}
	}
	pb.pkg.Targets[name] = t
	return nil
}
