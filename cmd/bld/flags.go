package main

import (
	"flag"
	"io"
)

// parseFlags parses fs from args, letting flags and positional arguments
// mix (bld build //x -j4), as users of other build tools expect.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err.Error())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// Parse stopped at a positional argument: take it and go on.
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
