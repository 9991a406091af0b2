package loading

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"bld/starlark/label"
)

// DefaultCondition is the select() key that matches when no other does.
const DefaultCondition = "//conditions:default"

// A Select is the value of select({condition: value, ...}) in a BUILD.star:
// an attribute value chosen by the build configuration. Conditions are
// labels of config_setting targets, or DefaultCondition.
type Select struct {
	// Conditions and Values are in the order of the dict, except that the
	// default, if any, is last.
	Conditions []string // label strings as written
	Values     []starlark.Value
	NoMatch    string // no_match_error
	pos        syntax.Position
}

// A SelectorList is an attribute value that holds select()s: the sum of its
// parts, each a plain value or a *Select. `["a.c"] + select({...})` is one.
type SelectorList struct {
	Parts []starlark.Value
}

var (
	_ starlark.HasBinary = (*Select)(nil)
	_ starlark.HasBinary = (*SelectorList)(nil)
)

func (s *Select) String() string {
	var b strings.Builder
	b.WriteString("select({")
	for i, c := range s.Conditions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %s", c, s.Values[i])
	}
	b.WriteString("})")
	return b.String()
}
func (s *Select) Type() string          { return "select" }
func (s *Select) Freeze()               {}
func (s *Select) Truth() starlark.Bool  { return true }
func (s *Select) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: select") }
func (s *Select) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	return selectorSum(s, op, y, side)
}

func (l *SelectorList) String() string {
	parts := make([]string, len(l.Parts))
	for i, p := range l.Parts {
		parts[i] = p.String()
	}
	return strings.Join(parts, " + ")
}
func (l *SelectorList) Type() string          { return "select" }
func (l *SelectorList) Freeze()               {}
func (l *SelectorList) Truth() starlark.Bool  { return true }
func (l *SelectorList) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: select") }
func (l *SelectorList) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	return selectorSum(l, op, y, side)
}

// selectorSum is x + y where one of them holds select()s: a SelectorList of
// both sides' parts, in order.
func selectorSum(x starlark.Value, op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	if op != syntax.PLUS {
		return nil, nil // unsupported: Starlark reports the operator
	}
	left, right := x, y
	if side == starlark.Right {
		left, right = y, x
	}
	var parts []starlark.Value
	for _, v := range []starlark.Value{left, right} {
		if l, ok := v.(*SelectorList); ok {
			parts = append(parts, l.Parts...)
		} else {
			parts = append(parts, v)
		}
	}
	return &SelectorList{Parts: parts}, nil
}

// selectBuiltin implements select(conditions, no_match_error = "").
func selectBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d *starlark.Dict
	var noMatch string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "conditions", &d, "no_match_error?", &noMatch); err != nil {
		return nil, err
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("select: no conditions; give at least one, or %q", DefaultCondition)
	}
	s := &Select{NoMatch: noMatch}
	if frames := thread.CallStack(); len(frames) > 1 {
		s.pos = frames[len(frames)-2].Pos
	}
	var def starlark.Value
	for _, kv := range d.Items() {
		k, ok := kv[0].(starlark.String)
		if !ok {
			return nil, fmt.Errorf("select: condition %s is a %s; want a label string (a config_setting) or %q", kv[0], kv[0].Type(), DefaultCondition)
		}
		if _, ok := kv[1].(*Select); ok {
			return nil, fmt.Errorf("select: the value of %q is a select(); select()s do not nest", k)
		}
		if string(k) == DefaultCondition {
			def = kv[1]
			continue
		}
		s.Conditions = append(s.Conditions, string(k))
		s.Values = append(s.Values, kv[1])
	}
	if def != nil {
		s.Conditions = append(s.Conditions, DefaultCondition)
		s.Values = append(s.Values, def)
	}
	return s, nil
}

// coerceSelect checks every branch of a value holding select()s against
// the attribute's type and returns the value with each branch coerced and
// each condition parsed (relative to pkg): a *SelectorList whose parts are
// coerced values and *Selects with coerced Values and canonical
// Conditions. Analysis picks the branches (ResolveSelect).
func coerceSelect(a *Attr, v starlark.Value, pkg string) (starlark.Value, error) {
	if a.Type == AttrOutput || a.Type == AttrOutputList {
		return nil, fmt.Errorf("output attributes cannot be select()ed: the files a target declares do not depend on the configuration")
	}
	parts := []starlark.Value{v}
	if l, ok := v.(*SelectorList); ok {
		parts = l.Parts
	}
	out := &SelectorList{}
	for _, p := range parts {
		s, ok := p.(*Select)
		if !ok {
			cv, err := coerceAttr(a, p, "", pkg)
			if err != nil {
				return nil, err
			}
			out.Parts = append(out.Parts, cv)
			continue
		}
		cs := &Select{NoMatch: s.NoMatch, pos: s.pos}
		for i, c := range s.Conditions {
			if c != DefaultCondition {
				l, err := label.Parse(c, "", pkg)
				if err != nil {
					return nil, fmt.Errorf("select condition %q: %v", c, err)
				}
				c = l.String()
			}
			cv, err := coerceAttr(a, s.Values[i], "", pkg)
			if err != nil {
				return nil, fmt.Errorf("select branch %q: %v", c, err)
			}
			cs.Conditions = append(cs.Conditions, c)
			cs.Values = append(cs.Values, cv)
		}
		out.Parts = append(out.Parts, cs)
	}
	if len(out.Parts) > 1 {
		switch a.Type {
		case AttrLabelList, AttrStringList, AttrString, AttrStringDict:
		default:
			return nil, fmt.Errorf("a %s attribute cannot be a sum of select()s and values", a.Type)
		}
	}
	return out, nil
}

