package loading

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"bld/starlark/label"
)

// AttrType is the type of a rule attribute.
type AttrType int

const (
	AttrLabel AttrType = iota
	AttrLabelList
	AttrString
	AttrStringList
	AttrInt
	AttrBool
	AttrStringDict
	AttrOutput
	AttrOutputList
)

var attrTypeNames = map[AttrType]string{
	AttrLabel:      "label",
	AttrLabelList:  "label_list",
	AttrString:     "string",
	AttrStringList: "string_list",
	AttrInt:        "int",
	AttrBool:       "bool",
	AttrStringDict: "string_dict",
	AttrOutput:     "output",
	AttrOutputList: "output_list",
}

func (t AttrType) String() string { return attrTypeNames[t] }

// IsDependency reports whether values of the type name targets the rule
// depends on (as opposed to outputs it declares).
func (t AttrType) IsDependency() bool { return t == AttrLabel || t == AttrLabelList }

// An Attr is an attribute schema, made by attr.label(...) and friends.
type Attr struct {
	Type AttrType
	// Default is the coerced default value (None for a label without one).
	Default   starlark.Value
	Mandatory bool
	// Executable marks a label attribute whose target is run as a tool:
	// its file appears in ctx.executable.
	Executable bool
	// SingleFile marks a label attribute that must provide exactly one file
	// (allow_single_file), available in ctx.file.
	SingleFile bool
	// Providers lists the providers every dependency in the attribute
	// must return.
	Providers []*Provider
	// Values, when not empty, are the only values a string or int
	// attribute may be given, and the strings a bool attribute accepts
	// besides True and False.
	Values []starlark.Value
	// AllowStrings are strings an int attribute accepts besides ints
	// (attr.int(allow_strings = ["auto"])): a count the rule may choose.
	AllowStrings []string
	Doc          string
}

// attrValue is an *Attr as a Starlark value (the method Type would clash
// with the field).
type attrValue struct{ *Attr }

func (a attrValue) String() string        { return "attr." + a.Attr.Type.String() + "(...)" }
func (a attrValue) Type() string          { return "Attribute" }
func (a attrValue) Freeze()               {}
func (a attrValue) Truth() starlark.Bool  { return true }
func (a attrValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: Attribute") }

// newAttrModule returns the attr module: attr.label, attr.string, ...
func newAttrModule() *starlarkstruct.Module {
	m := &starlarkstruct.Module{Name: "attr", Members: starlark.StringDict{}}
	for t, name := range attrTypeNames {
		m.Members[name] = starlark.NewBuiltin("attr."+name, attrConstructor(t))
	}
	return m
}

func attrConstructor(t AttrType) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			def             starlark.Value = starlark.None
			doc             string
			mandatory       bool
			executable      bool
			allowFiles      starlark.Value = starlark.None
			allowSingleFile starlark.Value = starlark.None
			cfg             starlark.Value = starlark.None
			providers       starlark.Value = starlark.None
			values          starlark.Value = starlark.None
			allowStrings    *starlark.List
		)
		pairs := []any{"default?", &def, "doc?", &doc, "mandatory?", &mandatory}
		if t.IsDependency() {
			pairs = append(pairs, "executable?", &executable, "allow_files?", &allowFiles, "cfg?", &cfg, "providers?", &providers)
			if t == AttrLabel {
				pairs = append(pairs, "allow_single_file?", &allowSingleFile)
			}
		}
		if t == AttrString || t == AttrInt || t == AttrBool {
			pairs = append(pairs, "values?", &values)
		}
		if t == AttrInt {
			pairs = append(pairs, "allow_strings?", &allowStrings)
		}
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, pairs...); err != nil {
			return nil, err
		}
		a := &Attr{Type: t, Mandatory: mandatory, Executable: executable, Doc: doc}
		if providers != starlark.None {
			elems, err := Elements(providers)
			if err != nil {
				return nil, fmt.Errorf("%s: providers: %v", b.Name(), err)
			}
			for _, e := range elems {
				p, ok := e.(*Provider)
				if !ok {
					return nil, fmt.Errorf("%s: providers: want a list of providers, got a %s", b.Name(), e.Type())
				}
				a.Providers = append(a.Providers, p)
			}
		}
		if values != starlark.None {
			elems, err := Elements(values)
			if err != nil {
				return nil, fmt.Errorf("%s: values: %v", b.Name(), err)
			}
			a.Values = elems
		}
		if allowStrings != nil {
			for i := range allowStrings.Len() {
				s, ok := allowStrings.Index(i).(starlark.String)
				if !ok {
					return nil, fmt.Errorf("%s: allow_strings: want a list of strings, got an element of type %s", b.Name(), allowStrings.Index(i).Type())
				}
				a.AllowStrings = append(a.AllowStrings, string(s))
			}
		}
		if allowSingleFile != starlark.None && allowSingleFile != starlark.False {
			a.SingleFile = true
		}
		if t == AttrOutput || t == AttrOutputList {
			if def != starlark.None {
				return nil, fmt.Errorf("%s: output attributes have no default", b.Name())
			}
		}
		repo, pkg := currentContext(thread)
		coerced, err := coerceAttr(a, def, repo, pkg)
		if err != nil {
			return nil, fmt.Errorf("%s: default: %v", b.Name(), err)
		}
		a.Default = coerced
		return attrValue{a}, nil
	}
}

