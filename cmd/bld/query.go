package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"bld/starlark/label"
	"bld/starlark/loading"
)

var queryCommand = &command{
	summary: `list targets, or the transitive dependencies of targets

  bld query //pkg/...          the targets the pattern names
  bld query 'deps(//pkg:name)' those targets and everything they depend on,
                               source files included

Queries read BUILD.star files only: nothing is analyzed or built, but
with --output=files, which analyzes the targets (in the configuration the
flags choose) and prints the files each one gives (DefaultInfo.files):
where its outputs are, built or not, and the source files it names.

flags:
  --output label|files    what to print for each target (default label)
  -c, --copt, --define, ... the configuration, as for bld build (files)
  --max_eval_memory SIZE  stop evaluating BUILD.star files when bld's heap
                          grows past SIZE (default 4GiB; 0: no bound)`,
	usage: "bld query [--output label|files] [--max_eval_memory SIZE] PATTERN | 'deps(PATTERN)'",
	run:   runQuery,
}

func runQuery(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	maxMemory := maxEvalMemoryFlag(fs)
	output := fs.String("output", "label", "")
	cf := addConfigFlags(fs)
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *output != "label" && *output != "files" {
		return usageError(fmt.Sprintf("--output=%s: want label or files", *output))
	}
	expr, deps, err := parseQuery("query", args)
	if err != nil {
		return err
	}
	s, err := openWorkspace(env, int64(*maxMemory))
	if err != nil {
		return err
	}
	stopWatch := s.loader.WatchMemory()
	defer stopWatch()
	patterns, err := s.patterns(strings.Fields(expr))
	if err != nil {
		return err
	}
	labels, err := s.loader.Expand(ctx, patterns)
	if err != nil {
		return err
	}
	if deps {
		labels, err = transitiveDeps(ctx, s, labels)
		if err != nil {
			return err
		}
	}
	if *output == "files" {
		if deps {
			return usageError("--output=files takes a pattern, not deps(...)")
		}
		return printFiles(ctx, env, s, cf, patterns, labels)
	}
	for _, l := range labels {
		fmt.Fprintln(env.stdout, l)
	}
	return nil
}

// transitiveDeps returns roots and every label they reach through label
// attributes, sorted. A label that is not a target must be an existing file.
func transitiveDeps(ctx context.Context, s *session, roots []label.Label) ([]label.Label, error) {
	seen := map[label.Label]bool{}
	var visit func(l label.Label, from *loading.Target) error
	visit = func(l label.Label, from *loading.Target) error {
		if seen[l] {
			return nil
		}
		seen[l] = true
		pkg, err := s.loader.LoadPackage(ctx, l.Pkg)
		if err != nil {
			var nsp *loading.NoSuchPackageError
			if errors.As(err, &nsp) && from != nil {
				return fmt.Errorf("%s: %s depends on %s: %v", from.Pos, from.Label, l, err)
			}
			return err
		}
		kind, err := s.loader.Resolve(pkg, l)
		if err != nil {
			if from != nil {
				return fmt.Errorf("%s: %s depends on %s: %v", from.Pos, from.Label, l, err)
			}
			return err
		}
		switch kind {
		case loading.KindOutput:
			return visit(pkg.Outputs[l.Name].Label, from)
		case loading.KindSource:
			return nil
		}
		t := pkg.Targets[l.Name]
		for _, d := range t.Deps() {
			if err := visit(d, t); err != nil {
				return err
			}
		}
		return nil
	}
	for _, l := range roots {
		if err := visit(l, nil); err != nil {
			return nil, err
		}
	}
	out := make([]label.Label, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return label.Less(out[i], out[j]) })
	return out, nil
}

// printFiles analyzes patterns and prints, for each of labels, the files
// it gives, one per line after the label.
func printFiles(ctx context.Context, env *environment, s *session, cf *configFlags, patterns []label.Pattern, labels []label.Label) error {
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	base, err := actionEnv(env, nil)
	if err != nil {
		return err
	}
	plan, err := s.analyze(ctx, env, analyzeRequest{cfg: cfg, base: base, patterns: patterns})
	if err != nil {
		return err
	}
	for _, l := range labels {
		for _, f := range plan.Files[l.String()] {
			fmt.Fprintln(env.stdout, f)
		}
	}
	return nil
}

// parseQuery reads the one query expression of bld query and bld aquery
// (command): PATTERN, or deps(PATTERN), whose pattern it returns with deps
// true.
func parseQuery(command string, args []string) (pattern string, deps bool, err error) {
	if len(args) != 1 {
		return "", false, usageError("takes one query expression")
	}
	expr := strings.TrimSpace(args[0])
	if strings.HasPrefix(expr, "deps(") && strings.HasSuffix(expr, ")") {
		return strings.TrimSpace(expr[len("deps(") : len(expr)-1]), true, nil
	}
	if strings.Contains(expr, "(") {
		return "", false, usageError(fmt.Sprintf("unknown query %q: bld %s knows PATTERN and deps(PATTERN)", expr, command))
	}
	return expr, false, nil
}