// Selects reports whether a target's attribute value holds select()s.
func Selects(v starlark.Value) bool {
	_, ok := v.(*SelectorList)
	return ok
}

// Conditions returns the condition labels of the select()s in v (an
// attribute value), in order, each once, without the default.
func Conditions(v starlark.Value) []label.Label {
	l, ok := v.(*SelectorList)
	if !ok {
		return nil
	}
	var out []label.Label
	seen := map[string]bool{}
	for _, p := range l.Parts {
		if s, ok := p.(*Select); ok {
			for _, c := range s.Conditions {
				if c == DefaultCondition || seen[c] {
					continue
				}
				seen[c] = true
				if lb, err := label.Parse(c, "", ""); err == nil {
					out = append(out, lb)
				}
			}
		}
	}
	return out
}

// ResolveSelect returns the value of an attribute holding select()s: in each
// select(), the branch whose condition matches (matches says whether a
// config_setting does), or the default; the parts are then added as the
// attribute's type adds them. Exactly one non-default condition may match.
func ResolveSelect(a *Attr, v starlark.Value, matches func(label.Label) (bool, error)) (starlark.Value, error) {
	l, ok := v.(*SelectorList)
	if !ok {
		return v, nil
	}
	var chosen []starlark.Value
	for _, p := range l.Parts {
		s, ok := p.(*Select)
		if !ok {
			chosen = append(chosen, p)
			continue
		}
		var hit []string
		var value starlark.Value
		var def starlark.Value
		for i, c := range s.Conditions {
			if c == DefaultCondition {
				def = s.Values[i]
				continue
			}
			lb, err := label.Parse(c, "", "")
			if err != nil {
				return nil, err
			}
			ok, err := matches(lb)
			if err != nil {
				return nil, err
			}
			if ok {
				hit = append(hit, c)
				value = s.Values[i]
			}
		}
		switch {
		case len(hit) > 1:
			return nil, fmt.Errorf("select() at %s: conditions %s all match; make them exclusive (bld does not pick the most specific)", s.pos, strings.Join(hit, " and "))
		case len(hit) == 1:
			chosen = append(chosen, value)
		case def != nil:
			chosen = append(chosen, def)
		case s.NoMatch != "":
			return nil, fmt.Errorf("select() at %s: %s", s.pos, s.NoMatch)
		default:
			conds := append([]string(nil), s.Conditions...)
			sort.Strings(conds)
			return nil, fmt.Errorf("select() at %s: none of its conditions matches (%s) and it has no %q branch; add one, or build with flags that match",
				s.pos, strings.Join(conds, ", "), DefaultCondition)
		}
	}
	return sumValues(a, chosen)
}

// sumValues adds coerced attribute values: lists concatenate (a label may
// appear once), strings concatenate, dicts merge (a key may appear once).
func sumValues(a *Attr, parts []starlark.Value) (starlark.Value, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	switch a.Type {
	case AttrString:
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(string(p.(starlark.String)))
		}
		return starlark.String(b.String()), nil
	case AttrStringDict:
		out := starlark.NewDict(0)
		for _, p := range parts {
			for _, kv := range p.(*starlark.Dict).Items() {
				if _, found, _ := out.Get(kv[0]); found {
					return nil, fmt.Errorf("key %s appears in two parts of the sum", kv[0])
				}
				out.SetKey(kv[0], kv[1])
			}
		}
		out.Freeze()
		return out, nil
	}
	var elems []starlark.Value
	seen := map[string]bool{}
	for _, p := range parts {
		list := p.(*starlark.List)
		for i := range list.Len() {
			e := list.Index(i)
			if lv, ok := e.(*LabelValue); ok {
				if seen[lv.String()] {
					return nil, fmt.Errorf("label %s appears twice", lv)
				}
				seen[lv.String()] = true
			}
			elems = append(elems, e)
		}
	}
	l := starlark.NewList(elems)
	l.Freeze()
	return l, nil
}
