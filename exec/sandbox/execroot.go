package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"bld/exec/graph"
	"bld/exec/program"
)

// Dir is the directory that holds the exec roots of the actions running in
// workspace root.
func Dir(root string) string {
	return filepath.Join(root, "bld-out", ".bld", "sandbox")
}

// RemoveStale deletes the exec roots a previous build left behind (killed
// before it could clean up). The caller must ensure that no build runs in
// root at the same time (bld holds the workspace lock).
func RemoveStale(root string) error {
	if err := RemoveAll(Dir(root)); err != nil {
		return fmt.Errorf("removing stale exec roots: %w", err)
	}
	return nil
}

// A Manager makes the exec roots of one build in one workspace, and owns
// what they share: in ModeNamespace the zygote and the pool of output
// directories. It is safe for concurrent use. Close it when the build is
// over.
type Manager struct {
	root string
	want Mode

	once   sync.Once
	mode   Mode   // the mode in effect, once resolved
	reason string // why ModeAuto fell back to ModeSymlinks
	err    error  // why ModeNamespace cannot be used, when asked for
	// pidns: in ModeNamespace, each command also gets a pid namespace,
	// so that nothing it started outlives it; noPidns says why not.
	pidns   bool
	noPidns string
	// memo, if not "", is the file that keeps a probe's answer
	// (RememberProbe).
	memo string

	zygote zygote // ModeNamespace: started by the first command that needs it

	exeOnce sync.Once
	exe     string // bld's own binary (os.Executable), the helper's
	exeErr  error

	poolMu sync.Mutex
	// pool holds empty directories under Dir(root) that exec roots bind
	// as output directories (ModeNamespace), ready for reuse; made lists
	// every one this Manager made that is not deleted yet.
	pool []string
	made map[string]bool
}

// NewManager returns a Manager for the workspace at root (an absolute path)
// that sandboxes in mode. Nothing is checked before the first action needs
// it.
func NewManager(root string, mode Mode) *Manager {
	return &Manager{root: root, want: mode, zygote: newZygote(root)}
}

// Close stops the zygote, if one runs, waiting a little for it to exit (so
// that bld leaves nothing behind, and the CPU time of the zygote and of its
// commands counts as bld's children's), and deletes the pooled output
// directories. Call it when no action runs any more. Using the Manager
// afterwards starts over (a new zygote, a new pool).
func (m *Manager) Close() error {
	m.zygote.stop()
	m.poolMu.Lock()
	dirs := slices.Sorted(maps.Keys(m.made))
	m.pool, m.made = nil, nil
	m.poolMu.Unlock()
	var errs []error
	for _, d := range dirs {
		if err := RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the sandbox's output directories: %w", err)
	}
	return nil
}

// Mode returns the mode actions run in, resolving ModeAuto on the first call
// (by trying a namespace once), and, when ModeAuto fell back to ModeSymlinks,
// why. It fails when ModeNamespace was asked for and does not work here.
func (m *Manager) Mode(ctx context.Context) (Mode, string, error) {
	m.once.Do(func() {
		switch m.want {
		case ModeAuto:
			if err := m.probeOrRecall(ctx); err != nil {
				m.mode, m.reason = ModeSymlinks, err.Error()
			} else {
				m.mode = ModeNamespace
			}
		case ModeNamespace:
			m.mode = ModeNamespace
			if err := m.probeOrRecall(ctx); err != nil {
				m.err = fmt.Errorf("--sandbox=namespace does not work here: %w", err)
			}
		default:
			m.mode = m.want
		}
	})
	return m.mode, m.reason, m.err
}

// probe tries the namespace with a pid namespace, then without one.
func (m *Manager) probe(ctx context.Context) error {
	err := probeNamespace(ctx, m.root, true)
	if err == nil {
		m.pidns = true
		return nil
	}
	m.noPidns = err.Error()
	return probeNamespace(ctx, m.root, false)
}

