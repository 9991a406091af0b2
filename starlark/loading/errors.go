package loading

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// NoSuchPackageError reports a label whose package has no BUILD.star.
type NoSuchPackageError struct {
	Pkg string
}

func (e *NoSuchPackageError) Error() string {
	dir := e.Pkg
	if dir == "" {
		dir = "the workspace root"
	}
	return fmt.Sprintf("no package //%s: %s has no BUILD.star file", e.Pkg, dir)
}

// EvalError is a Starlark error with the backtrace that led to it. Its
// message starts with file:line:col of the innermost frame.
type EvalError struct {
	Msg       string
	Backtrace string
}

func (e *EvalError) Error() string { return e.Backtrace }

// evalError turns a Starlark evaluation error into an error whose text is
// the backtrace (each frame as file:line:col), so that the place is named.
func evalError(err error) error {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		// go.starlark.net's fail() says "fail: msg", which the backtrace
		// prints as "Error in fail: fail: msg": say it once.
		bt := strings.Replace(ee.Backtrace(), "Error in fail: fail: ", "Error in fail: ", 1)
		if strings.HasSuffix(ee.Msg, "too many steps") {
			bt += "\n(the evaluation reached its limit of Starlark execution steps: look for an endless loop or recursion there)"
		}
		return &EvalError{Msg: ee.Msg, Backtrace: bt}
	}
	return err
}

// EvalErr converts err as the loader does, for other packages that run
// Starlark (analysis).
func EvalErr(err error) error { return evalError(err) }
