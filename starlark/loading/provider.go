package loading

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// A Provider is a kind of information a rule passes to its dependents, made
// by provider() (or built in, like DefaultInfo). Calling it makes an
// instance. Its name is the global it was assigned to.
type Provider struct {
	name   string
	fields []string // nil: any field allowed
	doc    string
}

var (
	_ starlark.Callable = (*Provider)(nil)
)

// DefaultInfo is the built-in provider every target has: files (the files
// that building the target means) and executable (the file run as a tool).
var DefaultInfo = &Provider{name: "DefaultInfo", fields: []string{"executable", "files"}}

func (p *Provider) Name() string {
	if p.name == "" {
		return "<anonymous provider>"
	}
	return p.name
}
func (p *Provider) String() string        { return "<provider " + p.Name() + ">" }
func (p *Provider) Type() string          { return "Provider" }
func (p *Provider) Freeze()               {}
func (p *Provider) Truth() starlark.Bool  { return true }
func (p *Provider) Hash() (uint32, error) { return starlark.String(fmt.Sprintf("%p", p)).Hash() }

// CallInternal makes an instance from keyword arguments.
func (p *Provider) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: takes keyword arguments only", p.Name())
	}
	inst := newProviderInstance(p, len(kwargs))
	for _, kv := range kwargs {
		name := string(kv[0].(starlark.String))
		if p.fields != nil && !contains(p.fields, name) {
			return nil, fmt.Errorf("%s: unknown field %q%s (fields: %s)", p.Name(), name, suggest(name, p.fields), strings.Join(p.fields, ", "))
		}
		kv[1].Freeze()
		inst.set(name, kv[1])
	}
	if p == DefaultInfo {
		if err := checkDefaultInfo(inst); err != nil {
			return nil, err
		}
	}
	return inst, nil
}

// checkDefaultInfo checks DefaultInfo's fields and makes files a depset
// whatever it was given as, so that dependents can always call to_list().
func checkDefaultInfo(inst *ProviderInstance) error {
	f, _ := inst.get("files")
	switch f := f.(type) {
	case nil, starlark.NoneType:
		inst.set("files", &Depset{order: "default"})
	case *Depset:
	case *starlark.List:
		inst.set("files", listDepset(f))
	default:
		return fmt.Errorf("DefaultInfo: files must be a list or depset of files, got %s", f.Type())
	}
	return nil
}

// newProviderInstance returns an instance of p with room for n fields:
// for one or two (DefaultInfo(files = ...), per target), the instance and
// its fields are one allocation, not two, of the same size.
func newProviderInstance(p *Provider, n int) *ProviderInstance {
	switch n {
	case 1:
		x := &struct {
			inst ProviderInstance
			buf  [1]field
		}{}
		x.inst = ProviderInstance{Provider: p, fields: x.buf[:0]}
		return &x.inst
	case 2:
		x := &struct {
			inst ProviderInstance
			buf  [2]field
		}{}
		x.inst = ProviderInstance{Provider: p, fields: x.buf[:0]}
		return &x.inst
	}
	return &ProviderInstance{Provider: p, fields: make([]field, 0, n)}
}

// listDepset returns the default-order depset of the elements of l
// (DefaultInfo's files given as a list, which the provider's call froze):
// for one element, the depset and its elements are one allocation, not
// two (a genrule's DefaultInfo(files = outs), per target).
func listDepset(l *starlark.List) *Depset {
	if l.Len() == 1 {
		x := &struct {
			d   Depset
			one [1]starlark.Value
		}{}
		x.one[0] = l.Index(0)
		x.d = Depset{order: "default", direct: x.one[:]}
		return &x.d
	}
	d := &Depset{order: "default", direct: make([]starlark.Value, l.Len())}
	for i := range d.direct {
		d.direct[i] = l.Index(i)
	}
	return d
}

