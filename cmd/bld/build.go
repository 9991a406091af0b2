package main

import (
	"bld/cmd/bld/internal/build"
	"context"

	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"bld/exec/buildlog"
	"bld/exec/crash"
	"bld/exec/executor"
	"bld/exec/jobserver"
	"bld/exec/sandbox"
	"bld/exec/status"
	"bld/exec/store"
	"bld/starlark/analysis"
	"bld/starlark/label"
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
  --compile_commands
                   write compile_commands.json at the workspace root (for
                   clangd): the compile command of each C/C++ source the
                   patterns need, partitions' members included; with
                   --nobuild, without building
  --timings        write bld-out/timings.html: a self-contained report of
                   where the time went (every action on its lane, the
                   critical path, the actions running, ready and waiting
                   over time with the jobserver's tokens in use, the
                   CPUs' use, tables per mnemonic and per target)
  --trace FILE     write a Chrome trace (JSON; open it in ui.perfetto.dev or
                   chrome://tracing) of the build's phases and actions
  -s, --subcommands
                   print each command, quoted for a POSIX shell, as it starts
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
` + configHelp + `
` + remoteHelp + `
  --from-stage S   start the pipelines built at their stage S: skip the
                   stages it depends on and take their products from
                   --stage-input (docs/rules.md#stages)
  --stage-input NAME=PATH
                   the product NAME of a skipped stage: a file, or a
                   directory of files (a profile set); repeatable
  --rerun-stage S  run the actions of stage S even if the cache has their
                   result (training runs are not hermetic); repeatable
  --nobuild        load and analyze, check the action graph, run nothing
  --max_eval_memory SIZE
                   stop evaluating BUILD.star files and rules when bld's
                   heap grows past SIZE (default 4GiB; 0: no bound)
  --cpuprofile F   write a Go CPU profile of bld itself to F (for bld's developers)
  --memprofile F   write a Go profile of bld's allocations to F at the end`,
	usage: "bld build [-j N] [-k] [-s] [--events FILE] [--explain] [--trace FILE] [--timings] [--compile_commands] [--cache-dir DIR] [--sandbox MODE] [-c MODE] [--remote_cache URL] [--remote_executor URL] [--from-stage S --stage-input NAME=PATH...] [--rerun-stage S] PATTERN...",
	run:   runBuild,
}

type buildFlags struct {
	jobs      int
	keepGoing bool
	events    string
	trace     string
	compdb    bool
	timings   bool
	explain   bool
	subcmds   bool
	cacheDir  string
	profile   string
	noBuild   bool
	actionEnv stringsFlag
	sandbox   string
	fromStage string
	stageIn   stringsFlag
	rerun     stringsFlag
}

func runBuild(ctx context.Context, env *environment, args []string) error {
	_, err := doBuild(ctx, env, args, nil)
	return err
}

// A buildExtension is what bld test and bld run add to bld build: they
// take its flags and run its pipeline (doBuild), with more.
type buildExtension struct {
	command string // for the flag set
	// addFlags registers the command's own flags; the function it returns
	// checks them once they are parsed.
	addFlags func(fs *flag.FlagSet) (check func() error)
	// tests, when not nil (set by check), runs the test targets.
	tests *analysis.TestOptions
	// fresh analyzes without the snapshot, so that the plan knows each
	// target's program (buildPlan.executables).
	fresh bool
	// observer, if not nil, hears about every action too.
	observer executor.Observer
}

// buildResult is what build did.
type buildResult struct {
	root string
	plan *build.Plan
}

// doBuild is bld build: it parses args (bld build's flags and patterns, and
// ext's), plans, and runs the plan. With ext nil it is bld build itself.
func doBuild(ctx context.Context, env *environment, args []string, ext *buildExtension) (*buildResult, error) {
	start := time.Now()
	traceStart := start // start moves past a wait for the lock; the trace shows it
	var f buildFlags
	command := "build"
	if ext != nil {
		command = ext.command
	}
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.IntVar(&f.jobs, "j", runtime.NumCPU(), "")
	fs.BoolVar(&f.keepGoing, "k", false, "")
	fs.StringVar(&f.events, "events", "", "")
	fs.StringVar(&f.trace, "trace", "", "")
	fs.BoolVar(&f.compdb, "compile_commands", false, "")
	fs.BoolVar(&f.timings, "timings", false, "")
	fs.BoolVar(&f.explain, "explain", false, "")
	fs.BoolVar(&f.subcmds, "s", false, "")
	fs.BoolVar(&f.subcmds, "subcommands", false, "")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "")
	fs.StringVar(&f.profile, "cpuprofile", "", "")
	memProfile := fs.String("memprofile", "", "")
	fs.BoolVar(&f.noBuild, "nobuild", false, "")
	fs.Var(&f.actionEnv, "action_env", "")
	fs.StringVar(&f.sandbox, "sandbox", "auto", "")
	cf := addConfigFlags(fs)
	rf := addRemoteFlags(fs)
	maxMemory := maxEvalMemoryFlag(fs)
	fs.StringVar(&f.fromStage, "from-stage", "", "")
	fs.Var(&f.stageIn, "stage-input", "")
	fs.Var(&f.rerun, "rerun-stage", "")
	var checkExt func() error
	if ext != nil && ext.addFlags != nil {
		checkExt = ext.addFlags(fs)
	}
	args, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if checkExt != nil {
		if err := checkExt(); err != nil {
			return nil, err
		}
	}
	cfg, err := cf.config()
	if err != nil {
		return nil, err
	}
	remoteSet, err := rf.settings()
	if err != nil {
		return nil, err
	}
	stageInputs, err := parseStageInputs(env, f.fromStage, f.stageIn)
	if err != nil {
		return nil, err
	}
	sandboxMode, err := sandbox.ParseMode(f.sandbox)
	if err != nil {
		return nil, usageError("--sandbox: " + err.Error())
	}
	if *memProfile != "" {
		defer func() {
			if err := writeHeapProfile(*memProfile); err != nil {
				fmt.Fprintf(env.stderr, "bld: %v\n", err)
			}
		}()
	}
	if f.profile != "" {
		stop, err := startProfile(f.profile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	if f.jobs < 1 {
		return nil, usageError(fmt.Sprintf("-j %d: need at least 1", f.jobs))
	}
	s, err := openWorkspace(env, int64(*maxMemory))
	if err != nil {
		return nil, err
	}
	// Whether the namespace sandbox works is tried while loading and
	// analysis run: the try starts a process, cheaper now than once bld
	// holds the action graph.
	sandboxModeResolved := resolveSandbox(ctx, s.root, sandboxMode)
	// So is the connection to remote services, which may take a round trip
	// or, for one that does not answer, a few seconds.
	remoteReady := remoteSet.dial(ctx)
	var remotes remoteClients
	remotesReceived := false
	defer func() {
		if remotesReceived {
			remotes.close()
			return
		}
		// The build stopped before it needed them: close them once
		// they are made, without waiting.
		crash.Go(func() { (<-remoteReady).close() })
	}()
	patterns, err := s.patterns(args)
	if err != nil {
		return nil, err
	}
	paths := build.Layout{Root: s.root}
	stateDir := paths.StateDir()
	if err := paths.MakeOutputDir(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	base, err := actionEnv(env, f.actionEnv)
	if err != nil {
		return nil, err
	}
	var readAhead *build.ReadAhead
	var unlock func() // the workspace lock's, once this build holds it
	if !f.noBuild {
		// The workspace lock is taken now when no other bld holds it,
		// rather than once analysis is done, and the workspace
		// prepared: then what the build reads ahead includes the stats
		// of the outputs, which only hold while no other build writes
		// them (build.StartReadAhead). When another bld holds it, this
		// one analyzes meanwhile and waits for it below, as before.
		if unlock, err = tryLockWorkspace(paths.LockFile()); err != nil {
			return nil, err
		}
		if unlock != nil {
			defer unlock()
			if err := prepareWorkspace(env, paths); err != nil {
				return nil, err
			}
		}
		// No collection while the snapshot, the graph and the record
		// load, the record read while the snapshot loads: at a no-op,
		// nearly all of it stays live (a build that analyzes lets it go).
		readAhead = build.StartReadAhead(paths, unlock != nil)
	}
	cfg.CC, cfg.CXX = compilersOf(base)
	var traceFile *os.File
	if f.trace != "" {
		// Created now, so that a path that cannot be written is a usage
		// error before anything runs, as for --events.
		traceFile, err = createRelative(env, f.trace)
		if err != nil {
			return nil, usageError(fmt.Sprintf("--trace: %v", err))
		}
		defer traceFile.Close()
	}
	var ph build.Phases
	ph.Add("starting", traceStart)
	req := analyzeRequest{cfg: cfg, base: base, patterns: patterns,
		snapPath: paths.AnalysisSnapshot(), keepGoing: f.keepGoing, ph: &ph, saveLater: !f.noBuild,
		readAhead: readAhead}
	if ext != nil {
		req.tests = ext.tests
		if ext.fresh {
			req.snapPath = ""
		}
	}
	plan, err := s.analyze(ctx, env, req)
	if err != nil {
		return nil, err
	}
	// The analysis snapshot is written while the actions run
	// (build.Request.SaveLater); the build ends once it is.
	defer waitSaved(env, plan)
	result := &buildResult{root: s.root, plan: plan}
	if f.compdb {
		// Written before anything is built, so that an editor gets it
		// even when the build fails.
		if _, err := writeCompileCommands(paths.CompileCommands(), s.root, plan); err != nil {
			return nil, fmt.Errorf("--compile_commands: %w", err)
		}
	}
	if f.noBuild {
		fmt.Fprintf(env.stderr, "bld: analyzed: %d actions in the graph (%.2fs); --nobuild: nothing run\n",
			len(plan.Graph.Actions), time.Since(start).Seconds())
		// The trace and the report show the phases only: no action ran.
		if traceFile != nil {
			if err := writeTrace(traceFile, status.NewTrace(traceStart, ph.List, nil)); err != nil {
				return nil, fmt.Errorf("--trace: %w", err)
			}
		}
		if f.timings {
			report := paths.TimingsReport()
			if err := writeTimings(report, &status.Timings{Title: strings.Join(args, " "), Start: traceStart,
				Elapsed: time.Since(traceStart), Jobs: f.jobs, Phases: ph.List}); err != nil {
				return nil, fmt.Errorf("--timings: %w", err)
			}
			fmt.Fprintf(env.stderr, "bld: timings: %s\n", report)
		}
		if plan.AnalysisErrors > 0 {
			return nil, errReported
		}
		return result, nil
	}

	lockStart := time.Now()
	prepared := unlock != nil // taken and prepared as the build started
	if !prepared {
		if unlock, err = lockWorkspace(ctx, paths.LockFile(), env); err != nil {
			return nil, err
		}
		defer unlock()
	}
	ph.Add("waiting for the workspace lock", lockStart)
	if waited := time.Since(lockStart); waited > lockPollInterval {
		start = start.Add(waited) // the build's time is not the other build's
	}
	if !prepared {
		if err := prepareWorkspace(env, paths); err != nil {
			return nil, err
		}
	}
	if f.fromStage != "" {
		if plan, err = startAtStage(env, s.root, plan, f.fromStage, stageInputs); err != nil {
			return nil, err
		}
	}
	// The mode decides the action keys (a fixed exec root or not), so it
	// is settled before anything is checked.
	sres := <-sandboxModeResolved
	if sres.err != nil {
		return nil, sres.err
	}
	sandboxMode, sandboxes := sres.mode, sres.manager
	// The sandbox's zygote, if the build started one, exits when the
	// build is over, and is waited for: its commands' CPU time then
	// counts as bld's children's.
	defer func() {
		if err := sandboxes.Close(); err != nil {
			fmt.Fprintf(env.stderr, "bld: warning: %v\n", err)
		}
	}()
	if sres.fallback != "" {
		fmt.Fprintf(env.stderr, "bld: warning: actions run in a symlink sandbox, which does not hide absolute paths: %s\n", sres.fallback)
	}
	cacheDir, err := resolveCacheDir(env, f.cacheDir)
	if err != nil {
		return nil, err
	}
	display := status.New(env.stderr, env.isTerminal)
	remotes, remotesReceived = <-remoteReady, true
	for _, w := range remotes.warnings {
		display.Warn(w)
	}
	display.Explain(f.explain)
	stages := status.NewStageTable()
	display.Subcommands(f.subcmds)
	display.Color(useColor(env))
	// The build log orders the ready actions and estimates the time left;
	// it is an optimization, so a log that cannot be read only warns.
	buildLog, err := buildlog.Open(paths.BuildLog())
	if err != nil {
		display.Warn(err.Error())
	}
	display.Estimates(buildLog.Duration, f.jobs)
	observers := []executor.Observer{display, stages, buildLog}
	if ext != nil && ext.observer != nil {
		observers = append(observers, ext.observer)
	}
	var events *status.EventLog
	if f.events != "" {
		file, err := createRelative(env, f.events)
		if err != nil {
			return nil, usageError(fmt.Sprintf("--events: %v", err))
		}
		defer file.Close()
		events = status.NewEventLog(file)
		observers = append(observers, events)
	}
	pool, err := tokenPool(env, f.jobs, jobsSet(fs))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var timeline *status.Timeline
	if f.trace != "" || f.timings {
		timeline = &status.Timeline{}
		observers = append(observers, timeline)
	}
	download := remoteSet.Download
	if download == build.DownloadMinimal && ext != nil && ext.command == "run" {
		download = build.DownloadToplevel // bld run runs the program here
	}
	// --timings samples the CPUs and the token pool while the actions
	// run; nothing is sampled without it.
	var usage status.Usage
	stopSampling := func() {}
	if f.timings {
		stop := status.Sample(ctx, timingsSampleEvery, pool.InUse)
		stopSampling = func() { usage = stop() }
	}
	execStart := time.Now()
	outcome, err := build.Execute(ctx, plan, build.ExecOptions{
		Layout:    paths,
		CacheDir:  cacheDir,
		Explain:   f.explain,
		Rerun:     rerunStages(f.rerun),
		Sandbox:   sandboxMode,
		Sandboxes: sandboxes,
		Tokens:    pool,
		Observer:  status.Multi(observers...),
		KeepGoing: f.keepGoing,
		BuildLog:  buildLog,
		Warn:      display.Warn,
		ReadAhead: readAhead,
		Remote: build.Remote{Cache: remotes.cache, Upload: remoteSet.Upload, Exec: remotes.exec,
			Jobs: remoteSet.Jobs, Ship: remoteSet.Ship, Download: download, TakeBackAfter: remoteSet.TakeBackAfter},
		CommandEnded: display.CommandEnded,
	})
	stopSampling()
	if err != nil {
		return nil, err
	}
	ph.Add("execution", execStart)
	summary, runErr, closeErr := outcome.Summary, outcome.RunErr, outcome.CloseErr
	var eventsErr error
	if events != nil {
		eventsErr = events.Flush()
	}
	stages.Print(env.stderr)
	display.Summary(summary, time.Since(start))
	remotes.printSummary(env.stderr, outcome.RemoteHits, outcome.RemoteRan, outcome.RemoteExecCached, summary.TakenBack)
	var traceErr, timingsErr error
	if traceFile != nil {
		traceErr = writeTrace(traceFile, status.NewTrace(traceStart, ph.List, timeline.Results()))
	}
	if f.timings {
		report := paths.TimingsReport()
		planned, plannedAt := timeline.Plan()
		timingsErr = writeTimings(report, &status.Timings{
			Title: strings.Join(args, " "), Start: traceStart, Elapsed: time.Since(traceStart),
			Jobs: f.jobs, Phases: ph.List, Results: timeline.Results(),
			Planned: planned, PlannedAt: plannedAt, Usage: usage,
		})
		if timingsErr == nil {
			fmt.Fprintf(env.stderr, "bld: timings: %s\n", report)
		}
	}
	switch {
	case runErr != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case runErr != nil:
		return result, errReported // the display has shown what failed
	case plan.AnalysisErrors > 0:
		fmt.Fprintf(env.stderr, "bld: build failed: %d analysis error(s), reported above; -k built the rest\n", plan.AnalysisErrors)
		return nil, errReported
	case closeErr != nil:
		return nil, closeErr
	case eventsErr != nil:
		return nil, fmt.Errorf("--events: %w", eventsErr)
	case traceErr != nil:
		return nil, fmt.Errorf("--trace: %w", traceErr)
	case timingsErr != nil:
		return nil, fmt.Errorf("--timings: %w", timingsErr)
	}
	return result, nil
}

// timingsSampleEvery is how often --timings samples the CPUs' use and the
// token pool's (status.Sample): /proc/stat counts in 10 ms ticks, so 100
// ms on 2 CPUs resolves 5% of them.
const timingsSampleEvery = 100 * time.Millisecond

// createRelative creates (or truncates) the file at path, relative to the
// working directory.
func createRelative(env *environment, path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(env.dir, path)
	}
	return os.Create(path)
}

// writeTimings writes the HTML report t to path atomically, so that a
// browser never shows half a report.
func writeTimings(path string, t *status.Timings) error {
	return store.WriteFileFrom(path, "", 0o644, t.WriteHTML)
}

// writeTrace writes tr to f and closes it.
func writeTrace(f *os.File, tr *status.Trace) error {
	if err := tr.Write(f); err != nil {
		return err
	}
	return f.Close()
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
	crash.Go(func() {
		mgr := sandbox.NewManager(root, mode)
		mgr.RememberProbe(build.Layout{Root: root}.SandboxProbe())
		m, fallback, err := mgr.Mode(ctx)
		ch <- sandboxResolution{manager: mgr, mode: m, fallback: fallback, err: err}
	})
	return ch
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

// analyzeRequest is what a command asks build.Analyze for.
type analyzeRequest struct {
	cfg       analysis.Config
	base      []string // the actions' base environment
	patterns  []label.Pattern
	snapPath  string // "" for no snapshot
	keepGoing bool
	tests     *analysis.TestOptions
	ph        *build.Phases
	// saveLater leaves the snapshot's write to run beside what follows
	// (build.Request.SaveLater); the caller waits with waitSaved.
	saveLater bool
	// readAhead is what the build readied before analysis, if anything
	// (build.Request.ReadAhead).
	readAhead *build.ReadAhead
}

// waitSaved waits for the analysis snapshot of plan to be written
// (build.Plan.WaitSaved) and warns when it could not be.
func waitSaved(env *environment, plan *build.Plan) {
	if err := plan.WaitSaved(); err != nil {
		fmt.Fprintf(env.stderr, "bld: warning: %v (the next build will analyze again)\n", err)
	}
}

// analyzeForQuery plans what a query of patterns looks at: with the
// default action environment, and without the snapshot (a query's
// patterns would replace the build's).
func (s *session) analyzeForQuery(ctx context.Context, env *environment, cfg analysis.Config, patterns []label.Pattern) (*build.Plan, error) {
	base, err := actionEnv(env, nil)
	if err != nil {
		return nil, err
	}
	return s.analyze(ctx, env, analyzeRequest{cfg: cfg, base: base, patterns: patterns})
}

// analyze plans a build of the session's workspace (build.Analyze).
func (s *session) analyze(ctx context.Context, env *environment, req analyzeRequest) (*build.Plan, error) {
	return build.Analyze(ctx, build.Request{
		Loader: s.loader, Config: req.cfg, Base: req.base, Patterns: req.patterns,
		HostEnv: env.vars, Lookup: env.lookup, SnapPath: req.snapPath, KeepGoing: req.keepGoing,
		Tests: req.tests, Phases: req.ph, Identity: bldIdentity(), Stderr: env.stderr,
		SaveLater: req.saveLater, ReadAhead: req.readAhead,
	})
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
