// Package loading evaluates BUILD.star and .star files into packages of
// targets. It provides the load-time builtins (rule, attr, provider,
// DefaultInfo, depset, glob, ...) and a load cache that is safe under
// concurrent package evaluation and reports load cycles.
//
// Analysis (running rule implementations) is package analysis's job.
package loading

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"

	"bld/starlark/label"
	"bld/starlark/structs"
	"bld/starlark/workspace"
)

// Thread-local keys.
const (
	moduleKey  = "bld.module"  // label.Label of the file being evaluated
	packageKey = "bld.package" // *packageBuilder while a BUILD.star runs
)

// PreludeLabel is the built-in file whose public globals every BUILD.star
// sees without a load: genrule, filegroup, cc_unit, cc_binary.
var PreludeLabel = label.Label{Repo: label.BuiltinRepo, Pkg: "rules", Name: "prelude.star"}

// DefaultMaxSteps bounds the Starlark execution steps of one file or one
// rule implementation, so that a runaway loop ends with an error.
const DefaultMaxSteps = 100_000_000

// FileOptions is the Starlark dialect of bld files.
var FileOptions = &syntax.FileOptions{Set: true, TopLevelControl: true, While: true, Recursion: true}

// Options configure a Loader.
type Options struct {
	// Root is the absolute workspace root.
	Root string
	// View reads the workspace and remembers what was read; nil means a
	// new View of Root.
	View *workspace.View
	// Builtins holds the files of the built-in package @bld//rules, at
	// their names (cc.star, ...).
	Builtins fs.FS
	// MaxSteps bounds each evaluation; 0 means DefaultMaxSteps.
	MaxSteps uint64
	// MaxMemory bounds bld's Go heap while WatchMemory watches: past it,
	// running Starlark threads are cancelled. 0 or less watches nothing
	// (bld passes DefaultMaxMemory unless --max_eval_memory says
	// otherwise).
	MaxMemory int64
	// Print receives print() output; nil discards it.
	Print func(thread *starlark.Thread, msg string)
}

// A Loader loads packages and .star modules, each once. It is safe for
// concurrent use.
type Loader struct {
	opts     Options
	view     *workspace.View
	mu       sync.Mutex
	modules  map[label.Label]*moduleEntry
	packages map[string]*packageEntry
	base     starlark.StringDict // predeclared in every file
	threads  threads             // running, for the memory watchdog
	// loads maps each workspace file evaluated to the workspace .star
	// files it loaded (PackageFiles).
	loads map[string][]string
	// starlarkOnly evaluates every BUILD.star with Starlark, declarative
	// or not (tests compare the two).
	starlarkOnly bool
}

type moduleEntry struct {
	done    chan struct{}
	owner   *loadChain
	globals starlark.StringDict
	err     error
	// interrupted says the evaluation was cut short by its caller's
	// context: the entry is no longer in the loader's map, and a waiter
	// whose own context is alive evaluates the module again.
	interrupted bool
}

// closedDone is the done channel of every released entry: closed, as
// LoadedPackages expects of a package loaded without error.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

type packageEntry struct {
	done chan struct{}
	pkg  *Package
	err  error
	// released marks the entry Release put in place of a loaded one: it
	// holds no package, and the next LoadPackage evaluates the package
	// again. Release never writes to the entry it replaces, whose fields
	// waiters read without the lock once done is closed.
	released bool
	// interrupted: as moduleEntry's.
	interrupted bool
}

// A loadChain is one goroutine's stack of modules being loaded. waitingFor
// is the module it is blocked on, if another goroutine is loading it; the
// loader follows owner -> waitingFor links to find cycles across goroutines.
type loadChain struct {
	stack      []label.Label
	waitingFor *moduleEntry
}