// provider(doc = "", fields = [...]) defines a new provider.
func providerBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var doc string
	var fields starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "doc?", &doc, "fields?", &fields); err != nil {
		return nil, err
	}
	p := &Provider{doc: doc}
	switch f := fields.(type) {
	case starlark.NoneType:
	case *starlark.List:
		p.fields = []string{}
		for i := 0; i < f.Len(); i++ {
			s, ok := f.Index(i).(starlark.String)
			if !ok {
				return nil, fmt.Errorf("provider: fields must be strings")
			}
			p.fields = append(p.fields, string(s))
		}
	case *starlark.Dict:
		p.fields = []string{}
		for _, k := range f.Keys() {
			s, ok := k.(starlark.String)
			if !ok {
				return nil, fmt.Errorf("provider: fields must be strings")
			}
			p.fields = append(p.fields, string(s))
		}
	default:
		return nil, fmt.Errorf("provider: fields must be a list or dict, got %s", fields.Type())
	}
	if p.fields != nil {
		sort.Strings(p.fields)
	}
	return p, nil
}

// A ProviderInstance is the value of a provider call: a struct whose fields
// are the provider's.
type ProviderInstance struct {
	Provider *Provider
	// fields are sorted by name: a few, where a map would cost more
	// (there is an instance per target, at least its DefaultInfo).
	fields []field
}

type field struct {
	name  string
	value starlark.Value
}

var _ starlark.HasAttrs = (*ProviderInstance)(nil)

// get returns the value of field name, if set.
func (pi *ProviderInstance) get(name string) (starlark.Value, bool) {
	i, ok := slices.BinarySearchFunc(pi.fields, name, func(f field, name string) int { return strings.Compare(f.name, name) })
	if !ok {
		return nil, false
	}
	return pi.fields[i].value, true
}

// set sets field name to v.
func (pi *ProviderInstance) set(name string, v starlark.Value) {
	i, ok := slices.BinarySearchFunc(pi.fields, name, func(f field, name string) int { return strings.Compare(f.name, name) })
	if ok {
		pi.fields[i].value = v
		return
	}
	pi.fields = slices.Insert(pi.fields, i, field{name, v})
}

// PlainDefaultInfo reports whether pi is a DefaultInfo that is all its
// files and executable say: files a default-order depset of direct
// elements only (what DefaultInfo(files = [...]) makes), and executable
// unset (nil) or not None. It returns both, so that a caller that keeps
// the files and the executable anyway can drop pi and make an equal one
// when asked for (DefaultInfo.CallInternal with the same arguments).
func (pi *ProviderInstance) PlainDefaultInfo() (files []starlark.Value, executable starlark.Value, ok bool) {
	if pi.Provider != DefaultInfo {
		return nil, nil, false
	}
	d, ok := pi.Field("files").(*Depset)
	if !ok || d.order != "default" || len(d.transitive) > 0 {
		return nil, nil, false
	}
	exe, set := pi.get("executable")
	if set && exe == starlark.None {
		return nil, nil, false
	}
	return d.direct, exe, true
}

// Field returns a field's value, or None when unset.
func (pi *ProviderInstance) Field(name string) starlark.Value {
	if v, ok := pi.get(name); ok {
		return v
	}
	return starlark.None
}

func (pi *ProviderInstance) String() string {
	var b strings.Builder
	b.WriteString(pi.Provider.Name() + "(")
	for i, name := range pi.AttrNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s", name, pi.Field(name))
	}
	b.WriteString(")")
	return b.String()
}
func (pi *ProviderInstance) Type() string          { return pi.Provider.Name() }
func (pi *ProviderInstance) Freeze()               {}
func (pi *ProviderInstance) Truth() starlark.Bool  { return true }
func (pi *ProviderInstance) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", pi.Type()) }

func (pi *ProviderInstance) Attr(name string) (starlark.Value, error) {
	if v, ok := pi.get(name); ok {
		return v, nil
	}
	if pi.Provider.fields != nil && contains(pi.Provider.fields, name) {
		return starlark.None, nil
	}
	return nil, nil
}

func (pi *ProviderInstance) AttrNames() []string {
	names := make([]string, len(pi.fields))
	for i, f := range pi.fields {
		names[i] = f.name
	}
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
