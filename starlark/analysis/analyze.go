// Package analysis runs rule implementations over loaded targets and
// collects the actions they declare into an action graph.
//
// Each target is analyzed once, after the targets it depends on; its rule
// implementation gets a ctx (ctx.attr, ctx.files, ctx.actions, ...) and
// returns providers, which its dependents read as dep[Provider].
package analysis

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/workspace"
)

// A Configured target is the result of analyzing a target: its providers.
type Configured struct {
	Label label.Label
	// Target is nil for a source file.
	Target    *loading.Target
	Providers map[*loading.Provider]*loading.ProviderInstance
	// Files are the files of DefaultInfo: what building the target means.
	Files []*File
	// Executable is DefaultInfo.executable, or nil.
	Executable *File
	// Args is an executable target's args attribute with $(location L)
	// and its kin expanded (paths are workspace-relative, as the program
	// sees them under bld test and bld run), nil for other targets.
	Args []string
}

// An Analyzer analyzes targets, each once, and accumulates their actions.
// It is not safe for concurrent use.
type Analyzer struct {
	loader    *loading.Loader
	config    Config
	actionEnv []string
	hostEnv   map[string]string
	envRead   map[string]bool
	files     map[string]*File
	// outDirs maps each directory (under bld-out) that holds a declared
	// output to the first output declared beneath it; declarers maps the
	// owner of each declared output to its target, for positions.
	outDirs    map[string]*File
	declarers  map[label.Label]*loading.Target
	configured map[label.Label]*Configured
	// failed holds the error of each target whose analysis failed, so that
	// a later dependent gets the same error without analyzing it again.
	failed   map[label.Label]error
	active   map[label.Label]bool
	stack    []label.Label
	actions  []*graph.Action
	producer map[string]*graph.Action
	rec      recorder
}

// New returns an Analyzer for the configuration cfg. actionEnv is the base
// environment of every action ("KEY=value" entries, such as PATH); rules add
// their own. hostEnv is bld's own environment, from which actions take only
// the variables they name in env_inherit.
func New(loader *loading.Loader, cfg Config, actionEnv, hostEnv []string) *Analyzer {
	host := make(map[string]string, len(hostEnv))
	for _, kv := range hostEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			host[k] = v
		}
	}
	return &Analyzer{
		loader:     loader,
		config:     cfg,
		actionEnv:  actionEnv,
		hostEnv:    host,
		envRead:    map[string]bool{},
		files:      map[string]*File{},
		outDirs:    map[string]*File{},
		declarers:  map[label.Label]*loading.Target{},
		configured: map[label.Label]*Configured{},
		failed:     map[label.Label]error{},
		active:     map[label.Label]bool{},
		producer:   map[string]*graph.Action{},
		rec:        recorder{records: map[label.Label]*Record{}},
	}
}

