package analysis

import (
	"fmt"
	"path"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/structs"
	"bld/starlark/workspace"
)

// A File is a source file or a file an action produces, as rule
// implementations see it. There is one *File per path in an analysis, so
// files compare and dedupe by identity.
type File struct {
	// Path is relative to the workspace root: pkg/a.c for a source file,
	// bld-out/pkg/a.o for a generated one. Actions use it.
	Path string
	// Owner is the label of the source file, or of the target that
	// declared the generated file.
	Owner    label.Label
	IsSource bool
	// declarer is the target that declared a generated file, for the
	// position in errors.
	declarer *loading.Target
}

var (
	_ starlark.HasAttrs   = (*File)(nil)
	_ starlark.Comparable = (*File)(nil)
)

func (f *File) String() string {
	if f.IsSource {
		return "<source file " + f.Path + ">"
	}
	return "<generated file " + f.Path + ">"
}
func (f *File) Type() string          { return "File" }
func (f *File) Freeze()               {}
func (f *File) Truth() starlark.Bool  { return true }
func (f *File) Hash() (uint32, error) { return starlark.String(f.Path).Hash() }

func (f *File) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return starlark.Compare(op, starlark.String(f.Path), starlark.String(y.(*File).Path))
}

// ShortPath is the path without the output directory prefix.
func (f *File) ShortPath() string {
	return strings.TrimPrefix(f.Path, workspace.OutputDir+"/")
}

var fileAttrs = []string{"basename", "dirname", "extension", "is_source", "owner", "path", "root", "short_path"}

func (f *File) AttrNames() []string { return fileAttrs }

func (f *File) Attr(name string) (starlark.Value, error) {
	switch name {
	case "path":
		return starlark.String(f.Path), nil
	case "short_path":
		return starlark.String(f.ShortPath()), nil
	case "basename":
		return starlark.String(path.Base(f.Path)), nil
	case "dirname":
		return starlark.String(path.Dir(f.Path)), nil
	case "extension":
		ext := path.Ext(f.Path)
		return starlark.String(strings.TrimPrefix(ext, ".")), nil
	case "is_source":
		return starlark.Bool(f.IsSource), nil
	case "owner":
		return &loading.LabelValue{Label: f.Owner}, nil
	case "root":
		root := ""
		if !f.IsSource {
			root = workspace.OutputDir
		}
		return rootValue(root), nil
	}
	return nil, nil
}

// The two roots, File.root and ctx.bin_dir: structs, immutable, made once.
var (
	sourceRoot = structs.FromStringDict(starlark.StringDict{"path": starlark.String("")})
	outputRoot = structs.FromStringDict(starlark.StringDict{"path": starlark.String(workspace.OutputDir)})
)

func rootValue(p string) starlark.Value {
	if p == "" {
		return sourceRoot
	}
	return outputRoot
}

// filesOf returns the *File elements of a list or depset, or an error naming
// fn's argument arg (or fn.arg, for a field) when an element is not a File.
func filesOf(v starlark.Value, fn, arg string) ([]*File, error) {
	what := func() string {
		if fn == "DefaultInfo" {
			return fn + "." + arg
		}
		return fn + ": " + arg
	}
	if l, ok := v.(*starlark.List); ok {
		// Without the copy Elements makes.
		out := make([]*File, l.Len())
		for i := range out {
			f, ok := l.Index(i).(*File)
			if !ok {
				return nil, fmt.Errorf("%s: element %d is a %s, want File", what(), i, l.Index(i).Type())
			}
			out[i] = f
		}
		return out, nil
	}
	elems, err := loading.Elements(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what(), err)
	}
	out := make([]*File, 0, len(elems))
	for i, e := range elems {
		f, ok := e.(*File)
		if !ok {
			return nil, fmt.Errorf("%s: element %d is a %s, want File", what(), i, e.Type())
		}
		out = append(out, f)
	}
	return out, nil
}

// fileList1 is a list of one file with its element, in one allocation.
type fileList1 struct {
	list  starlark.List
	elems [1]starlark.Value
}

// fileList returns files as a frozen list.
func fileList(files []*File) *starlark.List {
	if len(files) == 1 {
		// The list and its element in one allocation: most targets'
		// srcs and outs are one file each.
		b := new(fileList1)
		b.elems[0] = files[0]
		b.list = *starlark.NewList(b.elems[:])
		b.list.Freeze()
		return &b.list
	}
	vals := make([]starlark.Value, len(files))
	for i, f := range files {
		vals[i] = f
	}
	l := starlark.NewList(vals)
	l.Freeze()
	return l
}
