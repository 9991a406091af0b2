// Package structs is bld's Starlark struct: the value of struct(**kwargs)
// and of ctx.attr, ctx.files, ctx.file, ctx.executable and ctx.outputs.
//
// It behaves as go.starlark.net's starlarkstruct.Struct with the default
// constructor does (type "struct", printing, dir(), the error for a
// missing field, equality, hashing, +, freezing; TestSameAsStarlarkstruct),
// but its field names are a Layout that structs of one shape share, and
// its values a slice in the layout's order: a struct made by Alloc is one
// allocation, where starlarkstruct's is three with a copy of the names
// (ctx's structs are made for every target analyzed). It is the only struct type
// bld makes: were starlarkstruct's also made, comparing one of those with
// one of these would panic in starlarkstruct (its CompareSameType takes any
// value whose type is "struct" for its own).
package structs

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A Layout is the field names of structs of one shape, sorted and
// distinct. It is immutable, and shared by every struct made with it.
type Layout struct {
	names []string
}

// NewLayout returns the layout of the given field names, which must be
// sorted and distinct (it panics otherwise: a caller's bug). It keeps
// names.
func NewLayout(names []string) *Layout {
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			panic(fmt.Sprintf("structs.NewLayout: names not sorted and distinct: %q", names))
		}
	}
	return &Layout{names: names}
}

// Len returns the number of fields.
func (l *Layout) Len() int { return len(l.names) }

// index returns the index of name in l, or -1.
func (l *Layout) index(name string) int {
	// sort.SearchStrings without the indirect call.
	i, j := 0, len(l.names)
	for i < j {
		h := int(uint(i+j) >> 1)
		if l.names[h] < name {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < len(l.names) && l.names[i] == name {
		return i
	}
	return -1
}

// Struct is an immutable Starlark value that maps field names to values.
type Struct struct {
	layout *Layout
	values []starlark.Value
}

var (
	_ starlark.HasAttrs   = (*Struct)(nil)
	_ starlark.HasBinary  = (*Struct)(nil)
	_ starlark.Comparable = (*Struct)(nil)
)

// Alloc returns a struct of layout's fields, and its values for the
// caller to set (they are nil) before it shares the struct, then not to
// change. Up to 16 fields, the struct and its values are one allocation
// (ctx's structs are made for every target analyzed).
func Alloc(layout *Layout) (*Struct, []starlark.Value) {
	var s *Struct
	switch n := len(layout.names); {
	case n == 0:
		s = new(Struct)
	case n == 1:
		p := new(struct {
			Struct
			a [1]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 2:
		p := new(struct {
			Struct
			a [2]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 3:
		p := new(struct {
			Struct
			a [3]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 4:
		p := new(struct {
			Struct
			a [4]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 5:
		p := new(struct {
			Struct
			a [5]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 6:
		p := new(struct {
			Struct
			a [6]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 7:
		p := new(struct {
			Struct
			a [7]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n == 8:
		p := new(struct {
			Struct
			a [8]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n <= 12:
		p := new(struct {
			Struct
			a [12]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	case n <= 16:
		p := new(struct {
			Struct
			a [16]starlark.Value
		})
		p.values = p.a[:n]
		s = &p.Struct
	default:
		s = &Struct{values: make([]starlark.Value, n)}
	}
	s.layout = layout
	return s, s.values
}

// FromKeywords returns the struct of the name-value pairs kwargs (each
// kwargs[i][0] a starlark.String), as struct(**kwargs) makes it.
func FromKeywords(kwargs []starlark.Tuple) *Struct {
	type field struct {
		name  string
		value starlark.Value
	}
	fields := make([]field, len(kwargs))
	for i, kw := range kwargs {
		fields[i] = field{string(kw[0].(starlark.String)), kw[1]}
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
	names := make([]string, len(fields))
	values := make([]starlark.Value, len(fields))
	for i, f := range fields {
		names[i], values[i] = f.name, f.value
	}
	return &Struct{layout: &Layout{names: names}, values: values}
}

// FromStringDict returns the struct whose fields are d's.
func FromStringDict(d starlark.StringDict) *Struct {
	names := d.Keys() // sorted
	values := make([]starlark.Value, len(names))
	for i, name := range names {
		values[i] = d[name]
	}
	return &Struct{layout: &Layout{names: names}, values: values}
}

// Make is the struct builtin: struct(**kwargs).
func Make(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("struct: unexpected positional arguments")
	}
	return FromKeywords(kwargs), nil
}

func (s *Struct) Type() string         { return "struct" }
func (s *Struct) Truth() starlark.Bool { return true }

// Freeze freezes the values. (No flag of its own: a struct cannot hold
// itself but through a mutable value, whose Freeze stops the recursion.)
func (s *Struct) Freeze() {
	for _, v := range s.values {
		v.Freeze()
	}
}

// Len returns the number of fields.
func (s *Struct) Len() int { return len(s.values) }

func (s *Struct) String() string {
	var b strings.Builder
	b.WriteString("struct(")
	for i, name := range s.layout.names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(" = ")
		b.WriteString(s.values[i].String())
	}
	b.WriteByte(')')
	return b.String()
}

// Hash is starlarkstruct's: a struct is hashable if its values are.
func (s *Struct) Hash() (uint32, error) {
	var x, m uint32 = 8731, 9839
	for i, name := range s.layout.names {
		namehash, _ := starlark.String(name).Hash()
		x = x ^ 3*namehash
		y, err := s.values[i].Hash()
		if err != nil {
			return 0, err
		}
		x = x ^ y*m
		m += 7349
	}
	return x, nil
}

// Attr returns the field name, and an error naming it if there is none.
func (s *Struct) Attr(name string) (starlark.Value, error) {
	if i := s.layout.index(name); i >= 0 {
		return s.values[i], nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("struct has no .%s attribute", name))
}

// AttrNames returns a copy of the field names, sorted (dir() sorts what
// it is given in place).
func (s *Struct) AttrNames() []string { return slices.Clone(s.layout.names) }

// Binary implements s + t: the fields of both, t's winning.
func (s *Struct) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	t, ok := y.(*Struct)
	if !ok || op != syntax.PLUS {
		return nil, nil // unhandled
	}
	x := s
	if side == starlark.Right {
		x, t = t, x
	}
	z := make(starlark.StringDict, x.Len()+t.Len())
	for i, name := range x.layout.names {
		z[name] = x.values[i]
	}
	for i, name := range t.layout.names {
		z[name] = t.values[i]
	}
	return FromStringDict(z), nil
}

// CompareSameType implements == and != (field for field); structs are not
// ordered.
func (s *Struct) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	t, ok := y.(*Struct)
	if !ok {
		return false, fmt.Errorf("%s %s %s not implemented", s.Type(), op, y.Type())
	}
	switch op {
	case syntax.EQL:
		return equal(s, t, depth)
	case syntax.NEQ:
		eq, err := equal(s, t, depth)
		return !eq, err
	}
	return false, fmt.Errorf("%s %s %s not implemented", s.Type(), op, y.Type())
}

func equal(x, y *Struct, depth int) (bool, error) {
	if x.Len() != y.Len() {
		return false, nil
	}
	for i, name := range x.layout.names {
		if name != y.layout.names[i] {
			return false, nil
		}
		if eq, err := starlark.EqualDepth(x.values[i], y.values[i], depth-1); err != nil || !eq {
			return false, err
		}
	}
	return true, nil
}