// EnvRead returns the names of the variables of bld's environment that
// actions inherited (env_inherit), sorted: the action graph depends on their
// values.
func (a *Analyzer) EnvRead() []string {
	names := make([]string, 0, len(a.envRead))
	for n := range a.envRead {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Actions returns every action declared so far, in declaration order.
func (a *Analyzer) Actions() []*graph.Action { return a.actions }

// Analyze analyzes the target l and everything it depends on. After an
// error the Analyzer stays usable: it can analyze other targets (bld build
// -k), it keeps none of the failed target's actions, and a target that
// depends on a failed one returns the same error value, so that a caller
// reporting each distinct error says it once.
func (a *Analyzer) Analyze(ctx context.Context, l label.Label) (*Configured, error) {
	return a.analyze(ctx, l, nil)
}

// analyze analyzes l, which from (nil for a command-line target) depends on.
func (a *Analyzer) analyze(ctx context.Context, l label.Label, from *loading.Target) (*Configured, error) {
	a.rec.child(l)
	if c, ok := a.configured[l]; ok {
		return c, nil
	}
	if err, ok := a.failed[l]; ok {
		return nil, err
	}
	if a.active[l] {
		return nil, a.cycleError(l, from)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.rec.push(l)
	defer a.rec.pop()
	pkg, err := a.loadPackage(ctx, l.Pkg)
	if err != nil {
		var nsp *loading.NoSuchPackageError
		if errors.As(err, &nsp) {
			return nil, referenceError(from, l, err.Error()+"; check the label's package path")
		}
		return nil, err
	}
	t, ok := pkg.Targets[l.Name]
	if !ok {
		if gen, ok := pkg.Outputs[l.Name]; ok {
			return a.outputFile(ctx, gen, l)
		}
		return a.sourceFile(pkg, l, from)
	}
	a.active[l] = true
	a.stack = append(a.stack, l)
	nActions := len(a.actions)
	c, err := a.analyzeTarget(ctx, t)
	a.stack = a.stack[:len(a.stack)-1]
	delete(a.active, l)
	if err != nil {
		a.dropActions(nActions, l)
		if ctx.Err() == nil {
			a.failed[l] = err
		}
		return nil, err
	}
	a.configured[l] = c
	return c, nil
}

// outputFile returns the target of a file that an output attribute of gen
// declares: the file alone, made by gen.
func (a *Analyzer) outputFile(ctx context.Context, gen *loading.Target, l label.Label) (*Configured, error) {
	if _, err := a.analyze(ctx, gen.Label, nil); err != nil {
		return nil, err
	}
	f := a.files[path.Join(workspace.OutputDir, l.Pkg, l.Name)]
	if f == nil {
		return nil, fmt.Errorf("%s: %s %s did not declare its output %s", gen.Pos, gen.Rule.Name(), gen.Label, l.Name)
	}
	c := &Configured{Label: l, Files: []*File{f}, Providers: map[*loading.Provider]*loading.ProviderInstance{}}
	c.Providers[loading.DefaultInfo] = defaultInfo([]*File{f}, nil)
	a.configured[l] = c
	return c, nil
}

// sourceFile returns a source file target, or an error naming the closest
// existing target when the file does not exist (loading.Resolve decides).
func (a *Analyzer) sourceFile(pkg *loading.Package, l label.Label, from *loading.Target) (*Configured, error) {
	if _, err := a.loader.Resolve(pkg, l); err != nil {
		return nil, referenceError(from, l, err.Error())
	}
	f := a.file(l.Path(), l, true)
	c := &Configured{Label: l, Files: []*File{f}, Providers: map[*loading.Provider]*loading.ProviderInstance{}}
	c.Providers[loading.DefaultInfo] = defaultInfo([]*File{f}, nil)
	a.configured[l] = c
	return c, nil
}

// referenceError names the target that referred to a bad label.
func referenceError(from *loading.Target, l label.Label, msg string) error {
	if from == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s %s depends on %s: %s", from.Pos, from.Rule.Name(), from.Label, l, msg)
}

// cycleError reports that l, which from depends on, is being analyzed: the
// chain from l back to itself, placed at from's declaration.
func (a *Analyzer) cycleError(l label.Label, from *loading.Target) error {
	start := 0
	for i, s := range a.stack {
		if s == l {
			start = i
		}
	}
	var chain []string
	for _, s := range a.stack[start:] {
		chain = append(chain, s.String())
	}
	chain = append(chain, l.String())
	msg := fmt.Sprintf("dependency cycle: %s; remove one of these dependencies", strings.Join(chain, " -> "))
	if from != nil {
		return fmt.Errorf("%s: %s", from.Pos, msg)
	}
	return errors.New(msg)
}

// file returns the one *File of a path.
func (a *Analyzer) file(path string, owner label.Label, source bool) *File {
	if f, ok := a.files[path]; ok {
		return f
	}
	f := &File{Path: path, Owner: owner, IsSource: source}
	a.files[path] = f
	return f
}

func (a *Analyzer) analyzeTarget(ctx context.Context, t *loading.Target) (*Configured, error) {
	t, err := a.resolveSelects(ctx, t)
	if err != nil {
		return nil, err
	}
	deps := map[label.Label]*Configured{}
	for _, dl := range t.Deps() {
		c, err := a.analyze(ctx, dl, t)
		if err != nil {
			return nil, err
		}
		if c.Target != nil {
			if err := a.checkVisibility(ctx, t, c.Target); err != nil {
				return nil, err
			}
		}
		deps[dl] = c
	}
	if isBuiltinRule(t, "alias") {
		actual := deps[loading.LabelsOf(t.Attrs["actual"])[0]]
		return &Configured{Label: t.Label, Target: t, Providers: actual.Providers, Files: actual.Files, Executable: actual.Executable, Args: actual.Args}, nil
	}
	rc, err := newRuleContext(a, t, deps)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %v", t.Pos, t.Rule.Name(), t.Label, err)
	}
	thread, done := a.loader.NewThread(ctx, t.Label.String())
	ret, err := starlark.Call(thread, t.Rule.Impl, starlark.Tuple{rc}, nil)
	done()
	rc.finished = true
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("analyzing %s (%s, declared at %s):\n%w", t.Label, t.Rule.Name(), t.Pos, loading.EvalErr(err))
	}
	c, err := rc.configured(ret)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %v", t.Pos, t.Rule.Name(), t.Label, err)
	}
	if t.Rule.Executable {
		for _, arg := range stringList(t.Attrs["args"]) {
			x, err := rc.expand(arg, nil, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %s: attribute args: %v", t.Pos, t.Rule.Name(), t.Label, err)
			}
			c.Args = append(c.Args, x)
		}
	}
	return c, nil
}

