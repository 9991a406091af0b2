package main

import (
	"context"

	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"bld/exec/cache"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/jobserver"
	"bld/exec/sandbox"
	"bld/exec/status"
	"bld/exec/store"
	"bld/starlark/analysis"
	"bld/starlark/label"
	"bld/starlark/snapshot"
	"bld/starlark/workspace"
)

var buildCommand = &command{
	summary: `build targets and everything they depend on

Builds the targets named by the patterns (//pkg:name, //pkg:all, //pkg/...,
//..., or relative to the working directory: :name, sub/...). Outputs go to
bld-out/ at the workspace root. An action whose command line and inputs are
unchanged since it last succeeded, and whose outputs are intact, does not
run again.

Results are kept in the action cache, shared by every checkout of the user
(docs/cache.md): a build after bld clean, or in a second checkout, restores
outputs from it instead of running actions.

flags:
  -j N             run at most N jobs at once, counting the jobs that make,
                   cargo and other jobserver clients start inside actions
                   (default: the number of CPUs; under a parent make or
                   cargo, its jobserver's tokens instead)
  -k               keep going after a failure with what does not depend on it
  --events FILE    write one JSON object per action to FILE (docs/events.md)
  --explain        say for each action that runs why it runs
  --cache-dir DIR  the action cache (default: $BLD_CACHE_DIR, else
                   $XDG_CACHE_HOME/bld, else ~/.cache/bld)
  --action_env=NAME[=VALUE]
                   give actions the variable NAME (its value in bld's
                   environment, or VALUE); repeatable; it enters their keys
  --sandbox MODE   how actions are isolated (docs/hermeticity.md): auto
                   (default: namespace where it works, else symlinks),
                   namespace (Linux user+mount namespace; the exec root is
                   always /tmp/bld-sandbox/execroot), symlinks (a private
                   directory of links to the declared inputs), or off (run
                   in the workspace root, as before)
  --nobuild        load and analyze, check the action graph, run nothing
  --cpuprofile F   write a Go CPU profile of bld itself to F (for bld's developers)`,
	usage: "bld build [-j N] [-k] [--events FILE] [--explain] [--cache-dir DIR] [--sandbox MODE] PATTERN...",
	run:   runBuild,
}

type buildFlags struct {
	jobs      int
	keepGoing bool
	events    string
	explain   bool
	cacheDir  string
	profile   string
	noBuild   bool
	actionEnv stringsFlag
	sandbox   string
}

