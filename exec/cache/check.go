package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/reapi"
	"bld/exec/store"
)

var _ executor.Cache = (*Cache)(nil)

// Check computes a's key and reports whether its outputs are in place:
// already on disk with the content of the cached result (a stat per file
// when the file-digest memo knows them), or restored from the cache. A
// result that cannot be restored whole (a blob missing or corrupt) is a
// miss. On a miss, Reason says why; with Options.Explain, what differs
// from the action's last run. An action marked NoCache is always a miss,
// with an empty Key. An error means the key could not be computed (an
// input is missing or unreadable).
//
// First, though, when the workspace's action record (fast.go) shows that
// nothing a depends on changed since its outputs were last found, restored
// or stored, Check answers from the record alone, with the recorded key,
// without computing the key or reading the cache.
func (c *Cache) Check(ctx context.Context, a *graph.Action) (executor.Check, error) {
	if err := ctx.Err(); err != nil {
		return executor.Check{}, err
	}
	if a.NoCache {
		c.count(false)
		return executor.Check{Reason: "action is marked no-cache"}, nil
	}
	if key, ok := c.fastCheck(a); ok {
		c.count(true)
		return executor.Check{UpToDate: true, Key: key}, nil
	}
	ki, err := c.computeKey(a)
	if err != nil {
		return executor.Check{}, err
	}
	entry, err := c.store.GetEntry(ki.key)
	var res *reapi.ActionResult
	if err == nil {
		res, err = decodeResult(entry.Payload)
	}
	var reason string
	switch {
	case errors.Is(err, store.ErrMissing):
		reason = c.missReason(ki)
	case errors.Is(err, store.ErrCorrupt):
		reason = "the cached result was corrupt, and has been removed"
	case errors.Is(err, errBadResult):
		reason = err.Error()
	case c.storeFault(err):
		reason = "the cached result could not be read"
	case err != nil:
		return executor.Check{}, fmt.Errorf("cache: %w", err)
	default:
		restored, why := c.materialize(ki, res)
		if why == "" {
			c.store.MarkUsed(ki.key, entry.Used)
			if restored {
				c.writeRecord(ki, res.OutputFiles)
			}
			c.fastRemember(a, ki, res.OutputFiles)
			c.count(true)
			check := executor.Check{UpToDate: true, Restored: restored, Key: ki.key}
			if restored && !res.StdoutDigest.IsZero() {
				// Shown again, as sccache does; a lost or damaged log
				// only means nothing is shown.
				check.Output, _ = c.store.ReadBlob(res.StdoutDigest)
			}
			return check, nil
		}
		reason = why
	}
	if c.upToDateByLastRun(a, ki) {
		return executor.Check{UpToDate: true, Key: ki.key}, nil
	}
	c.count(false)
	return executor.Check{Key: ki.key, Reason: reason}, nil
}

// materialize puts the outputs of result r in place. It reports whether
// it had to restore any, or why it could not ("" when it could).
func (c *Cache) materialize(ki *keyInfo, r *reapi.ActionResult) (restored bool, why string) {
	if len(r.OutputFiles) != len(ki.outputs) {
		return false, "the cached result does not list the action's outputs"
	}
	for i, of := range r.OutputFiles {
		if of.Path != ki.outputs[i] {
			return false, "the cached result does not list the action's outputs"
		}
	}
	for _, of := range r.OutputFiles {
		abs := c.abs(of.Path)
		if d, exec, err := c.memo.fileDigest(of.Path, abs); err == nil && d == of.Digest && exec == of.IsExecutable {
			continue
		}
		perm := fs.FileMode(0o644)
		if of.IsExecutable {
			perm = 0o755
		}
		fi, start, err := c.store.Restore(of.Digest, abs, perm)
		switch {
		case errors.Is(err, store.ErrMissing):
			return restored, fmt.Sprintf("the cached content of %s is no longer in the cache", of.Path)
		case errors.Is(err, store.ErrCorrupt):
			return restored, fmt.Sprintf("the cached content of %s was corrupt, and has been removed", of.Path)
		case err != nil:
			c.storeFault(err)
			return restored, fmt.Sprintf("could not restore %s from the cache: %v", of.Path, err)
		}
		restored = true
		c.memo.remember(of.Path, memoEntry{st: stampOf(fi), d: of.Digest, hashedAt: start.UnixNano()})
	}
	return restored, ""
}

// Store records a's outputs, as they are on disk, as the result of key.
// It first recomputes a's key: if the inputs changed while a ran, so that
// the outputs may not be those of key, it stores nothing (the next build
// runs a again). An action marked NoCache is never stored. A store that
// fails is no error (see fault.go): Store's errors are the action's (an
// output that is not a regular file, an input gone).
func (c *Cache) Store(ctx context.Context, a *graph.Action, key string, output []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.NoCache || key == "" {
		return nil
	}
	ki, err := c.computeKey(a)
	if err != nil {
		return err
	}
	if ki.key != key {
		// An input changed during the run: the outputs may not be those
		// of key. Often the command itself rewrote an input.
		if c.opts.Warn != nil {
			c.opts.Warn(fmt.Sprintf("the inputs of %s (%s) changed while it ran, so its result is not cached and it will run again; does the command modify its own inputs?", a.Owner, a.Mnemonic))
		}
		return nil
	}
	r := &reapi.ActionResult{}
	storing := true
	for _, out := range a.Outputs {
		of, err := c.putOutput(out, c.abs(out), &storing)
		if err != nil {
			return err
		}
		r.OutputFiles = append(r.OutputFiles, of)
	}
	if storing && len(output) > 0 {
		// The command's output is kept as REAPI's stdout (bld captures
		// stdout and stderr as one interleaved stream).
		d, err := c.store.PutBytes(output)
		switch {
		case err == nil:
			r.StdoutDigest = d
		case c.storeFault(err):
			storing = false
		default:
			return fmt.Errorf("cache: storing the output of %s: %w", a.Owner, err)
		}
	}
	if storing {
		if err := c.putResult(key, r); err != nil && !c.storeFault(err) {
			return fmt.Errorf("cache: %w", err)
		}
	}
	c.writeRecord(ki, r.OutputFiles)
	c.fastRemember(a, ki, r.OutputFiles)
	return nil
}

func (c *Cache) count(hit bool) {
	c.mu.Lock()
	if hit {
		c.hits++
	} else {
		c.misses++
	}
	c.mu.Unlock()
}
