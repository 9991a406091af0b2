package loading

import (
	"fmt"

	"go.starlark.net/starlark"

	"bld/starlark/label"
)

// Visibility, as Bazel spells it: which packages may depend on a target.
//
//	//visibility:public        every package
//	//visibility:private       the target's own package
//	//pkg:__pkg__              package pkg
//	//pkg:__subpackages__      pkg and every package beneath it
//	//pkg:group                the packages of a package_group
//
// A target's own package may always depend on it. A target without a
// visibility attribute takes its package's default (package(default_
// visibility = ...)); with neither, it is public: unlike Bazel, where it
// would be private, so that BUILD files written before bld checked
// visibility keep working.

// visibilityOf parses a visibility attribute's value (a list of label
// strings) relative to pkg.
func visibilityOf(v starlark.Value, pkg string) ([]label.Label, error) {
	l, ok := v.(*starlark.List)
	if !ok {
		return nil, fmt.Errorf("want a list of labels such as \"//visibility:public\", got %s", v.Type())
	}
	out := make([]label.Label, 0, l.Len())
	for i := range l.Len() {
		s, ok := l.Index(i).(starlark.String)
		if !ok {
			return nil, fmt.Errorf("element %d is a %s; want a label string", i, l.Index(i).Type())
		}
		lb, err := label.Parse(string(s), "", pkg)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", string(s), err)
		}
		if lb.Pkg == "visibility" && lb.Name != "public" && lb.Name != "private" {
			return nil, fmt.Errorf("%q: the //visibility package has only :public and :private", string(s))
		}
		out = append(out, lb)
	}
	return out, nil
}

// packageBuiltin implements package(default_visibility = [...]) in a
// BUILD.star: the visibility of the package's targets that set none. It
// must come before the targets it applies to.
func packageBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	pb, _ := thread.Local(packageKey).(*packageBuilder)
	if pb == nil {
		return nil, fmt.Errorf("package() can only be called in a BUILD.star file")
	}
	var vis starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "default_visibility?", &vis); err != nil {
		return nil, err
	}
	if len(pb.pkg.Targets) > 0 {
		return nil, fmt.Errorf("package() must come before the package's first target")
	}
	if vis != starlark.None {
		v, err := visibilityOf(vis, pb.pkg.Path)
		if err != nil {
			return nil, fmt.Errorf("package: default_visibility: %v", err)
		}
		pb.defaultVisibility = v
	}
	return starlark.None, nil
}

// exportsFilesBuiltin implements exports_files(srcs, visibility = None,
// licenses = None) for BUILD files written for Bazel. bld's source files
// are visible to every package, so it changes nothing.
func exportsFilesBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var srcs, vis, licenses starlark.Value
	return starlark.None, starlark.UnpackArgs(b.Name(), args, kwargs, "srcs", &srcs, "visibility?", &vis, "licenses?", &licenses)
}
