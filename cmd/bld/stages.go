package main

import (
	"bld/cmd/bld/internal/build"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"bld/exec/graph"
	"bld/starlark/workspace"
)

// parseStageInputs checks --stage-input NAME=PATH flags (which need
// --from-stage) and returns NAME -> absolute PATH; a relative PATH is
// taken from the working directory.
func parseStageInputs(env *environment, fromStage string, flags []string) (map[string]string, error) {
	if len(flags) > 0 && fromStage == "" {
		return nil, usageError("--stage-input needs --from-stage: the stage that starts from the products given")
	}
	given := map[string]string{}
	for _, f := range flags {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" || strings.Contains(name, "/") {
			return nil, usageError(fmt.Sprintf("--stage-input %s: want NAME=PATH, e.g. --stage-input profile=ci-profiles/", f))
		}
		if _, dup := given[name]; dup {
			return nil, usageError(fmt.Sprintf("--stage-input %s: %s is given twice", f, name))
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.dir, path)
		}
		given[name] = path
	}
	return given, nil
}

// startAtStage narrows plan to a build that starts at stage fromStage
// (graph.StartAt): it copies the given products into place, under the
// names of the outputs of the stages skipped, says which stages those are,
// and returns the plan of the actions that remain.
func startAtStage(env *environment, root string, plan *build.Plan, fromStage string, given map[string]string) (*build.Plan, error) {
	st, err := graph.StartAt(plan.Graph, plan.Goals, fromStage, given)
	if err != nil {
		return nil, err
	}
	for _, to := range slices.Sorted(maps.Keys(st.Copies)) {
		if err := copyFile(st.Copies[to], filepath.Join(root, filepath.FromSlash(to))); err != nil {
			return nil, fmt.Errorf("--stage-input: %w", err)
		}
	}
	var goals []string
	for _, id := range plan.Goals {
		goals = append(goals, plan.Graph.Actions[id].Outputs...)
	}
	next, err := build.NewPlan(st.Actions, goals, workspace.NewView(root).IsFile)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(given))
	for n, p := range given {
		names = append(names, n+"="+p)
	}
	sort.Strings(names)
	fmt.Fprintf(env.stderr, "bld: --from-stage %s: skipped stage%s %s; %d file%s from %s\n", fromStage,
		map[bool]string{true: "", false: "s"}[len(st.Skipped) == 1], strings.Join(st.Skipped, ", "),
		len(st.Copies), map[bool]string{true: "", false: "s"}[len(st.Copies) == 1], strings.Join(names, ", "))
	return next, nil
}

// rerunStages returns the cache's Rerun function for --rerun-stage: the
// actions of the stages named run even when their result is cached.
func rerunStages(stages []string) func(a *graph.Action) string {
	if len(stages) == 0 {
		return nil
	}
	return func(a *graph.Action) string {
		if a.Stage() != "" && slices.Contains(stages, a.Stage()) {
			return "--rerun-stage " + a.Stage()
		}
		return ""
	}
}

// copyFile copies from to to (an output path under bld-out), replacing
// what is there, keeping the execute bit.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp := to + ".bld-tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, to)
}