func runBuild(ctx context.Context, env *environment, args []string) error {
	start := time.Now()
	var f buildFlags
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.IntVar(&f.jobs, "j", runtime.NumCPU(), "")
	fs.BoolVar(&f.keepGoing, "k", false, "")
	fs.StringVar(&f.events, "events", "", "")
	fs.BoolVar(&f.explain, "explain", false, "")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "")
	fs.StringVar(&f.profile, "cpuprofile", "", "")
	fs.BoolVar(&f.noBuild, "nobuild", false, "")
	fs.Var(&f.actionEnv, "action_env", "")
	fs.StringVar(&f.sandbox, "sandbox", "auto", "")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	sandboxMode, err := sandbox.ParseMode(f.sandbox)
	if err != nil {
		return usageError("--sandbox: " + err.Error())
	}
	if f.profile != "" {
		stop, err := startProfile(f.profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if f.jobs < 1 {
		return usageError(fmt.Sprintf("-j %d: need at least 1", f.jobs))
	}
	s, err := openWorkspace(env)
	if err != nil {
		return err
	}
	// Whether the namespace sandbox works is tried while loading and
	// analysis run: the try starts a process, cheaper now than once bld
	// holds the action graph.
	sandboxModeResolved := resolveSandbox(ctx, s.root, sandboxMode)
	patterns, err := s.patterns(args)
	if err != nil {
		return err
	}
	stateDir := filepath.Join(s.root, filepath.FromSlash(workspace.StateDir))
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return err
	}
	base, err := actionEnv(env, f.actionEnv)
	if err != nil {
		return err
	}
	plan, err := s.analyze(ctx, env, base, patterns, stateDir)
	if err != nil {
		return err
	}
	if f.noBuild {
		fmt.Fprintf(env.stderr, "bld: analyzed: %d actions in the graph (%.2fs); --nobuild: nothing run\n",
			len(plan.graph.Actions), time.Since(start).Seconds())
		return nil
	}

	lockStart := time.Now()
	unlock, err := lockWorkspace(ctx, stateDir, env)
	if err != nil {
		return err
	}
	defer unlock()
	if waited := time.Since(lockStart); waited > lockPollInterval {
		start = start.Add(waited) // the build's time is not the other build's
	}
	processDir := filepath.Join(stateDir, "running")
	if err := os.MkdirAll(processDir, 0o755); err != nil {
		return err
	}
	if n, err := executor.KillLeftovers(processDir, s.root); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(env.stderr, "bld: killed %d command(s) left running by a build that was killed\n", n)
	}
	if err := sandbox.RemoveStale(s.root); err != nil {
		return err
	}
	// Outputs are restored and files written through this directory, so
	// that a build killed meanwhile leaves its temporary files here only.
	stagingDir := filepath.Join(stateDir, "staging")
	if err := sandbox.RemoveAll(stagingDir); err != nil {
		return fmt.Errorf("removing what a killed build left in %s: %w", stagingDir, err)
	}
	// The mode decides the action keys (a fixed exec root or not), so it
	// is settled before anything is checked.
	res := <-sandboxModeResolved
	if res.err != nil {
		return res.err
	}
	sandboxMode, sandboxes := res.mode, res.manager
	if res.fallback != "" {
		fmt.Fprintf(env.stderr, "bld: warning: actions run in a symlink sandbox, which does not hide absolute paths: %s\n", res.fallback)
	}
	cacheDir, err := resolveCacheDir(env, f.cacheDir)
	if err != nil {
		return err
	}
	display := status.New(env.stderr, env.isTerminal)
	st, err := store.Open(cacheDir, store.Options{})
	if err != nil {
		return fmt.Errorf("opening the action cache %s: %w", cacheDir, err)
	}
	ac, err := cache.Open(st, s.root, cache.Options{
		Explain:       f.explain,
		Warn:          display.Warn,
		FixedExecRoot: sandboxMode == sandbox.ModeNamespace,
		Sandboxed:     sandboxMode != sandbox.ModeOff,
		StagingDir:    stagingDir,
	})
	if err != nil {
		return fmt.Errorf("opening the action cache %s: %w", cacheDir, err)
	}
	display.Explain(f.explain)
	var observer executor.Observer = display
	var events *status.EventLog
	if f.events != "" {
		path := f.events
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.dir, path)
		}
		file, err := os.Create(path)
		if err != nil {
			return usageError(fmt.Sprintf("--events: %v", err))
		}
		defer file.Close()
		events = status.NewEventLog(file)
		observer = status.Multi(display, events)
	}
	pool, err := tokenPool(env, f.jobs, jobsSet(fs))
	if err != nil {
		return err
	}
	defer pool.Close()
	summary, runErr := executor.Run(ctx, plan.graph, plan.goals, executor.Options{
		Root:       s.root,
		KeepGoing:  f.keepGoing,
		Cache:      ac,
		Tokens:     pool,
		Observer:   observer,
		ProcessDir: processDir,
		StagingDir: stagingDir,
		LogDir:     filepath.Join(stateDir, "logs"),
		Sandbox:    sandboxMode,
		Sandboxes:  sandboxes,
	})
	closeErr := ac.Close()
	var eventsErr error
	if events != nil {
		eventsErr = events.Flush()
	}
	display.Summary(summary, time.Since(start))
	switch {
	case runErr != nil && ctx.Err() != nil:
		return ctx.Err()
	case runErr != nil:
		return errReported // the display has shown what failed
	case closeErr != nil:
		return fmt.Errorf("saving the action cache: %w", closeErr)
	case eventsErr != nil:
		return fmt.Errorf("--events: %w", eventsErr)
	}
	return nil
}

// sandboxResolution is the sandbox mode a build runs its actions in.
type sandboxResolution struct {
	manager  *sandbox.Manager // with the mode resolved
	mode     sandbox.Mode
	fallback string // why auto fell back to symlinks
	err      error
}

// resolveSandbox settles the mode asked for (auto tries a namespace) in
// the background; the channel receives the answer once.
func resolveSandbox(ctx context.Context, root string, mode sandbox.Mode) <-chan sandboxResolution {
	ch := make(chan sandboxResolution, 1)
	go func() {
		mgr := sandbox.NewManager(root, mode)
		m, fallback, err := mgr.Mode(ctx)
		ch <- sandboxResolution{manager: mgr, mode: m, fallback: fallback, err: err}
	}()
	return ch
}

// buildPlan is the action graph of a build and the actions it must bring up
// to date.
type buildPlan struct {
	graph *graph.Graph
	goals []int
}