// zeroValue is the value of an attribute the target does not set and that
// has no default.
func zeroValue(t AttrType) starlark.Value {
	switch t {
	case AttrLabelList, AttrStringList, AttrOutputList:
		l := starlark.NewList(nil)
		l.Freeze()
		return l
	case AttrString:
		return starlark.String("")
	case AttrInt:
		return starlark.MakeInt(0)
	case AttrBool:
		return starlark.False
	case AttrStringDict:
		d := starlark.NewDict(0)
		d.Freeze()
		return d
	}
	return starlark.None
}

// coerceAttr checks v against the attribute's type and converts it: label
// strings become *LabelValue resolved against (repo, pkg); lists and dicts
// are copied and frozen. None means "not set" and yields the zero value.
func coerceAttr(a *Attr, v starlark.Value, repo, pkg string) (starlark.Value, error) {
	if v == starlark.None {
		return zeroValue(a.Type), nil
	}
	parseLabel := func(x starlark.Value) (label.Label, error) {
		switch x := x.(type) {
		case starlark.String:
			return label.Parse(string(x), repo, pkg)
		case *LabelValue:
			return x.Label, nil
		}
		return label.Label{}, fmt.Errorf("want a label string, got %s", x.Type())
	}
	switch a.Type {
	case AttrLabel, AttrOutput:
		if lv, ok := v.(*LabelValue); ok {
			return lv, nil
		}
		l, err := parseLabel(v)
		if err != nil {
			return nil, err
		}
		return &LabelValue{l}, nil
	case AttrLabelList, AttrOutputList, AttrStringList:
		iter, ok := v.(starlark.Iterable)
		if !ok || v.Type() == "string" || v.Type() == "dict" {
			return nil, fmt.Errorf("want a list of %s, got %s", elemName(a.Type), v.Type())
		}
		list, _ := v.(*starlark.List)
		if list != nil && list.Len() == 1 && a.Type != AttrStringList {
			l, err := parseLabel(list.Index(0))
			if err != nil {
				return nil, fmt.Errorf("element 0: %v", err)
			}
			return labelList(l), nil
		}
		var elems []starlark.Value
		// The labels of a list live in one array: one allocation for
		// them all, not one each.
		var lvs []LabelValue
		if n := starlark.Len(v); n > 0 {
			elems = make([]starlark.Value, 0, n)
			if a.Type != AttrStringList {
				lvs = make([]LabelValue, 0, n)
			}
		}
		var seen map[label.Label]bool // for long lists; short ones are searched
		// A list is read by index, without an iterator to allocate
		// (this runs for each list attribute of each target).
		var it starlark.Iterator
		if list == nil {
			it = iter.Iterate()
			defer it.Done()
		}
		var x starlark.Value
		for i := 0; ; i++ {
			if list != nil {
				if i == list.Len() {
					break
				}
				x = list.Index(i)
			} else if !it.Next(&x) {
				break
			}
			if a.Type == AttrStringList {
				s, ok := x.(starlark.String)
				if !ok {
					return nil, fmt.Errorf("want a list of strings, got an element of type %s", x.Type())
				}
				elems = append(elems, s)
				continue
			}
			l, err := parseLabel(x)
			if err != nil {
				return nil, fmt.Errorf("element %d: %v", len(elems), err)
			}
			if dupLabel(elems, l, &seen) {
				return nil, fmt.Errorf("label %s appears twice", l)
			}
			var lv *LabelValue
			if len(lvs) < cap(lvs) {
				lvs = append(lvs, LabelValue{l})
				lv = &lvs[len(lvs)-1]
			} else {
				lv = &LabelValue{l} // an iterable longer than its Len
			}
			elems = append(elems, lv)
		}
		l := starlark.NewList(elems)
		l.Freeze()
		return l, nil
	case AttrString:
		if _, ok := v.(starlark.String); !ok {
			return nil, fmt.Errorf("want a string, got %s", v.Type())
		}
		return v, checkValues(a, v)
	case AttrInt:
		if s, ok := v.(starlark.String); ok && len(a.AllowStrings) > 0 {
			if slices.Contains(a.AllowStrings, string(s)) {
				return v, nil
			}
			return nil, fmt.Errorf("want an int or one of %s, got %s", starlark.NewList(stringValues(a.AllowStrings)), s)
		}
		if _, ok := v.(starlark.Int); !ok {
			return nil, fmt.Errorf("want an int, got %s", v.Type())
		}
		return v, checkValues(a, v)
	case AttrBool:
		if _, ok := v.(starlark.Bool); ok {
			return v, nil
		}
		if _, ok := v.(starlark.String); ok && len(a.Values) > 0 {
			return v, checkValues(a, v)
		}
		if len(a.Values) > 0 {
			return nil, fmt.Errorf("want a bool or one of %s, got %s", starlark.NewList(a.Values), v.Type())
		}
		return nil, fmt.Errorf("want a bool, got %s", v.Type())
	case AttrStringDict:
		d, ok := v.(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("want a dict of strings to strings, got %s", v.Type())
		}
		out := starlark.NewDict(d.Len())
		for _, kv := range d.Items() {
			k, ok1 := kv[0].(starlark.String)
			val, ok2 := kv[1].(starlark.String)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("want a dict of strings to strings, got an entry %s: %s", kv[0].Type(), kv[1].Type())
			}
			out.SetKey(k, val)
		}
		out.Freeze()
		return out, nil
	}
	return nil, fmt.Errorf("unknown attribute type %v", a.Type)
}

