package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"bld/exec/program"
	"bld/exec/store"
	"bld/exec/toolchain"
)

// The toolchain memo remembers, per workspace, what probing a compiler
// driver found (its version and its raw answers about the programs it
// runs: toolchain.Probe), under the driver's path, its stamp, the
// toolchain-affecting arguments of the action (toolchain.Flags), and the
// values of PATH and toolchain.EnvVars it was probed with, and the stamps
// of the directories it searches first (toolchain.ProgramDirs), so that a
// build probes each driver once per distinct set rather than once per
// action. Bare program names stay bare in the memo: the key resolves them
// in PATH at each computation (toolchain.Identity.Resolve), so that a
// program that appears in a PATH directory is seen. It persists in
// ROOT/bld-out/.bld/toolchains as JSON (toolchainsFile), written at Close;
// a missing, damaged or older-version file only costs probes.

// toolchainsVersion is the version of the persisted memo: a file of
// another version is ignored. Change it when what the memo holds changes.
const toolchainsVersion = 2

// toolchainsFile is the persisted memo.
type toolchainsFile struct {
	Version int                           `json:"version"`
	Drivers map[string]toolchain.Identity `json:"drivers"`
}

type toolchainMemo struct {
	file string
	tmp  string // where save writes its temporary file ("": beside file)
	mu   sync.Mutex
	m    map[string]toolchain.Identity
	// inflight makes concurrent lookups of one driver probe it once.
	inflight map[string]*sync.Once
	loaded   bool
	dirty    bool
}

func newToolchainMemo(file string) *toolchainMemo {
	return &toolchainMemo{file: file, m: map[string]toolchain.Identity{}, inflight: map[string]*sync.Once{}}
}

func (t *toolchainMemo) load() {
	if t.loaded {
		return
	}
	t.loaded = true
	data, err := os.ReadFile(t.file)
	if err != nil {
		return
	}
	var f toolchainsFile
	if json.Unmarshal(data, &f) == nil && f.Version == toolchainsVersion && f.Drivers != nil {
		t.m = f.Drivers
	}
}

// memoKey is the memo key of the driver prog run in the workspace root
// with the toolchain-affecting arguments flags and the environment env:
// what the driver's answers depend on, including the stamps of the
// directories it searches for programs first (toolchain.ProgramDirs), so
// that a program added to a -B directory is seen. racy reports that one
// of those directories changed too shortly before now for its stamp to
// show a change that follows (timestamps have a clock tick's grain): the
// answers must not be remembered then.
func memoKey(root string, prog program.Program, flags, env []string, now time.Time) (key string, racy bool) {
	st := stampOf(prog.Info)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%d %d %d %d", prog.Path, st.size, st.mtime, st.ctime, st.ino)
	for _, dir := range toolchain.ProgramDirs(root, flags, env) {
		fi, err := os.Stat(dir)
		if err != nil {
			fmt.Fprintf(&b, "\x00dir %s missing", dir)
			continue
		}
		ds := stampOf(fi)
		fmt.Fprintf(&b, "\x00dir %s %d %d %d", dir, ds.mtime, ds.ctime, ds.ino)
		w := racyWindow
		if ds.mtime%int64(time.Second) == 0 {
			w = coarseRacyWindow
		}
		// An entry added or removed sets the directory's mtime to the
		// current time: a later one shows unless this one is too recent.
		if now.UnixNano()-ds.mtime < int64(w) {
			racy = true
		}
	}
	for _, f := range toolchain.StateFiles(root, prog.Path, env) {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "\x00state %s missing", f)
			continue
		}
		fs := stampOf(fi)
		fmt.Fprintf(&b, "\x00state %s %d %d %d %d", f, fs.size, fs.mtime, fs.ctime, fs.ino)
		if now.UnixNano()-fs.mtime < int64(racyWindow) {
			racy = true
		}
	}
	pathVar, ok := program.PathOf(env)
	fmt.Fprintf(&b, "\x00PATH %t %s", ok, pathVar)
	for _, name := range toolchain.EnvVars {
		v, ok := lookupEnv(env, name)
		fmt.Fprintf(&b, "\x00%s %t %s", name, ok, v)
	}
	for _, f := range flags {
		b.WriteString("\x00arg ")
		b.WriteString(f)
	}
	return b.String(), racy
}

