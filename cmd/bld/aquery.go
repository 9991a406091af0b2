package main

import (
	"bld/cmd/bld/internal/build"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"bld/exec/graph"
	"bld/exec/status"
)

var aqueryCommand = &command{
	summary: `print the actions of targets, as analysis makes them

  bld aquery //pkg:name          the actions the target's own rule declares
  bld aquery 'deps(//pkg:name)'  ... and those of everything it depends on

For each action: its label, mnemonic, progress message, inputs (and the
discoverable inputs a depfile may name), outputs, environment and command
line (argv, quoted for a POSIX shell; a file-writing action says what it
writes). Nothing is built. Actions see the environment of a build without
--action_env.

flags:
  --output=text|json   text (default), or one JSON object {"actions": [...]}
                       with fields label, mnemonic, message, argv, env,
                       inputs, discoverable, outputs, depfile, content_bytes`,
	usage: "bld aquery [--output=text|json] PATTERN | 'deps(PATTERN)'",
	run:   runAquery,
}

// aqueryAction is one action as aquery --output=json prints it.
type aqueryAction struct {
	Label        string   `json:"label"`
	Mnemonic     string   `json:"mnemonic"`
	Message      string   `json:"message"`
	Argv         []string `json:"argv,omitempty"`
	Env          []string `json:"env,omitempty"`
	Inputs       []string `json:"inputs"`
	Discoverable []string `json:"discoverable,omitempty"`
	Outputs      []string `json:"outputs"`
	Depfile      string   `json:"depfile,omitempty"`
	// ContentBytes is the size of what a file-writing action writes.
	ContentBytes *int `json:"content_bytes,omitempty"`
}

func runAquery(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("aquery", flag.ContinueOnError)
	output := fs.String("output", "text", "")
	cf := addConfigFlags(fs)
	maxMemory := maxEvalMemoryFlag(fs)
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError(fmt.Sprintf("--output=%s: want text or json", *output))
	}
	expr, deps, err := parseQuery("aquery", args)
	if err != nil {
		return err
	}
	s, err := openWorkspace(env, int64(*maxMemory))
	if err != nil {
		return err
	}
	patterns, err := s.patterns(strings.Fields(expr))
	if err != nil {
		return err
	}
	labels, err := s.loader.Expand(ctx, patterns)
	if err != nil {
		return err
	}
	plan, err := s.analyzeForQuery(ctx, env, cfg, patterns)
	if err != nil {
		return err
	}
	var actions []*graph.Action
	if deps {
		actions = neededActions(plan)
	} else {
		owners := map[string]bool{}
		for _, l := range labels {
			owners[l.String()] = true
		}
		for _, a := range plan.Graph.Actions {
			if owners[a.Owner] {
				actions = append(actions, a)
			}
		}
	}
	if *output == "json" {
		return printActionsJSON(env.stdout, actions)
	}
	printActionsText(env.stdout, actions)
	return nil
}

// neededActions returns the goals of plan and every action they depend
// on, in the order of their IDs.
func neededActions(plan *build.Plan) []*graph.Action {
	g := plan.Graph
	needed := make([]bool, len(g.Actions))
	stack := append([]int{}, plan.Goals...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[id] {
			continue
		}
		needed[id] = true
		stack = append(stack, g.Deps[id]...)
	}
	var out []*graph.Action
	for id, ok := range needed {
		if ok {
			out = append(out, g.Actions[id])
		}
	}
	return out
}

func printActionsText(w io.Writer, actions []*graph.Action) {
	list := func(name string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(w, "  %s: [%s]\n", name, strings.Join(items, ", "))
		}
	}
	for i, a := range actions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "action '%s'\n", a.Message())
		fmt.Fprintf(w, "  Label: %s\n  Mnemonic: %s\n", a.Owner, a.Mnemonic)
		list("Inputs", a.Inputs)
		list("Discoverable", a.Discoverable())
		fmt.Fprintf(w, "  Outputs: [%s]\n", strings.Join(a.Outputs, ", "))
		if a.Depfile() != "" {
			fmt.Fprintf(w, "  Depfile: %s\n", a.Depfile())
		}
		list("Environment", a.Env)
		if len(a.Argv) == 0 {
			exe := ""
			if a.Executable {
				exe = ", executable"
			}
			fmt.Fprintf(w, "  Writes: %d bytes%s\n", len(a.Content()), exe)
			continue
		}
		fmt.Fprintf(w, "  Command Line: %s\n", status.CommandLine(a))
	}
}

func printActionsJSON(w io.Writer, actions []*graph.Action) error {
	out := struct {
		Actions []aqueryAction `json:"actions"`
	}{Actions: []aqueryAction{}}
	for _, a := range actions {
		j := aqueryAction{Label: a.Owner, Mnemonic: a.Mnemonic, Message: a.Message(), Argv: a.Argv, Env: a.Env,
			Inputs: a.Inputs, Discoverable: a.Discoverable(), Outputs: a.Outputs, Depfile: a.Depfile()}
		if j.Inputs == nil {
			j.Inputs = []string{}
		}
		if len(a.Argv) == 0 {
			n := len(a.Content())
			j.ContentBytes = &n
		}
		out.Actions = append(out.Actions, j)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