// executable returns bld's own binary, which runs the namespace helper,
// looked up once (it costs a readlink(2)).
func (m *Manager) executable() (string, error) {
	m.exeOnce.Do(func() {
		m.exe, m.exeErr = os.Executable()
		if m.exeErr != nil {
			m.exeErr = fmt.Errorf("finding bld's own binary for the sandbox helper: %w", m.exeErr)
		}
	})
	return m.exe, m.exeErr
}

// KillsDescendants reports whether, in the mode in effect, everything a
// command started is killed when the command exits, even processes that
// left its process group (setsid, a double fork): true in ModeNamespace
// with a pid namespace. Otherwise only the command's process group is
// killed, and the string says why. Call it after Mode.
func (m *Manager) KillsDescendants() (bool, string) {
	if m.mode != ModeNamespace {
		return false, "only the namespace sandbox gives each command a pid namespace"
	}
	return m.pidns, m.noPidns
}

// Prepare makes the exec root of a, which has a command (Argv) and must be
// sandboxed (not NoSandbox, mode not ModeOff: then it returns nil, nil).
// The caller runs a.Command, then Collect, and always Remove.
//
// In ModeSymlinks the exec root is a directory of links on disk. In
// ModeNamespace nothing of it is on disk but the directories that will hold
// the outputs: the namespace helper builds the rest on a tmpfs (see
// mountPlan).
func (m *Manager) Prepare(ctx context.Context, a *graph.Action) (*ExecRoot, error) {
	mode, _, err := m.Mode(ctx)
	if err != nil {
		return nil, err
	}
	if mode == ModeOff || a.NoSandbox {
		return nil, nil
	}
	e := &ExecRoot{m: m, root: m.root, mode: mode, pidns: m.pidns && !a.AllowDaemon}
	if mode == ModeNamespace {
		m.zygote.warm()
		if err := e.plan(a); err != nil {
			e.Remove()
			return nil, err
		}
		return e, nil
	}
	base := Dir(m.root)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("creating the exec root: %w", err)
	}
	dir, err := os.MkdirTemp(base, "")
	if err != nil {
		return nil, fmt.Errorf("creating the exec root: %w", err)
	}
	e.dir = dir
	if err := buildForest(dir, m.root, a.AllInputs(), a.Outputs); err != nil {
		e.Remove()
		return nil, err
	}
	return e, nil
}

// plan fills e.mp, taking an output directory from the pool for each
// top output directory.
func (e *ExecRoot) plan(a *graph.Action) error {
	inputs, tops, dirs, err := layout(a.AllInputs(), a.Outputs)
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if strings.ContainsAny(in, "\n\r") {
			return fmt.Errorf("input %q: a path with a newline cannot be sandboxed", in)
		}
	}
	e.mp = mountPlan{Root: e.root, Inputs: inputs, Dirs: dirs}
	for _, top := range tops {
		pool, err := e.m.takeDir(e.pidns)
		if err != nil {
			return err
		}
		e.mp.Outs = append(e.mp.Outs, outBind{Dir: top, Pool: pool})
	}
	return nil
}

// takeDir returns an empty directory for an exec root's outputs: one from
// the pool, or a new one. Only reusable says it may come from the pool
// (and go back to it): a directory that a process outliving its action
// (one with no pid namespace) may still write in is never reused.
func (m *Manager) takeDir(reusable bool) (string, error) {
	m.poolMu.Lock()
	defer m.poolMu.Unlock()
	if n := len(m.pool); reusable && n > 0 {
		d := m.pool[n-1]
		m.pool = m.pool[:n-1]
		return d, nil
	}
	base := Dir(m.root)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("creating the exec root: %w", err)
	}
	d, err := os.MkdirTemp(base, "out")
	if err == nil {
		err = os.Chmod(d, 0o755) // as the command would make it
	}
	if err != nil {
		return "", fmt.Errorf("creating the exec root: %w", err)
	}
	if m.made == nil {
		m.made = map[string]bool{}
	}
	m.made[d] = true
	return d, nil
}

