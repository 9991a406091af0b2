package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
)

var runCommand = &command{
	summary: `build a program and run it

Builds the one target the pattern names, as bld build does, then runs its
program (DefaultInfo.executable) with the target's args and the arguments
after --, in the directory bld was started from, with stdin, stdout and
stderr passed through. The program sees bld's environment plus
BUILD_WORKSPACE_DIRECTORY (the workspace root) and BUILD_WORKING_DIRECTORY
(where bld was started), as under Bazel. bld exits with the program's exit
status. The workspace lock is released before the program starts.

flags: those of bld build.`,
	usage: "bld run [bld build's flags] PATTERN [-- ARGS...]",
	run:   runRun,
}

func runRun(ctx context.Context, env *environment, args []string) error {
	var progArgs []string
	for i, a := range args {
		if a == "--" {
			args, progArgs = args[:i], args[i+1:]
			break
		}
	}
	res, err := doBuild(ctx, env, args, &buildExtension{command: "run", fresh: true})
	if err != nil {
		return err
	}
	if len(res.plan.Executables) != 1 {
		var names []string
		for l := range res.plan.Executables {
			names = append(names, l)
		}
		if len(names) == 0 {
			return errors.New("the pattern names no program: bld run takes one target with an executable (cc_binary, sh_binary, a rule with executable = True)")
		}
		return usageError(fmt.Sprintf("the pattern names %d programs (%v); name one", len(names), names))
	}
	var label, exe string
	for l, e := range res.plan.Executables {
		label, exe = l, e
	}
	cmd := exec.Command(filepath.Join(res.root, filepath.FromSlash(exe)), append(targetArgs(res, label), progArgs...)...)
	cmd.Dir = env.dir
	cmd.Env = append(append([]string{}, env.vars...),
		"BUILD_WORKSPACE_DIRECTORY="+res.root, "BUILD_WORKING_DIRECTORY="+env.dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.stdin, env.stdout, env.stderr
	// Ctrl-C reaches the program (it is in the terminal's process group);
	// bld waits for it and passes its status on.
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return exitCode(code)
		}
		return exitCode(exitInterrupted) // killed by a signal
	}
	return fmt.Errorf("running %s: %w", exe, err)
}

// targetArgs returns the args attribute of the target label, if the plan
// knows it.
func targetArgs(res *buildResult, label string) []string {
	return res.plan.Args[label]
}
