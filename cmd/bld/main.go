// Command bld builds the targets that BUILD.star files declare.
//
//	bld build [-j N] [-k] [-c MODE] [--events FILE] ... PATTERN...
//	bld test [bld build's flags] [--test_output ...] PATTERN...
//	bld run [bld build's flags] TARGET [-- ARGS...]
//	bld query [--output FORMAT] EXPRESSION
//	bld aquery [--output=text|json] PATTERN | 'deps(PATTERN)'
//	bld fmt [--check] [FILE...]
//	bld cache stats|trim|verify
//	bld clean
//	bld version
//	bld help [COMMAND]
//
// This package is the command line only: flags, commands, printing and
// wiring. Joining the stages of a build is cmd/bld/internal/build's; the
// build logic lives in starlark/, rules/ and exec/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"bld/exec/crash"
	"bld/exec/sandbox"
)

// version is set at link time (-ldflags "-X main.version=...") by release
// builds.
var version = "0.1.0-dev"

// A command is one subcommand of bld.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, env *environment, args []string) error
}

var commands = map[string]*command{
	"build":   buildCommand,
	"test":    testCommand,
	"run":     runCommand,
	"fmt":     fmtCommand,
	"query":   queryCommand,
	"aquery":  aqueryCommand,
	"clean":   cleanCommand,
	"cache":   cacheCommand,
	"version": {summary: "print bld's version", usage: "bld version", run: runVersion},
}

// environment is what a command may use of the process: no command touches
// os.Stdout, os.Args or os.Getenv directly, so that tests can run them.
type environment struct {
	stdin          io.Reader // bld run's program reads it
	stdout, stderr io.Writer
	dir            string   // the working directory
	vars           []string // the process environment
	isTerminal     bool     // stderr is a terminal
}

func (e *environment) getenv(key string) string {
	v, _ := e.lookup(key)
	return v
}

// lookup returns the value of an environment variable and whether it is set.
func (e *environment) lookup(key string) (string, bool) {
	for i := len(e.vars) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e.vars[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func main() {
	// When bld is started as the sandbox's namespace helper, this sets up
	// the namespace and execs the action's command; it never returns.
	sandbox.Main()
	if !wantsMemProfile(os.Args[1:]) {
		// The runtime samples an allocation every 512 KB for a memory
		// profile by default (a stack walk each, and a record kept per
		// distinct stack); only --memprofile reads them. (The table of
		// records, 1.4 MB, is made at the first sample, during init.)
		runtime.MemProfileRate = 0
	}
	if os.Getenv("GOGC") == "" {
		// bld is short-lived and allocates much while it loads and
		// analyzes; collecting less often saved ~15% of a no-op build
		// of 10,000 actions (bench/, medians of 5) for some memory.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bld:", err)
		os.Exit(2)
	}
	env := &environment{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		dir:        dir,
		vars:       os.Environ(),
		isTerminal: isTerminal(os.Stderr),
	}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// Exit codes, Bazel's where Bazel has one (docs in README.md).
const (
	exitOK          = 0
	exitFailed      = 1              // the build or the command failed
	exitUsage       = 2              // bad command line
	exitInternal    = crash.ExitCode // a bug in bld (a panic): 37
	exitInterrupted = 130            // Ctrl-C or SIGTERM
	exitTestsFailed = 3              // bld test: a test failed (the build succeeded)
	exitNoTests     = 4              // bld test: the build succeeded, there was no test to run
)

func run(ctx context.Context, env *environment, args []string) (code int) {
	defer func() {
		// A panic in the command's goroutine is a bug of bld: say so,
		// with the stack, and exit with its own code. (Other goroutines
		// are started by crash.Go, which reports the same way and exits.)
		if p := recover(); p != nil {
			crash.Report(env.stderr, p, debug.Stack())
			code = exitInternal
		}
	}()
	if len(args) == 0 {
		printHelp(env.stderr)
		return exitUsage
	}
	name, args := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		return runHelp(env, args)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.stderr, "bld: unknown command %q; run 'bld help' for the list\n", name)
		return exitUsage
	}
	rc, err := rcArgs(env, name)
	if err != nil {
		fmt.Fprintf(env.stderr, "bld: %v\n", err)
		return exitUsage
	}
	err = cmd.run(ctx, env, append(rc, args...))
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		printCommandHelp(env.stdout, cmd)
		return exitOK
	}
	var status exitCode
	if errors.As(err, &status) {
		return int(status) // the command reported it (bld run passes its program's on)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(env.stderr, "bld: interrupted")
		return exitInterrupted
	}
	if _, ok := err.(usageError); ok {
		fmt.Fprintf(env.stderr, "bld %s: %v\nusage: %s\n", name, err, cmd.usage)
		return exitUsage
	}
	if err != errReported {
		fmt.Fprintf(env.stderr, "bld: error: %v\n", err)
	}
	return exitFailed
}

// usageError is a mistake on the command line.
type usageError string

func (e usageError) Error() string { return string(e) }

// exitCode is returned by a command that has said what happened and exits
// with that status: bld test's 3 when a test failed, bld run's program's.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// errReported is returned by a command that has already printed why it
// failed.
var errReported = fmt.Errorf("failed")

func runVersion(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 {
		return usageError("takes no arguments")
	}
	fmt.Fprintln(env.stdout, "bld", version)
	return nil
}

func runHelp(env *environment, args []string) int {
	if len(args) == 0 {
		printHelp(env.stdout)
		return exitOK
	}
	if args[0] == "help" {
		fmt.Fprintln(env.stdout, "usage: bld help [COMMAND]\n\nshow what bld's commands are, or what one of them does and takes")
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "bld help: unknown command %q; run 'bld help' for the list\n", args[0])
		return exitUsage
	}
	printCommandHelp(env.stdout, cmd)
	return exitOK
}

// printCommandHelp prints a command's usage and description.
func printCommandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", cmd.usage, cmd.summary)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "bld builds the targets that BUILD.star files declare.\n\nusage: bld COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, firstLine(commands[n].summary))
	}
	fmt.Fprintln(w, "  help     show help for a command: bld help COMMAND")
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