// analyze loads and analyzes the targets the patterns name and checks the
// resulting action graph. When a snapshot of an earlier analysis of the same
// patterns is still valid (nothing it read has changed), it uses that
// instead, and loads and analyzes nothing (package snapshot).
func (s *session) analyze(ctx context.Context, env *environment, base []string, patterns []label.Pattern, stateDir string) (*buildPlan, error) {
	keyParts := append([]string{bldIdentity()}, base...)
	for _, p := range patterns {
		keyParts = append(keyParts, p.String())
	}
	key := snapshot.Key(keyParts...)
	snapPath := filepath.Join(stateDir, "analysis")
	snap, err := snapshot.Load(snapPath, key)
	if err != nil {
		return nil, err
	}
	if snap != nil && snap.Stale(s.root, env.lookup) == "" {
		return newPlan(snap.Actions, snap.Goals, workspace.NewView(s.root).IsFile)
	}

	labels, err := s.loader.Expand(ctx, patterns)
	if err != nil {
		return nil, err
	}
	an := analysis.New(s.loader, base, env.vars)
	var goals []string
	for _, l := range labels {
		c, err := an.Analyze(ctx, l)
		if err != nil {
			return nil, err
		}
		for _, f := range c.Files {
			if !f.IsSource {
				goals = append(goals, f.Path)
			}
		}
	}
	view := s.loader.View()
	plan, err := newPlan(an.Actions(), goals, view.IsFile)
	if err != nil {
		return nil, err
	}
	snap = &snapshot.Snapshot{Key: key, Reads: view.Reads(), Env: map[string]snapshot.EnvValue{}, Actions: an.Actions(), Goals: goals}
	for _, name := range an.EnvRead() {
		v, ok := env.lookup(name)
		snap.Env[name] = snapshot.EnvValue{Value: v, Set: ok}
	}
	if err := snapshot.Save(snapPath, snap); err != nil {
		fmt.Fprintf(env.stderr, "bld: warning: %v (the next build will analyze again)\n", err)
	}
	return plan, nil
}

// newPlan checks actions as a graph and finds the actions that produce the
// goal outputs.
func newPlan(actions []*graph.Action, goals []string, isFile graph.SourceChecker) (*buildPlan, error) {
	g, err := graph.New(actions, isFile)
	if err != nil {
		return nil, err
	}
	var ids []int
	seen := map[int]bool{}
	for _, out := range goals {
		if id, ok := g.Producer(out); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return &buildPlan{graph: g, goals: ids}, nil
}

// bldIdentity names this bld binary (its path, size and modification time),
// so that a snapshot made by another bld, with other built-in rules, does
// not apply.
func bldIdentity() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown " + version
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return exe + " " + version
	}
	return fmt.Sprintf("%s %d %d %s", exe, fi.Size(), fi.ModTime().UnixNano(), version)
}

// defaultPath is the PATH of actions when bld itself has none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// fixedEnv is the part of every action's environment that does not come
// from the user's: tools print and format the same way for everyone.
var fixedEnv = []string{"LANG=C", "TZ=UTC"}

// actionEnv is the base environment of every action: bld's PATH (so that
// toolchains outside /usr/bin keep working; it is not part of action keys,
// which hold what argv[0] resolves to instead), LANG=C and TZ=UTC, and the
// variables --action_env names (NAME takes bld's value, NAME=VALUE sets
// one; a later flag wins). Nothing else of the user's environment reaches
// actions unless a rule asks with env_inherit.
func actionEnv(env *environment, flags []string) ([]string, error) {
	path := env.getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	m := map[string]string{"PATH": path}
	for _, kv := range fixedEnv {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	for _, f := range flags {
		name, value, hasValue := strings.Cut(f, "=")
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return nil, usageError(fmt.Sprintf("--action_env=%s: want NAME or NAME=VALUE", f))
		}
		if !hasValue {
			v, ok := env.lookup(name)
			if !ok {
				delete(m, name) // unset in bld's environment: unset for actions
				continue
			}
			value = v
		}
		m[name] = value
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// resolveCacheDir returns the cache directory: the flag, else the default
// from the environment. A relative flag is taken from the working directory.
func resolveCacheDir(env *environment, flagValue string) (string, error) {
	if flagValue == "" {
		if x, ok := env.lookup("XDG_CACHE_HOME"); ok && x != "" && env.getenv("BLD_CACHE_DIR") == "" && !filepath.IsAbs(x) {
			fmt.Fprintf(env.stderr, "bld: warning: XDG_CACHE_HOME=%s is not an absolute path, so it is ignored (as the XDG spec says)\n", x)
		}
		return store.DefaultDir(env.vars)
	}
	if !filepath.IsAbs(flagValue) {
		flagValue = filepath.Join(env.dir, flagValue)
	}
	return flagValue, nil
}

// tokenPool returns the build's token pool: the jobserver of a parent make
// or cargo when bld runs under one (its tokens, not -j, then bound the
// build), else a jobserver of jobs tokens that bld serves to the actions
// that want one.
func tokenPool(env *environment, jobs int, jobsGiven bool) (*jobserver.Pool, error) {
	pool, joined, err := jobserver.FromEnv(env.vars)
	if err != nil {
		fmt.Fprintf(env.stderr, "bld: warning: %v\n", err)
	}
	if joined {
		if jobsGiven {
			fmt.Fprintf(env.stderr, "bld: warning: -j %d is ignored: bld runs under a parent jobserver (make or cargo), whose tokens bound the build\n", jobs)
		}
		return pool, nil
	}
	pool, err = jobserver.NewServer(jobs, "")
	if err != nil {
		return nil, fmt.Errorf("creating the jobserver: %w", err)
	}
	return pool, nil
}

// jobsSet reports whether -j was given on the command line.
func jobsSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "j" {
			set = true
		}
	})
	return set
}