// lookupEnv returns the value of name in env ("KEY=value" entries; the
// last one wins) and whether it is set.
func lookupEnv(env []string, name string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if val, found := strings.CutPrefix(kv, name+"="); found {
			v, ok = val, true
		}
	}
	return v, ok
}

// lookup returns what the memo holds for the driver prog run with flags
// and env (as identity would), without probing: false when it holds
// nothing or the answer could not be remembered (see memoKey).
func (t *toolchainMemo) lookup(root string, prog program.Program, flags, env []string, now time.Time) (toolchain.Identity, bool) {
	key, racy := memoKey(root, prog, flags, env, now)
	if racy {
		return toolchain.Identity{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.load()
	id, ok := t.m[key]
	return id, ok
}

// identity returns what the driver prog answers when run with the
// toolchain-affecting arguments flags (toolchain.Flags of the action's
// argv) and the environment env, probing it when the memo has no answer
// for its current stamp, flags, PATH, toolchain.EnvVars and program
// directories (see memoKey; now is when the check began).
func (t *toolchainMemo) identity(ctx context.Context, root string, prog program.Program, flags, env []string, now time.Time) (toolchain.Identity, error) {
	key, racy := memoKey(root, prog, flags, env, now)
	if racy {
		id, err := toolchain.Probe(ctx, root, prog.Path, flags, env)
		if err != nil {
			return toolchain.Identity{}, err
		}
		return id, nil
	}
	t.mu.Lock()
	t.load()
	if id, ok := t.m[key]; ok {
		t.mu.Unlock()
		return id, nil
	}
	once := t.inflight[key]
	if once == nil {
		once = &sync.Once{}
		t.inflight[key] = once
	}
	t.mu.Unlock()
	var err error
	once.Do(func() {
		var id toolchain.Identity
		id, err = toolchain.Probe(ctx, root, prog.Path, flags, env)
		if err != nil {
			return
		}
		t.mu.Lock()
		t.m[key] = id
		t.dirty = true
		t.mu.Unlock()
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.m[key]; ok {
		return id, nil
	}
	if err == nil {
		err = fmt.Errorf("probing %s failed in another check", prog.Path)
	}
	delete(t.inflight, key) // let a later check try again
	return toolchain.Identity{}, err
}

// save writes the memo if it changed.
func (t *toolchainMemo) save() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty {
		return nil
	}
	data, err := json.Marshal(toolchainsFile{Version: toolchainsVersion, Drivers: t.m})
	if err != nil {
		return fmt.Errorf("encoding the toolchain memo: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(t.file), 0o777); err != nil {
		return fmt.Errorf("saving the toolchain memo: %w", err)
	}
	if err := store.WriteFileVia(t.file, t.tmp, data, 0o644); err != nil {
		return fmt.Errorf("saving the toolchain memo: %w", err)
	}
	t.dirty = false
	return nil
}

// resolvedPrograms returns id.Resolve(root, env), remembered for the rest
// of the build per identity and PATH: a no-op build of many compiles then
// looks the driver's bare program names up in PATH once, not once per
// compile. (A program that appears in a PATH directory during a build is
// seen by the next build.)
func (c *Cache) resolvedPrograms(id toolchain.Identity, env []string) []string {
	pathVar, _ := program.PathOf(env)
	key := pathVar + "\x00" + strings.Join(id.Programs, "\x00")
	if v, ok := c.resolved.Load(key); ok {
		return v.([]string)
	}
	progs := id.Resolve(c.root, env)
	c.resolved.Store(key, progs)
	return progs
}
