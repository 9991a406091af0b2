package cache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"bld/exec/digest"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/remote"
	"bld/exec/store"
)

// Outputs kept remote (--remote_download_minimal, Bazel's "build without
// the bytes").
//
// With Options.KeepRemote, an output that an action's remote result names
// (a remote cache hit, or a remote execution) is not downloaded: the
// workspace keeps its digest and executable bit instead, in the table of
// kept outputs, and the file is absent from bld-out/. Everywhere the cache
// asks for the digest of a workspace file (keys, read sets, the outputs
// of a last run), an absent file that the table names has the table's
// digest (fileDigest): a remote action reads it from the CAS by that
// digest, and an action that runs here has it downloaded first
// (Materialize), verified. A file on disk always wins over the table, and
// every output the cache finds, restores or stores on disk leaves it.
//
// The table persists in the workspace (bld-out/.bld/remote-outputs), so
// that the next build knows the kept outputs are up to date without
// downloading them. It is written at Close, through a temporary file and
// a rename; its format is a header line, then one line per output: hash,
// size, "x" or "-" for the executable bit, and the workspace-relative
// path (to the end of the line; a path with a newline is never kept). A
// missing or damaged table is an empty one: the actions whose outputs it
// named run again, or are found in the remote cache again.
//
// A table is honoured only by a build that keeps outputs remote and has a
// working remote cache; any other build removes it, since it cannot fetch
// what it names, and a later build must not trust entries that outputs
// written meanwhile have made stale.
//
// A kept output that the remote CAS no longer has (evicted; or the
// service failed) is lost: Materialize forgets it and fails the action
// that needed it with ErrLostRemoteOutput, so that the action that made
// it misses and runs again. LostRemoteOutputs counts them, so that the
// caller can build again at once (build.Execute does, once).

const keptHeader = "bld-remote-outputs 1\n"

// ErrLostRemoteOutput is wrapped by Materialize's errors when a kept
// output is no longer in the remote cache.
var ErrLostRemoteOutput = errors.New("an output kept in the remote cache is gone from it")

// keptStampSize marks the stamp of a kept file in a key's stamps: it has
// none on disk.
const keptStampSize = -2

// keptOutput is an entry of the table.
type keptOutput struct {
	d    digest.Digest
	exec bool
}

// keptTable is the table of kept outputs of a workspace.
type keptTable struct {
	file string
	tmp  string

	mu    sync.Mutex
	m     map[string]keptOutput
	dirty bool
	lost  int
}

// loadKept reads the table in file; a missing or damaged file gives an
// empty table.
func loadKept(file string) *keptTable {
	t := &keptTable{file: file, m: map[string]keptOutput{}}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(data, []byte(keptHeader)) {
		return t
	}
	sc := bufio.NewScanner(bytes.NewReader(data[len(keptHeader):]))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	m := map[string]keptOutput{}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if len(f) != 4 || (f[2] != "x" && f[2] != "-") {
			return t
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		d := digest.Digest{Hash: f[0], Size: size}
		if err != nil || size < 0 || !digest.ValidHash(d.Hash) || checkRel(f[3]) != nil {
			return t
		}
		m[f[3]] = keptOutput{d: d, exec: f[2] == "x"}
	}
	if sc.Err() != nil {
		return t
	}
	t.m = m
	return t
}

// get returns the entry of rel.
func (t *keptTable) get(rel string) (keptOutput, bool) {
	if t == nil {
		return keptOutput{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.m[rel]
	return k, ok
}

// set records rel as kept remote with digest d.
func (t *keptTable) set(rel string, k keptOutput) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[rel]; !ok || old != k {
		t.m[rel] = k
		t.dirty = true
	}
}

// forget removes rel from the table: it is on disk, or lost.
func (t *keptTable) forget(rel string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[rel]; ok {
		delete(t.m, rel)
		t.dirty = true
	}
}

// save writes the table if it changed; an empty table removes the file.
func (t *keptTable) save() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty {
		return nil
	}
	if len(t.m) == 0 {
		if err := os.Remove(t.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		t.dirty = false
		return nil
	}
	paths := make([]string, 0, len(t.m))
	for p := range t.m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.WriteString(keptHeader)
	for _, p := range paths {
		k := t.m[p]
		x := "-"
		if k.exec {
			x = "x"
		}
		fmt.Fprintf(&b, "%s %d %s %s\n", k.d.Hash, k.d.Size, x, p)
	}
	if err := os.MkdirAll(filepath.Dir(t.file), 0o755); err != nil {
		return err
	}
	if err := store.WriteFileVia(t.file, t.tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	t.dirty = false
	return nil
}

// removeKeptTable removes a table no build may trust any more (see the
// comment at the top of this file).
func removeKeptTable(file string) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache: removing the table of outputs kept remote: %w", err)
	}
	return nil
}