// New returns a Loader.
func New(opts Options) *Loader {
	if opts.MaxSteps == 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	if opts.View == nil {
		opts.View = workspace.NewView(opts.Root)
	}
	l := &Loader{
		opts:     opts,
		view:     opts.View,
		modules:  map[label.Label]*moduleEntry{},
		packages: map[string]*packageEntry{},
		loads:    map[string][]string{},
	}
	l.base = starlark.StringDict{
		"rule":          starlark.NewBuiltin("rule", ruleBuiltin),
		"attr":          newAttrModule(),
		"provider":      starlark.NewBuiltin("provider", providerBuiltin),
		"DefaultInfo":   DefaultInfo,
		"depset":        starlark.NewBuiltin("depset", depsetBuiltin),
		"struct":        starlark.NewBuiltin("struct", structs.Make),
		"Label":         starlark.NewBuiltin("Label", labelBuiltin),
		"glob":          starlark.NewBuiltin("glob", l.globBuiltin),
		"package_name":  starlark.NewBuiltin("package_name", packageNameBuiltin),
		"select":        starlark.NewBuiltin("select", selectBuiltin),
		"package":       starlark.NewBuiltin("package", packageBuiltin),
		"exports_files": starlark.NewBuiltin("exports_files", exportsFilesBuiltin),
	}
	return l
}

// Root returns the workspace root.
func (l *Loader) Root() string { return l.opts.Root }

// Forget drops the packages and modules loaded so far, so that the memory
// they hold can be reclaimed once their users are done (bld forgets them
// when analysis is over). A later load evaluates the files again.
func (l *Loader) Forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.modules = map[label.Label]*moduleEntry{}
	l.packages = map[string]*packageEntry{}
}

// Release drops the loader's reference to package pkg, loaded without
// error, once its caller needs none of its targets any more (an analysis
// that has analyzed all of them), so that their attributes can be
// collected. LoadPackage evaluates a released package again (the same
// package: evaluation is deterministic); LoadedPackages still lists it.
// Release does nothing to a package not loaded, being loaded, or that
// failed to load.
func (l *Loader) Release(pkg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.packages[pkg]
	if !ok || e.released {
		return
	}
	select {
	case <-e.done:
		if e.err == nil {
			l.packages[pkg] = &packageEntry{done: closedDone, released: true}
		}
	default:
	}
}

// View returns the view through which the loader reads the workspace.
func (l *Loader) View() *workspace.View { return l.view }

// LoadPackage evaluates the BUILD.star of package pkg, once; later and
// concurrent calls share the result.
//
// An evaluation that fails because its ctx ended (an analysis cancelled
// when another target failed, say) is not remembered: the next call
// evaluates the package again, and so does a concurrent caller whose own
// ctx is alive, rather than reporting an interruption that was not its own.
func (l *Loader) LoadPackage(ctx context.Context, pkg string) (*Package, error) {
	for {
		l.mu.Lock()
		e, ok := l.packages[pkg]
		if ok && e.released {
			ok = false
		}
		if !ok {
			e = &packageEntry{done: make(chan struct{})}
			l.packages[pkg] = e
		}
		l.mu.Unlock()
		if !ok {
			// The results are returned from locals: once done is closed,
			// the entry may be replaced by Release at any moment.
			loaded, err := l.evalPackage(ctx, pkg)
			e.pkg, e.err = loaded, err
			if err != nil && ctx.Err() != nil {
				l.mu.Lock()
				e.interrupted = true
				if l.packages[pkg] == e {
					delete(l.packages, pkg)
				}
				l.mu.Unlock()
			}
			close(e.done)
			return loaded, err
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !e.interrupted {
			return e.pkg, e.err
		}
	}
}

func (l *Loader) evalPackage(ctx context.Context, pkg string) (*Package, error) {
	file := workspace.BuildFile
	if pkg != "" {
		file = pkg + "/" + workspace.BuildFile
	}
	src, err := l.view.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Only on the way to an error, so not recorded for the snapshot.
			_, err := os.Stat(filepath.Join(l.opts.Root, filepath.FromSlash(pkg)))
			return nil, &NoSuchPackageError{Pkg: pkg, NoDir: errors.Is(err, fs.ErrNotExist)}
		}
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	chain := &loadChain{}
	prelude, err := l.loadModule(ctx, chain, PreludeLabel)
	if err != nil {
		return nil, fmt.Errorf("loading the built-in rules: %w", err)
	}
	if !l.starlarkOnly {
		if p, ok := l.evalDeclarative(ctx, chain, file, pkg, src, prelude); ok {
			return p, nil
		}
	}
	predeclared := make(starlark.StringDict, len(l.base)+len(prelude))
	for k, v := range l.base {
		predeclared[k] = v
	}
	for k, v := range prelude {
		if !strings.HasPrefix(k, "_") {
			predeclared[k] = v
		}
	}
	p := &Package{Path: pkg, File: file, Targets: map[string]*Target{}, Outputs: map[string]*Target{}}
	thread := l.newThread(ctx, chain, label.Label{Pkg: pkg, Name: workspace.BuildFile})
	thread.SetLocal(packageKey, &packageBuilder{pkg: p})
	defer cancelOnDone(ctx, thread)()
	l.threads.add(thread, file, nil)
	defer l.threads.remove(thread)
	if _, err := starlark.ExecFileOptions(FileOptions, thread, file, src, predeclared); err != nil {
		return nil, evalError(syntaxError(err, src))
	}
	return p, nil
}