// giveDir takes back a directory takeDir returned: into the pool if
// reusable and it can be emptied (emptyDir), else it is deleted.
func (m *Manager) giveDir(d string, reusable bool) error {
	if reusable && emptyDir(d) {
		m.poolMu.Lock()
		kept := m.made[d] // else Close came first: delete it
		if kept {
			m.pool = append(m.pool, d)
		}
		m.poolMu.Unlock()
		if kept {
			return nil
		}
	}
	m.poolMu.Lock()
	delete(m.made, d)
	m.poolMu.Unlock()
	return RemoveAll(d)
}

// An ExecRoot is the private directory one action runs in.
type ExecRoot struct {
	m    *Manager
	root string // the workspace
	dir  string // ModeSymlinks: the exec root's real path
	mode Mode   // ModeNamespace or ModeSymlinks
	// pidns: in ModeNamespace, the command gets a pid namespace (unless
	// it may leave daemons running).
	pidns bool
	// mp is what the namespace helper mounts (ModeNamespace).
	mp mountPlan
	// planFile, once written, holds mp for the per-action helper.
	// Command writes it unless DeferInputList was called: then
	// StartZygote sends mp to the zygote, and writes the file only when
	// the zygote cannot start the command (so that the caller can start
	// the helper's command).
	planFile  string
	deferPlan bool
}

// DeferInputList tells Command not to write the file that tells the
// per-action helper what to mount: the caller starts the command with
// StartZygote, and only if that fails with the command Command returned.
// It saves a file per action.
func (e *ExecRoot) DeferInputList() { e.deferPlan = true }

// writePlan writes the plan file once.
func (e *ExecRoot) writePlan() error {
	if e.planFile != "" {
		return nil
	}
	data, err := json.Marshal(&e.mp)
	if err != nil {
		return err
	}
	base := Dir(e.root)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return fmt.Errorf("writing the exec root's plan: %w", err)
	}
	f, err := os.CreateTemp(base, "plan")
	if err != nil {
		return fmt.Errorf("writing the exec root's plan: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the exec root's plan: %w", err)
	}
	e.planFile = f.Name()
	return nil
}

// Path is the exec root's real path, on the host, in ModeSymlinks; "" in
// ModeNamespace, where the exec root exists only in the command's mount
// namespace.
func (e *ExecRoot) Path() string { return e.dir }

// Mode is ModeNamespace or ModeSymlinks.
func (e *ExecRoot) Mode() Mode { return e.mode }

// Command returns the command that runs a in the exec root: its Path, Args,
// Dir, Env (a.Env, not to be modified in place) and SysProcAttr (Setpgid,
// and in ModeNamespace the namespaces) are set; the caller sets the rest
// and may add to Env and ExtraFiles. a.Argv[0] is resolved as the action
// key resolves it (program.Find from the workspace root); a program inside
// the workspace must be an input, and runs from the exec root.
func (e *ExecRoot) Command(ctx context.Context, a *graph.Action) (*exec.Cmd, error) {
	prog, err := program.Find(e.root, a.Argv[0], a.Env)
	if err != nil {
		return nil, err
	}
	return e.CommandOf(ctx, a, prog)
}

// CommandOf is Command with a.Argv[0] already resolved to prog (by
// program.Find from the workspace root, when the action's key was
// computed): the command runs that file, the one the key covers.
func (e *ExecRoot) CommandOf(ctx context.Context, a *graph.Action, prog program.Program) (*exec.Cmd, error) {
	path, err := e.program(a, prog)
	if err != nil {
		return nil, err
	}
	if e.mode == ModeNamespace {
		if !e.deferPlan {
			if err := e.writePlan(); err != nil {
				return nil, err
			}
		}
		// Before the plan file is written (deferred), its name is "":
		// StartZygote writes it and puts its name in the command's
		// arguments when the zygote cannot start the command.
		exe, err := e.m.executable()
		if err != nil {
			return nil, err
		}
		return namespaceCommand(ctx, exe, e.planFile, path, a, e.pidns)
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = a.Argv
	cmd.Dir = e.dir
	cmd.Env = a.Env[:len(a.Env):len(a.Env)]
	cmd.SysProcAttr = newProcAttr()
	return cmd, nil
}

// program returns the path the command resolved to prog is started by:
// for a program in the workspace, its place in the exec root as the
// command sees it (an error unless it is an input of a), else its
// absolute path.
func (e *ExecRoot) program(a *graph.Action, prog program.Program) (string, error) {
	rel := prog.Name
	if !prog.InWorkspace() {
		r, err := filepath.Rel(e.root, prog.Path)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return prog.Path, nil // outside the workspace
		}
		rel = filepath.ToSlash(r)
	}
	if !isInput(a, rel) {
		return "", fmt.Errorf("command %s: %s exists in the workspace but is not an input of this action; declare it (tools of a genrule, tools or inputs of ctx.actions.run)", a.Argv[0], rel)
	}
	base := e.dir
	if e.mode == ModeNamespace {
		base = FixedExecRoot
	}
	return filepath.Join(base, filepath.FromSlash(rel)), nil
}

