package main

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"bld/rules"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/workspace"
)

// session is a workspace opened by a command: its root, the working
// directory relative to it, and a loader.
type session struct {
	root, rel string
	loader    *loading.Loader
}

// openWorkspace finds the workspace of the working directory and makes its
// loader; maxMemory bounds the heap while Starlark runs (--max_eval_memory;
// the loader's WatchMemory, which the command starts).
func openWorkspace(env *environment, maxMemory int64) (*session, error) {
	root, rel, err := workspace.FindRoot(env.dir)
	if err != nil {
		return nil, err
	}
	loader := loading.New(loading.Options{
		Root:      root,
		Builtins:  rules.Files,
		MaxMemory: maxMemory,
		Print: func(thread *starlark.Thread, msg string) {
			fmt.Fprintf(env.stderr, "DEBUG %s: %s\n", thread.CallFrame(1).Pos, msg)
		},
	})
	return &session{root: root, rel: rel, loader: loader}, nil
}

// patterns parses command-line target patterns relative to the working
// directory.
func (s *session) patterns(args []string) ([]label.Pattern, error) {
	if len(args) == 0 {
		return nil, usageError("name what to build: a label such as //pkg:name, //pkg:all, or //... for everything")
	}
	out := make([]label.Pattern, 0, len(args))
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, usageError(fmt.Sprintf("unknown flag %s", a))
		}
		p, err := label.ParsePattern(a, s.rel)
		if err != nil {
			return nil, usageError(err.Error())
		}
		out = append(out, p)
	}
	return out, nil
}
