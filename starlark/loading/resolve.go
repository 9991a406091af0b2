package loading

import (
	"fmt"
	"os"
	"path/filepath"

	"bld/starlark/label"
)

// What a label names in its package.
type LabelKind int

const (
	// KindTarget is a target the package's BUILD.star declares.
	KindTarget LabelKind = iota
	// KindOutput is a file an output attribute of a target declares
	// (genrule's outs); Package.Outputs names the target.
	KindOutput
	// KindSource is an existing source file of the package.
	KindSource
)

// NoSuchTargetError reports a label that names neither a target, nor a
// declared output, nor a source file of its package.
type NoSuchTargetError struct {
	Label label.Label
	// Msg says what is missing and, when one is close, which target was
	// meant.
	Msg string
}

func (e *NoSuchTargetError) Error() string { return e.Msg }

// Resolve says what lb names in pkg, its package, already loaded: a target,
// a declared output, or a source file. Anything else, a directory included,
// is a *NoSuchTargetError. It is the one place that decides what a label
// names: command-line patterns (Expand: bld build and bld query alike),
// dependencies in analysis and in bld query deps() all ask it.
func (l *Loader) Resolve(pkg *Package, lb label.Label) (LabelKind, error) {
	if _, ok := pkg.Targets[lb.Name]; ok {
		return KindTarget, nil
	}
	if _, ok := pkg.Outputs[lb.Name]; ok {
		return KindOutput, nil
	}
	if l.view.IsFile(lb.Path()) {
		return KindSource, nil
	}
	msg := fmt.Sprintf("no target or file %s: package //%s (%s) declares no target %q and there is no file %s",
		lb, lb.Pkg, pkg.File, lb.Name, lb.Path())
	// Only on the way to an error, so not recorded for the snapshot.
	if fi, err := os.Stat(filepath.Join(l.view.Root(), filepath.FromSlash(lb.Path()))); err == nil && fi.IsDir() {
		msg = fmt.Sprintf("%s is a directory, not a file: name the files in it (glob([%q])) or a target of its own package",
			lb.Path(), lb.Name+"/**")
	}
	if best := Closest(lb.Name, pkg.TargetNames()); best != "" {
		msg += fmt.Sprintf("; did you mean %s?", label.Label{Pkg: lb.Pkg, Name: best})
	}
	return 0, &NoSuchTargetError{Label: lb, Msg: msg}
}