// labelList1 is a frozen list of one label: the list, its element and
// the label in one allocation (most label lists of most targets have one
// element: three allocations otherwise, for each such attribute of each
// target).
type labelList1 struct {
	list  starlark.List
	elems [1]starlark.Value
	lv    LabelValue
}

// labelList returns a frozen list of the one label l.
func labelList(l label.Label) *starlark.List {
	b := &labelList1{lv: LabelValue{l}}
	b.elems[0] = &b.lv
	b.list = *starlark.NewList(b.elems[:])
	b.list.Freeze()
	return &b.list
}

// dupLabel reports whether l is the label of one of the *LabelValues
// elems, searching short lists and indexing long ones in *seen.
func dupLabel(elems []starlark.Value, l label.Label, seen *map[label.Label]bool) bool {
	const short = 16
	if len(elems) < short {
		for _, e := range elems {
			if e.(*LabelValue).Label == l {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[label.Label]bool, 2*len(elems))
		for _, e := range elems {
			(*seen)[e.(*LabelValue).Label] = true
		}
	}
	if (*seen)[l] {
		return true
	}
	(*seen)[l] = true
	return false
}

// checkValues checks v against the attribute's allowed values, if any.
func checkValues(a *Attr, v starlark.Value) error {
	if len(a.Values) == 0 {
		return nil
	}
	for _, x := range a.Values {
		if eq, err := starlark.Equal(x, v); err == nil && eq {
			return nil
		}
	}
	return fmt.Errorf("%s is not one of the allowed values %s", v, starlark.NewList(a.Values))
}

func stringValues(ss []string) []starlark.Value {
	vs := make([]starlark.Value, len(ss))
	for i, s := range ss {
		vs[i] = starlark.String(s)
	}
	return vs
}

func elemName(t AttrType) string {
	if t == AttrStringList {
		return "strings"
	}
	return "labels"
}

// attrsFromDict converts the attrs argument of rule().
func attrsFromDict(d *starlark.Dict) (map[string]*Attr, []string, error) {
	attrs := map[string]*Attr{}
	var names []string
	if d == nil {
		return attrs, nil, nil
	}
	for _, kv := range d.Items() {
		name, ok := kv[0].(starlark.String)
		if !ok {
			return nil, nil, fmt.Errorf("attrs: keys must be strings, got %s", kv[0].Type())
		}
		a, ok := kv[1].(attrValue)
		if !ok {
			return nil, nil, fmt.Errorf("attrs[%q]: want an attr.*() value, got %s", name, kv[1].Type())
		}
		if reservedAttrs[string(name)] {
			return nil, nil, fmt.Errorf("attrs: %q is set by every rule and cannot be redeclared", name)
		}
		if !validIdent(string(name)) {
			return nil, nil, fmt.Errorf("attrs: %q is not a valid attribute name", name)
		}
		if strings.HasPrefix(string(name), "_") && a.Default == starlark.None && a.Attr.Type == AttrLabel {
			return nil, nil, fmt.Errorf("attrs: private attribute %q needs a default", name)
		}
		attrs[string(name)] = a.Attr
		names = append(names, string(name))
	}
	sort.Strings(names)
	return attrs, names, nil
}

// reservedAttrs are accepted by every rule.
var reservedAttrs = map[string]bool{"name": true, "visibility": true, "tags": true, "exec_properties": true}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