// isInput reports whether rel is an input of a or lies in one (a directory).
func isInput(a *graph.Action, rel string) bool {
	for _, in := range a.AllInputs() {
		if in == rel || strings.HasPrefix(rel, in+"/") {
			return true
		}
	}
	return false
}

// hostPath is where the file the command sees at FixedExecRoot/rel (rel
// a workspace-relative slash path in an output directory) is on the host.
func (e *ExecRoot) hostPath(rel string) string {
	if e.mode != ModeNamespace {
		return filepath.Join(e.dir, filepath.FromSlash(rel))
	}
	for _, b := range e.mp.Outs {
		if b.Dir == "." {
			return filepath.Join(b.Pool, filepath.FromSlash(rel))
		}
		if r, ok := strings.CutPrefix(rel, b.Dir+"/"); ok {
			return filepath.Join(b.Pool, filepath.FromSlash(r))
		}
	}
	return "" // not in an output directory: on the command's tmpfs
}

// Collect moves a's declared outputs from the exec root into the workspace,
// replacing what is there, and rewrites a.Depfile's paths to clean
// workspace-relative ones. A missing output is skipped: the caller reports
// it as it would without a sandbox. An output that is not a regular file
// (a symbolic link, which may point into the exec root or the sandbox's
// view of the sources, a directory, a FIFO, a device) is an error naming
// it and its kind (see CheckOutput), found before anything is moved, so
// that no such file reaches the workspace.
func (e *ExecRoot) Collect(a *graph.Action) error {
	present := make([]bool, len(a.Outputs))
	for i, out := range a.Outputs {
		var err error
		if present[i], err = checkOutput(e.hostPath(out), out); err != nil {
			return err
		}
	}
	for i, out := range a.Outputs {
		if !present[i] {
			continue
		}
		to := filepath.Join(e.root, filepath.FromSlash(out))
		// rename(2) alone: os.Rename would stat the destination first;
		// the output is a regular file (checkOutput), which rename(2)
		// does not put over a directory.
		if err := syscall.Rename(e.hostPath(out), to); err != nil {
			err = &os.LinkError{Op: "rename", Old: e.hostPath(out), New: to, Err: err}
			return fmt.Errorf("moving output %s out of the exec root: %w", out, err)
		}
	}
	if a.Depfile() == "" {
		return nil
	}
	prefixes := []string{e.root}
	if e.mode == ModeNamespace {
		prefixes = append(prefixes, FixedExecRoot)
	} else {
		prefixes = append([]string{e.dir}, prefixes...)
	}
	return rewriteDepfile(filepath.Join(e.root, filepath.FromSlash(a.Depfile())), prefixes)
}

// Remove deletes the exec root and whatever the command left in it. In
// ModeNamespace, the output directories go back to the Manager's pool,
// emptied.
func (e *ExecRoot) Remove() error {
	var errs []error
	if e.planFile != "" {
		os.Remove(e.planFile)
	}
	for _, b := range e.mp.Outs {
		errs = append(errs, e.m.giveDir(b.Pool, e.pidns))
	}
	if e.dir != "" {
		errs = append(errs, RemoveAll(e.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the exec root: %w", err)
	}
	return nil
}

// RemoveAll is os.RemoveAll, also of directories a command left without
// write permission: what bld deletes of what commands wrote (exec roots,
// stale outputs) goes through it.
func RemoveAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