// evalDeclarative evaluates a declarative BUILD.star (declarativeCalls)
// without Starlark: the same package, in a fraction of the time. ok is false
// when the file is not declarative, a load or a call fails, or a loaded name
// is not a rule; Starlark evaluates the file then, and reports the error.
// Its loads are those Starlark's thread.Load makes (newThread), in the same
// order, through chain; they are recorded (recordLoad) only when ok, and
// Starlark records them otherwise.
func (l *Loader) evalDeclarative(ctx context.Context, chain *loadChain, file, pkg string, src []byte, prelude starlark.StringDict) (*Package, bool) {
	from := label.Label{Pkg: pkg, Name: workspace.BuildFile}
	var (
		loaded []label.Label             // the modules, in order
		locals map[string]starlark.Value // the names loads bound
	)
	load := func(module string, to, names []string) bool {
		m, err := moduleLabel(module, from)
		if err != nil {
			return false
		}
		globals, err := l.loadModule(ctx, chain, m)
		if err != nil {
			return false
		}
		loaded = append(loaded, m)
		if locals == nil {
			locals = map[string]starlark.Value{}
		}
		for i, name := range names {
			v, ok := globals[name]
			if !ok {
				return false
			}
			locals[to[i]] = v
		}
		return true
	}
	rule := func(name string) (*Rule, bool) {
		if v, ok := locals[name]; ok {
			r, ok := v.(*Rule) // a macro, a function: Starlark's
			return r, ok
		}
		if strings.HasPrefix(name, "_") {
			return nil, false
		}
		if _, ok := l.base[name]; ok {
			return nil, false // the base's builtins are no rules
		}
		r, ok := prelude[name].(*Rule)
		return r, ok
	}
	// About a target per call, a call per "(" (a hint: one more
	// growth of the maps is all a wrong guess costs).
	n := bytes.Count(src, []byte("("))
	p := &Package{Path: pkg, File: file, Targets: make(map[string]*Target, n), Outputs: make(map[string]*Target, n)}
	pb := &packageBuilder{pkg: p}
	declare := func(r *Rule, pos syntax.Position, kwargs []starlark.Tuple) bool {
		return r.declare(pb, pos, kwargs) == nil
	}
	if !declarativeCalls(&file, src, load, rule, declare) {
		return nil, false
	}
	for _, m := range loaded {
		l.recordLoad(from.Path(), m)
	}
	return p, true
}

// LoadModule loads a .star file and returns its globals.
func (l *Loader) LoadModule(ctx context.Context, m label.Label) (starlark.StringDict, error) {
	return l.loadModule(ctx, &loadChain{}, m)
}

func (l *Loader) loadModule(ctx context.Context, chain *loadChain, m label.Label) (starlark.StringDict, error) {
	if !strings.HasSuffix(m.Name, ".star") {
		return nil, fmt.Errorf("cannot load %s: only .star files can be loaded", m)
	}
	for {
		globals, again, err := l.loadModuleOnce(ctx, chain, m)
		if !again {
			return globals, err
		}
	}
}

