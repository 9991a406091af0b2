package main

import (
	"errors"
	"flag"
	"io"
	"strings"

	"bld/starlark/loading"
)

// parseFlags parses fs from args, letting flags and positional arguments
// mix (bld build //x -j 4), as users of other build tools expect. A
// one-letter flag may carry its value attached, as in make and ninja: -j4.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	args = splitAttached(fs, spellFlags(fs, args))
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
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

// spellFlags rewrites each flag name that fs does not know but knows with
// '-' and '_' swapped into fs's spelling: every flag accepts both
// (--action-env, --cache_dir), as Bazel's do.
func spellFlags(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == "--" {
			return append(out, args[len(out):]...)
		}
		dashes := 0
		for dashes < len(a) && dashes < 2 && a[dashes] == '-' {
			dashes++
		}
		name, value, hasValue := strings.Cut(a[dashes:], "=")
		if dashes == 0 || name == "" || fs.Lookup(name) != nil {
			out = append(out, a)
			continue
		}
		for _, alt := range []string{strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(name, "_", "-")} {
			if fs.Lookup(alt) != nil {
				name = alt
				break
			}
		}
		if hasValue {
			name += "=" + value
		}
		out = append(out, a[:dashes]+name)
	}
	return out
}

// splitAttached rewrites "-j4" as "-j", "4" for the one-letter flags of fs
// that take a value.
func splitAttached(fs *flag.FlagSet, args []string) []string {
	var out []string
	for _, a := range args {
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.Contains(a, "=") {
			if f := fs.Lookup(a[1:2]); f != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
					out = append(out, a[:2], a[2:])
					continue
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// stringsFlag is a flag that may be given many times; it keeps every value
// in order.
type stringsFlag []string

func (f *stringsFlag) String() string     { return strings.Join(*f, ",") }
func (f *stringsFlag) Set(v string) error { *f = append(*f, v); return nil }

// errHelp is what parseFlags returns for -h or --help: the command prints
// its help and bld exits 0.
var errHelp = errors.New("help requested")

// sizeFlag is a flag whose value is a size in bytes, written as parseSize
// reads it (512M, 4GiB).
type sizeFlag int64

func (f *sizeFlag) String() string { return loading.FormatBytes(int64(*f)) }
func (f *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*f = sizeFlag(n)
	return nil
}

// maxEvalMemoryFlag defines --max_eval_memory on fs: the bound of the heap
// watchdog while BUILD.star files and rule implementations run
// (loading.Loader.WatchMemory); 0 turns the watchdog off.
func maxEvalMemoryFlag(fs *flag.FlagSet) *sizeFlag {
	f := sizeFlag(loading.DefaultMaxMemory)
	fs.Var(&f, "max_eval_memory", "")
	return &f
}
