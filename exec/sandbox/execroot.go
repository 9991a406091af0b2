package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

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

// A Manager makes the exec roots of one build in one workspace. It is safe
// for concurrent use.
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
}

// NewManager returns a Manager for the workspace at root (an absolute path)
// that sandboxes in mode. Nothing is checked before the first action needs
// it.
func NewManager(root string, mode Mode) *Manager {
	return &Manager{root: root, want: mode}
}

// Mode returns the mode actions run in, resolving ModeAuto on the first call
// (by trying a namespace once), and, when ModeAuto fell back to ModeSymlinks,
// why. It fails when ModeNamespace was asked for and does not work here.
func (m *Manager) Mode(ctx context.Context) (Mode, string, error) {
	m.once.Do(func() {
		switch m.want {
		case ModeAuto:
			if err := m.probe(ctx); err != nil {
				m.mode, m.reason = ModeSymlinks, err.Error()
			} else {
				m.mode = ModeNamespace
			}
		case ModeNamespace:
			m.mode = ModeNamespace
			if err := m.probe(ctx); err != nil {
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
func (m *Manager) Prepare(ctx context.Context, a *graph.Action) (*ExecRoot, error) {
	mode, _, err := m.Mode(ctx)
	if err != nil {
		return nil, err
	}
	if mode == ModeOff || a.NoSandbox {
		return nil, nil
	}
	base := Dir(m.root)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("creating the exec root: %w", err)
	}
	dir, err := os.MkdirTemp(base, "")
	if err != nil {
		return nil, fmt.Errorf("creating the exec root: %w", err)
	}
	e := &ExecRoot{root: m.root, dir: dir, mode: mode, pidns: m.pidns}
	mounted, err := buildForest(dir, m.root, a.AllInputs(), a.Outputs, mode == ModeNamespace)
	if err == nil && mode == ModeNamespace {
		e.list, err = inputListText(mounted)
	}
	if err != nil {
		e.Remove()
		return nil, err
	}
	return e, nil
}

// An ExecRoot is the private directory one action runs in.
type ExecRoot struct {
	root string // the workspace
	dir  string // the exec root's real path
	mode Mode   // ModeNamespace or ModeSymlinks
	// pidns: in ModeNamespace, commands get a pid namespace (unless
	// they are allowed to leave daemons running).
	pidns bool
	// list is the inputs the namespace helper binds (inputListText).
	// Command writes it to inputList() for the helper, unless
	// DeferInputList was called: then StartZygote sends it to the
	// zygote, and writes the file only when the zygote cannot start the
	// command (so that the caller can start the helper's command).
	list      string
	deferList bool
	wroteList bool
}

// DeferInputList tells Command not to write the input list file: the
// caller starts the command with StartZygote, and only if that fails with
// the command Command returned. It saves a file per action.
func (e *ExecRoot) DeferInputList() { e.deferList = true }

// writeList writes the input list file once.
func (e *ExecRoot) writeList() error {
	if e.wroteList {
		return nil
	}
	if err := os.WriteFile(e.inputList(), []byte(e.list), 0o644); err != nil {
		return fmt.Errorf("writing the exec root's input list: %w", err)
	}
	e.wroteList = true
	return nil
}

// Path is the exec root's real path, on the host.
func (e *ExecRoot) Path() string { return e.dir }

// Mode is ModeNamespace or ModeSymlinks.
func (e *ExecRoot) Mode() Mode { return e.mode }

// Command returns the command that runs a in the exec root: its Path, Args,
// Dir, Env (a copy of a.Env) and SysProcAttr (Setpgid, and in ModeNamespace
// the namespaces) are set; the caller sets the rest and may add to Env and
// ExtraFiles. a.Argv[0] is resolved as the action key resolves it
// (program.Find from the workspace root); a program inside the workspace
// must be an input, and runs from the exec root.
func (e *ExecRoot) Command(ctx context.Context, a *graph.Action) (*exec.Cmd, error) {
	path, err := e.program(a)
	if err != nil {
		return nil, err
	}
	if e.mode == ModeNamespace {
		if !e.deferList {
			if err := e.writeList(); err != nil {
				return nil, err
			}
		}
		return namespaceCommand(ctx, e.dir, e.root, e.inputList(), path, a, e.pidns && !a.AllowDaemon)
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = a.Argv
	cmd.Dir = e.dir
	cmd.Env = append([]string{}, a.Env...)
	cmd.SysProcAttr = newProcAttr()
	return cmd, nil
}

// program resolves a's argv[0] on the host, as the action key does, and
// returns the path the command is started by: for a program in the
// workspace, its place in the exec root as the command sees it (an error
// unless it is an input of a), else its absolute path.
func (e *ExecRoot) program(a *graph.Action) (string, error) {
	prog, err := program.Find(e.root, a.Argv[0], a.Env)
	if err != nil {
		return "", err
	}
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

// inputList is the file that tells the namespace helper which inputs to
// bind into the exec root: beside it, outside the exec root.
func (e *ExecRoot) inputList() string { return e.dir + ".inputs" }

// inputListText lists the inputs the helper binds: one per line, "d " or
// "f " and the path; a path with a newline is refused.
func inputListText(inputs []mountedInput) (string, error) {
	var b strings.Builder
	for _, in := range inputs {
		if strings.ContainsAny(in.path, "\n\r") {
			return "", fmt.Errorf("input %q: a path with a newline cannot be sandboxed", in.path)
		}
		kind := "f "
		if in.dir {
			kind = "d "
		}
		b.WriteString(kind + in.path + "\n")
	}
	return b.String(), nil
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
	for _, out := range a.Outputs {
		if err := CheckOutput(filepath.Join(e.dir, filepath.FromSlash(out)), out); err != nil {
			return err
		}
	}
	for _, out := range a.Outputs {
		from := filepath.Join(e.dir, filepath.FromSlash(out))
		if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		to := filepath.Join(e.root, filepath.FromSlash(out))
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("moving output %s out of the exec root: %w", out, err)
		}
	}
	if a.Depfile == "" {
		return nil
	}
	prefixes := []string{e.dir, e.root}
	if e.mode == ModeNamespace {
		prefixes = append(prefixes, FixedExecRoot)
	}
	return rewriteDepfile(filepath.Join(e.root, filepath.FromSlash(a.Depfile)), prefixes)
}

// Remove deletes the exec root and whatever the command left in it.
func (e *ExecRoot) Remove() error {
	if e.wroteList {
		os.Remove(e.inputList())
	}
	if err := RemoveAll(e.dir); err != nil {
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