// keeping reports whether this build keeps outputs remote: it asks to,
// and the remote cache works.
func (c *Cache) keeping() bool {
	return c.kept != nil && c.remote != nil && !c.remote.client.Failed()
}

// fileDigest returns the digest and stamp of the workspace file rel (abs
// is its path) as the file-digest memo knows it; when the file is absent
// and kept remote, the table's digest, with a stamp of size keptStampSize.
func (c *Cache) fileDigest(rel, abs string) (digest.Digest, stamp, error) {
	d, st, err := c.memo.fileDigest(rel, abs)
	if err != nil && errors.Is(err, fs.ErrNotExist) && c.keeping() {
		if k, ok := c.kept.get(rel); ok {
			return k.d, stamp{size: keptStampSize, exec: k.exec}, nil
		}
	}
	return d, st, err
}

// isKeptFile reports whether rel is absent and kept remote.
func (c *Cache) isKeptFile(rel string) bool {
	if !c.keeping() {
		return false
	}
	if _, ok := c.kept.get(rel); !ok {
		return false
	}
	_, err := os.Lstat(c.abs(rel))
	return errors.Is(err, fs.ErrNotExist)
}

// KeptRemote reports whether the output out is kept remote, not on disk:
// the executor does not look for it after a remote run.
func (c *Cache) KeptRemote(out string) bool { return c.isKeptFile(out) }