// loadModuleOnce is loadModule's body; again says that the module was
// being loaded by another caller whose evaluation its context cut short,
// while ctx is alive: the caller tries again (and evaluates it itself).
func (l *Loader) loadModuleOnce(ctx context.Context, chain *loadChain, m label.Label) (globals starlark.StringDict, again bool, err error) {
	l.mu.Lock()
	e, ok := l.modules[m]
	if !ok {
		e = &moduleEntry{done: make(chan struct{}), owner: chain}
		l.modules[m] = e
		l.mu.Unlock()
		chain.stack = append(chain.stack, m)
		e.globals, e.err = l.evalModule(ctx, chain, m)
		chain.stack = chain.stack[:len(chain.stack)-1]
		l.mu.Lock()
		e.owner = nil
		if e.err != nil && ctx.Err() != nil {
			// Not remembered: see LoadPackage.
			e.interrupted = true
			if l.modules[m] == e {
				delete(l.modules, m)
			}
		}
		close(e.done)
		l.mu.Unlock()
		return e.globals, false, e.err
	}
	select {
	case <-e.done:
		l.mu.Unlock()
		return e.globals, e.interrupted && ctx.Err() == nil, e.err
	default:
	}
	// The module is being loaded. If its loader is, through the chain of
	// waits, waiting for us, waiting would deadlock: that is a cycle.
	for x := e; x != nil && x.owner != nil; x = x.owner.waitingFor {
		if x.owner == chain {
			l.mu.Unlock()
			return nil, false, loadCycleError(chain.stack, m)
		}
	}
	chain.waitingFor = e
	l.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
	}
	l.mu.Lock()
	chain.waitingFor = nil
	l.mu.Unlock()
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	return e.globals, e.interrupted, e.err
}

func loadCycleError(stack []label.Label, m label.Label) error {
	start := 0
	for i, s := range stack {
		if s == m {
			start = i
			break
		}
	}
	var names []string
	for _, s := range stack[start:] {
		names = append(names, s.String())
	}
	names = append(names, m.String())
	return fmt.Errorf("load cycle: %s; break it by moving what both files need into a third file", strings.Join(names, " -> "))
}

func (l *Loader) evalModule(ctx context.Context, chain *loadChain, m label.Label) (starlark.StringDict, error) {
	var src []byte
	var err error
	filename := m.Path()
	if m.Repo == label.BuiltinRepo {
		filename = "@bld//" + m.Pkg + ":" + m.Name
		if m.Pkg != "rules" || l.opts.Builtins == nil {
			return nil, fmt.Errorf("no built-in file %s (built-in rules live in @bld//rules)", m)
		}
		src, err = fs.ReadFile(l.opts.Builtins, m.Name)
	} else {
		src, err = l.view.ReadFile(m.Path())
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no such file %s (for %s)", filename, m)
		}
		return nil, fmt.Errorf("reading %s: %w", filename, err)
	}
	predeclared := l.base
	if m.Repo != label.BuiltinRepo {
		native, err := l.nativeModule(ctx, chain)
		if err != nil {
			return nil, err
		}
		predeclared = make(starlark.StringDict, len(l.base)+1)
		for k, v := range l.base {
			predeclared[k] = v
		}
		predeclared["native"] = native
	}
	thread := l.newThread(ctx, chain, m)
	defer cancelOnDone(ctx, thread)()
	l.threads.add(thread, filename, nil)
	defer l.threads.remove(thread)
	globals, err := starlark.ExecFileOptions(FileOptions, thread, filename, src, predeclared)
	if err != nil {
		return nil, evalError(syntaxError(err, src))
	}
	// Rules and providers take the name of the global they are bound to;
	// one bound to several takes the first name in sorted order, so that
	// the name (a target's kind, in errors and queries) is the same from
	// run to run, whatever the map's order.
	for _, name := range globals.Keys() {
		switch v := globals[name].(type) {
		case *Rule:
			if v.name == "" {
				v.name = name
			}
		case *Provider:
			if v.name == "" {
				v.name = name
			}
		}
	}
	return globals, nil
}

