package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bazelbuild/buildtools/build"

	"bld/exec/status"
	"bld/exec/store"
	"bld/starlark/workspace"
)

var fmtCommand = &command{
	summary: `format BUILD.star and .star files

Formats the files named (paths, relative to the working directory), or every
BUILD.star and .star file of the workspace when none is named or the
argument is //... (bld-out/ and hidden directories left out), the way
buildifier does: BUILD.star files in its BUILD mode (rules' attributes in
its order, lists sorted where it sorts them), other .star files in its
default mode. A file that does not parse is an error naming its line and
column, and is left as it is.

flags:
  --check   change nothing: list the files that are not formatted, and
            exit 1 if there is one (for CI)`,
	usage: "bld fmt [--check] [FILE... | //...]",
	run:   runFmt,
}

func runFmt(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	check := fs.Bool("check", false, "")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	files, err := fmtFiles(env, args)
	if err != nil {
		return err
	}
	var unformatted, broken int
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		out, err := formatStar(name, data)
		if err != nil {
			fmt.Fprintf(env.stderr, "bld: %v\n", err)
			broken++
			continue
		}
		if bytes.Equal(out, data) {
			continue
		}
		rel := name
		if r, err := filepath.Rel(env.dir, name); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
		if *check {
			fmt.Fprintln(env.stdout, rel)
			unformatted++
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		if err := store.WriteFileAtomic(name, out, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
		fmt.Fprintf(env.stderr, "bld: formatted %s\n", rel)
	}
	switch {
	case broken > 0:
		return errReported
	case unformatted > 0:
		fmt.Fprintf(env.stderr, "bld: %s not formatted; run bld fmt\n", status.Plural(unformatted, "file"))
		return errReported
	}
	return nil
}

// formatStar formats one file: BUILD.star in buildifier's BUILD mode, any
// other .star file in its default mode.
func formatStar(name string, data []byte) ([]byte, error) {
	parse := build.ParseDefault
	if filepath.Base(name) == "BUILD.star" {
		parse = build.ParseBuild
	}
	f, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	return build.Format(f), nil
}

// fmtFiles returns the absolute paths of the files bld fmt formats.
func fmtFiles(env *environment, args []string) ([]string, error) {
	if len(args) > 0 && !(len(args) == 1 && args[0] == "//...") {
		var out []string
		for _, a := range args {
			if strings.HasPrefix(a, "//") {
				return nil, usageError(fmt.Sprintf("%s: name files by their paths, or //... for every one", a))
			}
			if !filepath.IsAbs(a) {
				a = filepath.Join(env.dir, a)
			}
			fi, err := os.Stat(a)
			if err != nil {
				return nil, err
			}
			if !fi.Mode().IsRegular() {
				return nil, usageError(fmt.Sprintf("%s is not a file", a))
			}
			out = append(out, a)
		}
		return out, nil
	}
	root, _, err := workspace.FindRoot(env.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || p == filepath.Join(root, workspace.OutputDir)) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".star") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}