// addAction records an action, checking that no other action produces any of
// its outputs.
func (a *Analyzer) addAction(act *graph.Action) error {
	for _, out := range act.Outputs {
		if prev, ok := a.producer[out]; ok {
			return fmt.Errorf("output %s is already produced by another action (%s of %s)", out, prev.Mnemonic, prev.Owner)
		}
	}
	for _, out := range act.Outputs {
		a.producer[out] = act
	}
	a.actions = append(a.actions, act)
	return nil
}

// dropActions forgets the actions that target l declared after the first n
// actions: l's analysis failed. (Its dependencies' actions, declared before
// l's rule ran, stay: those targets are analyzed.)
func (a *Analyzer) dropActions(n int, l label.Label) {
	owner := l.String()
	kept := a.actions[:n]
	for _, act := range a.actions[n:] {
		if act.Owner != owner {
			kept = append(kept, act)
			continue
		}
		for _, out := range act.Outputs {
			if a.producer[out] == act {
				delete(a.producer, out)
			}
		}
	}
	a.actions = kept
}

// Producer returns the action that produces path, if any.
func (a *Analyzer) Producer(path string) (*graph.Action, bool) {
	act, ok := a.producer[path]
	return act, ok
}

func defaultInfo(files []*File, executable *File) *loading.ProviderInstance {
	kwargs := []starlark.Tuple{{starlark.String("files"), fileList(files)}}
	if executable != nil {
		kwargs = append(kwargs, starlark.Tuple{starlark.String("executable"), executable})
	}
	v, err := loading.DefaultInfo.CallInternal(nil, nil, kwargs)
	if err != nil {
		panic(err) // the arguments above are always valid
	}
	return v.(*loading.ProviderInstance)
}

func sortedPaths(files []*File) []string {
	seen := make(map[string]bool, len(files))
	out := make([]string, 0, len(files))
	for _, f := range files {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return out
}

// checkOutputDirs reports an error if the output path p, which t declares,
// is a directory of an output declared before, or if an output declared
// before is a directory of p: both cannot exist. Its cost is one map lookup
// per directory level of p.
func (a *Analyzer) checkOutputDirs(p string, t *loading.Target) error {
	if f, ok := a.outDirs[p]; ok {
		return fmt.Errorf("output %s of %s is a directory of output %s of %s; rename one",
			p, describeTarget(t), f.Path, a.declarer(f.Owner))
	}
	for d := path.Dir(p); d != workspace.OutputDir && d != "." && d != "/"; d = path.Dir(d) {
		if f, ok := a.files[d]; ok && !f.IsSource {
			return fmt.Errorf("output %s of %s is a directory of output %s of %s; rename one",
				d, a.declarer(f.Owner), p, describeTarget(t))
		}
	}
	return nil
}

// addOutputDirs records the directories of the declared output f (those
// under bld-out), and t as the declarer of f's owner. A directory already
// recorded has its own directories recorded too, so each directory is
// recorded once over the whole analysis.
func (a *Analyzer) addOutputDirs(f *File, t *loading.Target) {
	a.declarers[f.Owner] = t
	for d := path.Dir(f.Path); d != workspace.OutputDir && d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := a.outDirs[d]; ok {
			return
		}
		a.outDirs[d] = f
	}
}

// declarer describes the target l that declared outputs: its label, and
// where it is declared when that is known.
func (a *Analyzer) declarer(l label.Label) string {
	if t, ok := a.declarers[l]; ok {
		return describeTarget(t)
	}
	return l.String()
}

// describeTarget returns t's label and the position of its declaration.
func describeTarget(t *loading.Target) string {
	return fmt.Sprintf("%s (at %s)", t.Label, t.Pos)
}