// nativeModule is the native struct of .star files: the built-in rules,
// glob and package_name, for macros.
func (l *Loader) nativeModule(ctx context.Context, chain *loadChain) (starlark.Value, error) {
	prelude, err := l.loadModule(ctx, chain, PreludeLabel)
	if err != nil {
		return nil, fmt.Errorf("loading the built-in rules: %w", err)
	}
	members := starlark.StringDict{"glob": l.base["glob"], "package_name": l.base["package_name"]}
	for k, v := range prelude {
		if !strings.HasPrefix(k, "_") {
			members[k] = v
		}
	}
	return &starlarkstruct.Module{Name: "native", Members: members}, nil
}

func (l *Loader) newThread(ctx context.Context, chain *loadChain, m label.Label) *starlark.Thread {
	thread := &starlark.Thread{
		Name: m.String(),
		Load: func(thread *starlark.Thread, module string) (starlark.StringDict, error) {
			target, err := moduleLabel(module, m)
			if err != nil {
				return nil, err
			}
			l.recordLoad(m.Path(), target)
			return l.loadModule(ctx, chain, target)
		},
		Print: l.opts.Print,
	}
	if thread.Print == nil {
		thread.Print = func(*starlark.Thread, string) {}
	}
	thread.SetLocal(moduleKey, m)
	thread.SetMaxExecutionSteps(l.opts.MaxSteps)
	return thread
}

// moduleLabel resolves the module string of a load statement in file from.
// Besides labels (//dir:file.star, :file.star, @bld//rules:cc.star) it
// accepts a path, //dir/file.star, naming the file directly.
func moduleLabel(module string, from label.Label) (label.Label, error) {
	if j := strings.Index(module, "//"); j >= 0 && strings.HasSuffix(module, ".star") && !strings.Contains(module, ":") {
		prefix, path := module[:j+2], module[j+2:]
		dir, file := "", path
		if i := strings.LastIndex(path, "/"); i >= 0 {
			dir, file = path[:i], path[i+1:]
		}
		module = prefix + dir + ":" + file
	}
	return label.Parse(module, from.Repo, from.Pkg)
}

// NewThread returns a thread for running Starlark code of the workspace
// outside loading (rule implementations; name says which), with the
// loader's limits, which ctx and the memory watchdog cancel; call the
// returned function done when the code has run. done reports whether the
// thread may be reused: passed as reuse to a later NewThread, it is made
// as new again (a thread of its own for each call, but the allocations of
// one, its stack's included, are not made again: this runs once per
// target analyzed). A thread whose done reported false must not be
// reused: ctx may cancel it still.
func (l *Loader) NewThread(ctx context.Context, name string, reuse *starlark.Thread) (thread *starlark.Thread, done func() (reusable bool)) {
	thread = l.resetThread(reuse, name)
	// One function to call when done, not one per thing to undo.
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") })
	l.threads.add(thread, name, nil)
	return thread, func() bool {
		l.threads.remove(thread)
		return stop()
	}
}

// resetThread returns reuse made as new, or a new thread if reuse is nil,
// named name.
func (l *Loader) resetThread(reuse *starlark.Thread, name string) *starlark.Thread {
	thread := reuse
	if thread == nil {
		thread = &starlark.Thread{}
		thread.Load = func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, fmt.Errorf("load() is only allowed at the top of a file")
		}
	}
	thread.Name = name
	thread.Print = l.PrintFunc()
	thread.Steps = 0
	thread.Uncancel()
	thread.SetMaxExecutionSteps(l.opts.MaxSteps)
	return thread
}

// A ThreadGroup makes threads as NewThread does, all cancelled when one
// context is done: one context.AfterFunc for the group rather than one
// per thread (analysis runs a thread per target: at 100,000 targets, the
// AfterFuncs were 160,000 objects and 14 MB). Its methods are safe for
// concurrent use.
type ThreadGroup struct {
	l    *Loader
	ctx  context.Context
	stop func() bool
}

