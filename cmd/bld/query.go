package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.starlark.net/starlark"

	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/query"
)

var queryCommand = &command{
	summary: `query the target graph

  bld query //pkg/...                 the targets the pattern names
  bld query 'deps(//app)'             and everything they depend on
  bld query 'deps(//app, 1)'          ... one step deep
  bld query 'rdeps(//..., //lib:x)'   what in //... depends on //lib:x
  bld query 'somepath(//app, //lib:x)'  one path from //app to //lib:x
  bld query 'allpaths(//app, //lib:x)'  every target on a path
  bld query 'kind("cc_.* rule", //...)' targets of matching rules
  bld query 'attr(copts, "-O2", //...)' targets whose attribute matches
  bld query 'deps(//app) - deps(//lib)' set operations: + (union), -
                                      (except), ^ (intersect)

Queries read BUILD.star files only: nothing is analyzed or built, but
with --output=files, which analyzes the targets (in the configuration the
flags choose) and prints the files each one gives (DefaultInfo.files):
where its outputs are, built or not, and the source files it names.

flags:
  --output FORMAT         label (default): one label a line; label_kind:
                          the kind too ("cc_binary rule //app:app",
                          "source file //app:main.c"); build: each target
                          as the BUILD.star call that declares it (set
                          attributes only); graph: the result and its
                          edges in Graphviz dot; files (see above)
  -c, --copt, --define, ... the configuration, as for bld build (files)
  --max_eval_memory SIZE  stop evaluating BUILD.star files when bld's heap
                          grows past SIZE (default 4GiB; 0: no bound)`,
	usage: "bld query [--output label|label_kind|build|graph|files] [--max_eval_memory SIZE] EXPRESSION",
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
	switch *output {
	case "label", "label_kind", "build", "graph", "files":
	default:
		return usageError(fmt.Sprintf("--output=%s: want label, label_kind, build, graph or files", *output))
	}
	if len(args) != 1 {
		return usageError("takes one query expression (quote it)")
	}
	s, err := openWorkspace(env, int64(*maxMemory))
	if err != nil {
		return err
	}
	stopWatch := s.loader.WatchMemory(nil)
	defer stopWatch()
	ev := query.New(s.loader, s.rel)
	set, err := ev.Eval(ctx, args[0])
	if err != nil {
		if msg, ok := strings.CutPrefix(err.Error(), "query: "); ok {
			return usageError(msg)
		}
		return err
	}
	nodes := set.Sorted()
	switch *output {
	case "files":
		var patterns []label.Pattern
		var labels []label.Label
		for _, n := range nodes {
			if n.Target == nil || n.Output {
				continue // files give themselves
			}
			p, err := label.ParsePattern(n.Label.String(), "")
			if err != nil {
				return err
			}
			patterns = append(patterns, p)
			labels = append(labels, n.Label)
		}
		if len(patterns) == 0 {
			return nil
		}
		return printFiles(ctx, env, s, cf, patterns, labels)
	case "label_kind":
		for _, n := range nodes {
			fmt.Fprintf(env.stdout, "%s %s\n", n.Kind(), n.Label)
		}
	case "build":
		for _, n := range nodes {
			if n.Target != nil && !n.Output {
				printTarget(env.stdout, n.Target)
			}
		}
	case "graph":
		fmt.Fprintln(env.stdout, "digraph bld {")
		for _, n := range nodes {
			fmt.Fprintf(env.stdout, "  %q\n", n.Label.String())
		}
		for _, n := range nodes {
			if n.Target == nil || n.Output {
				continue
			}
			for _, d := range n.Target.Deps() {
				if _, ok := set[d]; ok {
					fmt.Fprintf(env.stdout, "  %q -> %q\n", n.Label.String(), d.String())
				}
			}
		}
		fmt.Fprintln(env.stdout, "}")
	default:
		for _, n := range nodes {
			fmt.Fprintln(env.stdout, n.Label)
		}
	}
	return nil
}

// printTarget prints t as the call that declares it, with the attributes
// that are set (not empty, zero or None), and where it is declared.
func printTarget(w io.Writer, t *loading.Target) {
	fmt.Fprintf(w, "# %s (%s)\n%s(\n    name = %q,\n", t.Label, t.Pos, t.Rule.Name(), t.Label.Name)
	for _, name := range t.Rule.AttrNames {
		v := t.Attr(name)
		if v == nil || v == starlark.None || !bool(v.Truth()) || strings.HasPrefix(name, "_") {
			continue
		}
		if lv, ok := v.(*loading.LabelValue); ok {
			v = starlark.String(lv.Label.String())
		}
		if l, ok := v.(*starlark.List); ok {
			items := make([]string, l.Len())
			for i := range l.Len() {
				e := l.Index(i)
				if lv, ok := e.(*loading.LabelValue); ok {
					e = starlark.String(lv.Label.String())
				}
				items[i] = e.String()
			}
			fmt.Fprintf(w, "    %s = [%s],\n", name, strings.Join(items, ", "))
			continue
		}
		fmt.Fprintf(w, "    %s = %s,\n", name, v)
	}
	if len(t.Tags) > 0 {
		fmt.Fprintf(w, "    tags = %q,\n", t.Tags)
	}
	fmt.Fprintln(w, ")")
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

// printFiles analyzes patterns and prints, for each of labels, the files
// it gives, one per line.
func printFiles(ctx context.Context, env *environment, s *session, cf *configFlags, patterns []label.Pattern, labels []label.Label) error {
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	plan, err := s.analyzeForQuery(ctx, env, cfg, patterns)
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
