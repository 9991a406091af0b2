package loading

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"bld/starlark/label"
)

// A LabelValue is a label as Starlark code sees it: ctx.label, and the
// values of label attributes before analysis. It has the fields name,
// package and workspace_root, like Bazel's Label.
type LabelValue struct {
	Label label.Label
}

var (
	_ starlark.HasAttrs   = (*LabelValue)(nil)
	_ starlark.Comparable = (*LabelValue)(nil)
)

func (l *LabelValue) String() string        { return l.Label.String() }
func (l *LabelValue) Type() string          { return "Label" }
func (l *LabelValue) Freeze()               {}
func (l *LabelValue) Truth() starlark.Bool  { return true }
func (l *LabelValue) Hash() (uint32, error) { return starlark.String(l.Label.String()).Hash() }
func (l *LabelValue) AttrNames() []string   { return []string{"name", "package", "workspace_root"} }

func (l *LabelValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(l.Label.Name), nil
	case "package":
		return starlark.String(l.Label.Pkg), nil
	case "workspace_root":
		return starlark.String(""), nil
	}
	return nil, nil
}

func (l *LabelValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return starlark.Compare(op, starlark.String(l.Label.String()), starlark.String(y.(*LabelValue).Label.String()))
}

// Label is the Starlark builtin Label("//pkg:name"), resolving a relative
// label against the package of the file that calls it.
func labelBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &s); err != nil {
		return nil, err
	}
	repo, pkg := currentContext(thread)
	l, err := label.Parse(s, repo, pkg)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	return &LabelValue{l}, nil
}