// NewThreadGroup returns a group whose threads are cancelled when ctx is
// done, until Close.
func (l *Loader) NewThreadGroup(ctx context.Context) *ThreadGroup {
	g := &ThreadGroup{l: l, ctx: ctx}
	g.stop = context.AfterFunc(ctx, func() { l.threads.cancelGroup(g, "interrupted") })
	return g
}

// Close stops watching the group's context: the threads running then
// are no longer cancelled when it is done. Call it once the group's
// threads have finished.
func (g *ThreadGroup) Close() { g.stop() }

// NewThread returns a thread as Loader.NewThread does, cancelled when
// the group's context is done (at once if it is already), until Done.
func (g *ThreadGroup) NewThread(name string, reuse *starlark.Thread) *starlark.Thread {
	thread := g.l.resetThread(reuse, name)
	g.l.threads.add(thread, name, g)
	// Done before add, the context's cancellation did not see this
	// thread; done after, this sees it.
	if g.ctx.Err() != nil {
		thread.Cancel("interrupted")
	}
	return thread
}

// Done says that thread, which NewThread returned, has finished: the
// group no longer cancels it, and it may be passed to NewThread again.
func (g *ThreadGroup) Done(thread *starlark.Thread) {
	g.l.threads.remove(thread)
}

func discardPrint(*starlark.Thread, string) {}

// PrintFunc returns the function that receives the print() output of the
// threads NewThread makes: Options.Print, or one that discards it.
func (l *Loader) PrintFunc() func(*starlark.Thread, string) {
	if l.opts.Print == nil {
		return discardPrint
	}
	return l.opts.Print
}

// cancelOnDone cancels thread when ctx is done; the returned function stops
// watching.
func cancelOnDone(ctx context.Context, thread *starlark.Thread) func() {
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") })
	return func() { stop() }
}

// currentContext returns the repository and package of the file a thread is
// evaluating, against which relative labels resolve.
func currentContext(thread *starlark.Thread) (repo, pkg string) {
	if pb, ok := thread.Local(packageKey).(*packageBuilder); ok {
		return "", pb.pkg.Path
	}
	if m, ok := thread.Local(moduleKey).(label.Label); ok {
		return m.Repo, m.Pkg
	}
	return "", ""
}

// glob(include, exclude = [], allow_empty = True)
func (l *Loader) globBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var include, exclude *starlark.List
	allowEmpty := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "include", &include, "exclude?", &exclude, "allow_empty?", &allowEmpty); err != nil {
		return nil, err
	}
	pb, _ := thread.Local(packageKey).(*packageBuilder)
	if pb == nil {
		return nil, fmt.Errorf("glob: can only be called while a BUILD.star file is evaluated")
	}
	inc, err := stringsOf(include)
	if err != nil {
		return nil, fmt.Errorf("glob: include: %v", err)
	}
	exc, err := stringsOf(exclude)
	if err != nil {
		return nil, fmt.Errorf("glob: exclude: %v", err)
	}
	files, err := l.view.Glob(pb.pkg.Path, inc, exc)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 && !allowEmpty {
		return nil, fmt.Errorf("glob: %q matches no file in package //%s (pass allow_empty = True to accept that)", inc, pb.pkg.Path)
	}
	out := make([]starlark.Value, len(files))
	for i, f := range files {
		out[i] = starlark.String(f)
	}
	return starlark.NewList(out), nil
}

func packageNameBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
		return nil, err
	}
	pb, _ := thread.Local(packageKey).(*packageBuilder)
	if pb == nil {
		return nil, fmt.Errorf("package_name: can only be called while a BUILD.star file is evaluated")
	}
	return starlark.String(pb.pkg.Path), nil
}

func stringsOf(l *starlark.List) ([]string, error) {
	if l == nil {
		return nil, nil
	}
	out := make([]string, l.Len())
	for i := range out {
		s, ok := l.Index(i).(starlark.String)
		if !ok {
			return nil, fmt.Errorf("element %d is a %s, want string", i, l.Index(i).Type())
		}
		out[i] = string(s)
	}
	return out, nil
}
