package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"bld/exec/program"
	"bld/exec/store"
	"bld/exec/toolchain"
)

// The toolchain memo remembers, per workspace, what probing a compiler
// driver found (its version and the programs it runs: toolchain.Probe),
// under the driver's path, its stamp and the PATH it was probed with, so
// that a build probes each driver once per change rather than once per
// build. It persists in ROOT/bld-out/.bld/toolchains as JSON, written at
// Close; a missing or damaged file only costs probes.

type toolchainMemo struct {
	file string
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
	var m map[string]toolchain.Identity
	if json.Unmarshal(data, &m) == nil && m != nil {
		t.m = m
	}
}

// identity returns what the driver prog runs, probing it with env when
// the memo has no answer for its current stamp and env's PATH.
func (t *toolchainMemo) identity(ctx context.Context, root string, prog program.Program, env []string) (toolchain.Identity, error) {
	pathVar, _ := program.PathOf(env)
	st := stampOf(prog.Info)
	key := fmt.Sprintf("%s\x00%d %d %d %d\x00%s", prog.Path, st.size, st.mtime, st.ctime, st.ino, pathVar)
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
		id, err = toolchain.Probe(ctx, root, prog.Path, env)
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
	data, err := json.Marshal(t.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(t.file), 0o777); err != nil {
		return err
	}
	if err := store.WriteFileAtomic(t.file, data, 0o666); err != nil {
		return err
	}
	t.dirty = false
	return nil
}
