package main

import (
	"os"

	"github.com/mattn/go-isatty"
)

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd())
}

// useColor decides whether bld colours what it prints on stderr: only on a
// terminal, and not when NO_COLOR is set to anything but the empty string
// (https://no-color.org).
func useColor(env *environment) bool {
	return env.isTerminal && env.getenv("NO_COLOR") == ""
}
