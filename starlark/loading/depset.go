package loading

import (
	"fmt"
	"slices"

	"go.starlark.net/starlark"
)

// A Depset is an immutable set built from direct elements and other depsets,
// flattened only when asked (to_list, or when an action reads it), so that
// passing transitive sets up a deep graph costs O(1) per target.
//
// Orders: "default" and "postorder" list the elements of transitive sets
// before the direct ones; "topological" lists a set's direct elements
// before those of the sets it contains (what a link line needs: a library
// before the libraries it depends on).
type Depset struct {
	order      string
	direct     []starlark.Value
	transitive []*Depset
}

var _ starlark.HasAttrs = (*Depset)(nil)

func (d *Depset) String() string        { return fmt.Sprintf("depset(%s)", starlark.NewList(d.ToList())) }
func (d *Depset) Type() string          { return "depset" }
func (d *Depset) Freeze()               {}
func (d *Depset) Truth() starlark.Bool  { return len(d.direct) > 0 || len(d.transitive) > 0 }
func (d *Depset) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: depset") }
func (d *Depset) AttrNames() []string   { return []string{"to_list"} }

func (d *Depset) Attr(name string) (starlark.Value, error) {
	if name != "to_list" {
		return nil, nil
	}
	return starlark.NewBuiltin("to_list", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		return starlark.NewList(d.ToList()), nil
	}), nil
}

// ToList flattens the depset in its order, each element once.
func (d *Depset) ToList() []starlark.Value {
	if len(d.transitive) == 0 && len(d.direct) <= 8 {
		// The common small set (a target's own files): no maps.
		out := make([]starlark.Value, 0, len(d.direct))
		for _, v := range d.direct {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	var out []starlark.Value
	seenSet := map[*Depset]bool{}
	seenElem := map[starlark.Value]bool{}
	add := func(v starlark.Value) {
		if !seenElem[v] {
			seenElem[v] = true
			out = append(out, v)
		}
	}
	if d.order == "topological" {
		// Reverse postorder over the reversed children gives parents
		// before children, and keeps the declared order of siblings.
		var post []starlark.Value
		var walk func(s *Depset)
		walk = func(s *Depset) {
			if seenSet[s] {
				return
			}
			seenSet[s] = true
			for i := len(s.transitive) - 1; i >= 0; i-- {
				walk(s.transitive[i])
			}
			for i := len(s.direct) - 1; i >= 0; i-- {
				post = append(post, s.direct[i])
			}
		}
		walk(d)
		for i := len(post) - 1; i >= 0; i-- {
			add(post[i])
		}
		return out
	}
	var walk func(s *Depset)
	walk = func(s *Depset) {
		if seenSet[s] {
			return
		}
		seenSet[s] = true
		for _, t := range s.transitive {
			walk(t)
		}
		for _, v := range s.direct {
			add(v)
		}
	}
	walk(d)
	return out
}

// depset(direct = [], transitive = [], order = "default")
func depsetBuiltin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var direct, transitive *starlark.List
	order := "default"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "direct?", &direct, "order?", &order, "transitive?", &transitive); err != nil {
		return nil, err
	}
	switch order {
	case "default", "postorder", "topological":
	default:
		return nil, fmt.Errorf("depset: unknown order %q (want default, postorder or topological)", order)
	}
	d := &Depset{order: order}
	if direct != nil {
		for i := 0; i < direct.Len(); i++ {
			v := direct.Index(i)
			if _, err := v.Hash(); err != nil {
				return nil, fmt.Errorf("depset: element %d: %v", i, err)
			}
			v.Freeze()
			d.direct = append(d.direct, v)
		}
	}
	if transitive != nil {
		for i := 0; i < transitive.Len(); i++ {
			t, ok := transitive.Index(i).(*Depset)
			if !ok {
				return nil, fmt.Errorf("depset: transitive element %d is a %s, want depset", i, transitive.Index(i).Type())
			}
			d.transitive = append(d.transitive, t)
		}
	}
	return d, nil
}

// Elements returns the elements of a list or depset value, for the
// functions that accept either.
func Elements(v starlark.Value) ([]starlark.Value, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case *Depset:
		return v.ToList(), nil
	case *starlark.List:
		out := make([]starlark.Value, v.Len())
		for i := range out {
			out[i] = v.Index(i)
		}
		return out, nil
	case starlark.Tuple:
		return []starlark.Value(v), nil
	}
	return nil, fmt.Errorf("want a list or depset, got %s", v.Type())
}