// keepOutput records the output of, of a's remote result, as kept remote,
// unless the build needs its bytes here: it is a's depfile (the cache
// reads it), or small enough to come inline. It reports whether it did;
// a stale file at its path is removed, since a file on disk wins.
func (c *Cache) keepOutput(a *graph.Action, of outputFile) (bool, error) {
	if !c.keeping() || of.Path == a.Depfile() || !inBlob(of) || strings.ContainsAny(of.Path, "\n\r") {
		return false, nil
	}
	if err := os.Remove(c.abs(of.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("cache: removing stale output %s: %w", of.Path, err)
	}
	c.kept.set(of.Path, keptOutput{d: of.Digest, exec: of.IsExecutable})
	return true, nil
}

// Keep is told by the remote runner (exec/remoteexec) that output out of
// a, with digest d, is in the remote CAS; it reports whether the output
// stays there (kept), or must be downloaded.
func (c *Cache) Keep(a *graph.Action, out string, d digest.Digest, executable bool) (bool, error) {
	return c.keepOutput(a, outputFile{Path: out, Digest: d, IsExecutable: executable})
}

// fetchRemoteKept looks for the result of ki in the remote cache and, when
// its outputs are all in the remote CAS, takes them as a's outputs
// without downloading them: kept remote, except those keepOutput does
// not keep, which are written here. It returns the Check of a hit.
func (c *Cache) fetchRemoteKept(ctx context.Context, t *remoteTier, a *graph.Action, ki *keyInfo) (executor.Check, bool) {
	// Only the command's output: the outputs stay remote.
	r, ok := remoteResult(ctx, t, ki, remote.Inline{Output: true})
	if !ok {
		return executor.Check{}, false
	}
	var outs []outputFile
	var inCAS []digest.Digest
	for _, of := range r.OutputFiles {
		d := of.Digest
		if !digest.ValidHash(d.Hash) {
			return executor.Check{}, false
		}
		lf := outputFile{Path: of.Path, Digest: d, IsExecutable: of.IsExecutable}
		if len(of.Contents) > 0 {
			if digest.OfBytes(of.Contents) != d {
				return executor.Check{}, false
			}
			lf.Contents = of.Contents
		}
		if inBlob(lf) {
			inCAS = append(inCAS, d)
		}
		outs = append(outs, lf)
	}
	// A result whose blobs the CAS lost (evicted) would leave kept
	// outputs nobody can fetch: ask first (servers that check the
	// completeness of results do it too).
	if len(inCAS) > 0 {
		missing, err := t.client.FindMissing(ctx, inCAS)
		if err != nil {
			t.failed(ctx, "looking for a result's outputs", err)
			return executor.Check{}, false
		}
		if len(missing) > 0 {
			return executor.Check{}, false
		}
	}
	output, ok := remoteCommandOutput(ctx, t, r)
	if !ok {
		return executor.Check{}, false
	}
	for i, of := range outs {
		if d, st, err := c.memo.fileDigest(of.Path, c.abs(of.Path)); err == nil && d == of.Digest && st.exec == of.IsExecutable {
			c.kept.forget(of.Path)
			continue // already in place
		}
		kept, err := c.keepOutput(a, of)
		if err != nil {
			return executor.Check{}, false
		}
		if kept {
			continue
		}
		if ok := c.writeRemoteOutput(ctx, t, &outs[i]); !ok {
			return executor.Check{}, false
		}
	}
	c.writeRecord(ki, outs)
	c.fastRemember(a, ki, outs)
	c.count(true)
	t.hits.Add(1)
	return executor.Check{UpToDate: true, Restored: true, Remote: true, Key: ki.key, Output: output}, true
}

// writeRemoteOutput puts the remote output of in place: inline or empty
// content as it is, a blob downloaded and verified.
func (c *Cache) writeRemoteOutput(ctx context.Context, t *remoteTier, of *outputFile) bool {
	abs := c.abs(of.Path)
	perm := fs.FileMode(0o644)
	if of.IsExecutable {
		perm = 0o755
	}
	start := c.now()
	if !inBlob(*of) {
		if err := store.WriteFileVia(abs, c.stagingDir, of.Contents, perm); err != nil {
			return false
		}
	} else if err := c.download(ctx, t.client, of.Digest, abs, perm); err != nil {
		t.failed(ctx, "downloading "+of.Path, err)
		return false
	}
	c.kept.forget(of.Path)
	if fi, err := os.Stat(abs); err == nil {
		c.memo.rememberDigest(of.Path, stampOf(fi), of.Digest, start.UnixNano())
	}
	return true
}

// download writes the blob d of the remote CAS to abs, verified, through
// the staging directory, so that abs never holds part of it.
func (c *Cache) download(ctx context.Context, client remote.Service, d digest.Digest, abs string, perm fs.FileMode) error {
	if err := os.MkdirAll(c.stagingDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.stagingDir, "remote-*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := client.DownloadFile(ctx, d, tmp.Name(), perm); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), abs)
}

// Materialize downloads the files a reads that are kept remote, verified,
// before a runs here. A file the remote cache no longer has is forgotten
// (the action that made it runs again in the next build) and fails a
// with an error wrapping ErrLostRemoteOutput.
func (c *Cache) Materialize(ctx context.Context, a *graph.Action) error {
	return c.MaterializeFiles(ctx, a.AllInputs())
}

// MaterializeFiles downloads those of the workspace files paths that are
// kept remote (the outputs a user asked for, with
// --remote_download_toplevel), as Materialize does.
func (c *Cache) MaterializeFiles(ctx context.Context, paths []string) error {
	if c.kept == nil {
		return nil
	}
	for _, p := range paths {
		if !c.isKeptFile(p) {
			continue
		}
		k, _ := c.kept.get(p)
		perm := fs.FileMode(0o644)
		if k.exec {
			perm = 0o755
		}
		start := c.now()
		err := c.download(ctx, c.remote.client, k.d, c.abs(p), perm)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.kept.forget(p)
			c.kept.mu.Lock()
			c.kept.lost++
			c.kept.mu.Unlock()
			if !errors.Is(err, remote.ErrNotFound) {
				c.remote.failed(ctx, "downloading "+p, err)
			}
			return fmt.Errorf("fetching %s from the remote cache: %w: %v", p, ErrLostRemoteOutput, err)
		}
		c.kept.forget(p)
		if fi, err := os.Stat(c.abs(p)); err == nil {
			c.memo.rememberDigest(p, stampOf(fi), k.d, start.UnixNano())
		}
	}
	return nil
}

// LostRemoteOutputs counts the kept outputs this build found gone from
// the remote cache.
func (c *Cache) LostRemoteOutputs() int {
	if c.kept == nil {
		return 0
	}
	c.kept.mu.Lock()
	defer c.kept.mu.Unlock()
	return c.kept.lost
}

// keptUnchanged reports whether the file rel, stamped as kept when a key
// was computed, still has the digest d: still kept with it, or
// downloaded since.
func (c *Cache) keptUnchanged(rel string, d digest.Digest) bool {
	got, _, err := c.fileDigest(rel, c.abs(rel))
	return err == nil && got == d
}
