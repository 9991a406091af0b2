package executor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"bld/exec/graph"
	"bld/exec/sandbox"
)

// madeDirs remembers the output directories a Run made (or found), so
// that the next actions with outputs in them do not stat them again: a
// package's actions share one. Nothing removes an output's parent
// directory during a Run (the workspace is locked, and no output is the
// parent of another). A nil *madeDirs remembers nothing. Safe for
// concurrent use.
type madeDirs struct{ m sync.Map }

// mkdirAll is os.MkdirAll(dir, 0o755), once per directory.
func (d *madeDirs) mkdirAll(dir string) error {
	if d != nil {
		if _, ok := d.m.Load(dir); ok {
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if d != nil {
		d.m.Store(dir, struct{}{})
	}
	return nil
}

// prepareOutputs creates the parent directories of a's outputs (through
// dirs) and deletes any stale output, of any kind (see removeOutput), so
// that an action that exits 0 without writing an output is caught even
// when an old file is there, and a stale directory or link never blocks a
// build.
func prepareOutputs(root string, a *graph.Action, dirs *madeDirs) error {
	for _, out := range a.Outputs {
		p := filepath.Join(root, out)
		if err := dirs.mkdirAll(filepath.Dir(p)); err != nil {
			return fmt.Errorf("creating the directory of output %s: %w", out, err)
		}
		if err := removeOutput(p); err != nil {
			return fmt.Errorf("deleting stale output %s: %w (delete it, or run bld clean)", out, err)
		}
	}
	return nil
}

// checkOutputs reports an error naming every declared output of a that does
// not exist after the command exited 0, or else the first that is not a
// regular file (see sandbox.CheckOutput). It never opens an output. The
// outputs kept reports (if not nil) are left remote, not on disk, and not
// checked.
func checkOutputs(root string, a *graph.Action, kept func(out string) bool) error {
	var missing []string
	var bad error // the first output that is not a regular file
	for _, out := range a.Outputs {
		if kept != nil && kept(out) {
			continue
		}
		// One lstat(2) per output says both.
		exists, err := sandbox.CheckOutputExists(filepath.Join(root, out), out)
		switch {
		case !exists && err == nil:
			missing = append(missing, out)
		case err != nil && bad == nil:
			bad = err
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return fmt.Errorf("action exited 0 but did not write its declared output %s", missing[0])
	default:
		return fmt.Errorf("action exited 0 but did not write its declared outputs %s", strings.Join(missing, ", "))
	}
	return bad
}

// removeOutputs deletes whatever declared outputs a failed action left, of
// any kind (see removeOutput), so that no half-written output survives to
// be taken as good by a later build.
func removeOutputs(root string, a *graph.Action) {
	for _, out := range a.Outputs {
		_ = removeOutput(filepath.Join(root, out))
	}
}

// removeOutput deletes whatever is at p: a file, a symbolic link (never
// what it points to), or a directory and all it holds, even subdirectories
// left without write permission. Nothing there is not an error.
func removeOutput(p string) error {
	// lstat(2) first: when, as usual in a fresh output tree, nothing is
	// there, it answers without the directory's lock, which unlink(2)
	// takes exclusively even to find nothing (and then spins on while the
	// commands of other actions create their outputs in that directory).
	// Its answer also says whether a directory is there, so that a file
	// costs one unlink(2) (os.Remove would try rmdir(2) after it fails).
	var st syscall.Stat_t
	switch err := syscall.Lstat(p, &st); {
	case err == syscall.ENOENT:
		return nil
	case err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
		return sandbox.RemoveAll(p)
	}
	if err := syscall.Unlink(p); err != nil && err != syscall.ENOENT {
		return &fs.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// writeFile performs a file-writing action: it writes a.Content to a's single
// output atomically (temporary file in the same directory, then rename), with
// mode 0755 when a.Executable, else 0644. Its directory is made through
// dirs.
func writeFile(root, stagingDir string, a *graph.Action, dirs *madeDirs) (err error) {
	if len(a.Outputs) != 1 {
		return fmt.Errorf("a file-writing action must declare exactly one output, not %d", len(a.Outputs))
	}
	out := filepath.Join(root, a.Outputs[0])
	if err := dirs.mkdirAll(filepath.Dir(out)); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", a.Outputs[0], err)
	}
	tmpDir := filepath.Dir(out)
	if stagingDir != "" {
		tmpDir = stagingDir
		if err := os.MkdirAll(tmpDir, 0o755); err != nil {
			return fmt.Errorf("creating the staging directory: %w", err)
		}
	}
	f, err := os.CreateTemp(tmpDir, ".tmp-"+filepath.Base(out)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", a.Outputs[0], err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	mode := os.FileMode(0o644)
	if a.Executable {
		mode = 0o755
	}
	if _, err := f.Write(a.Content()); err != nil {
		return fmt.Errorf("writing %s: %w", a.Outputs[0], err)
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", a.Outputs[0], err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", a.Outputs[0], err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("writing %s: %w", a.Outputs[0], err)
	}
	return nil
}
