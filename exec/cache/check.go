package cache

import (
	"context"
	"errors"
	"fmt"

	"bld/exec/cache/reapi"
	"bld/exec/executor"
	"bld/exec/graph"
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
	if c.memo == nil {
		return executor.Check{}, errors.New("cache: Check needs a cache opened with a workspace root")
	}
	if key, ok := c.fastCheck(a); ok {
		c.count(true)
		return executor.Check{UpToDate: true, Key: key}, nil
	}
	ki, err := c.computeKey(a)
	if err != nil {
		return executor.Check{}, err
	}
	res, mtime, err := c.readAC(ki.key)
	var reason string
	switch {
	case errors.Is(err, errMissing):
		reason = c.missReason(ki)
	case errors.Is(err, errCorrupt):
		reason = "the cached result was corrupt, and has been removed"
	case err != nil:
		return executor.Check{}, fmt.Errorf("cache: %w", err)
	default:
		restored, why := c.materialize(ki, res)
		if why == "" {
			c.touch(c.acPath(ki.key), mtime)
			if restored {
				c.writeRecord(ki)
			}
			c.fastRemember(a, ki, res.OutputFiles)
			c.count(true)
			check := executor.Check{UpToDate: true, Key: ki.key}
			if restored && !res.StdoutDigest.IsZero() {
				// Shown again, as sccache does; a lost or damaged log
				// only means nothing is shown.
				check.Output, _ = c.readBytes(res.StdoutDigest)
			}
			return check, nil
		}
		reason = why
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
		st, start, err := c.restore(of.Digest, abs, of.IsExecutable)
		switch {
		case errors.Is(err, errMissing):
			return restored, fmt.Sprintf("the cached content of %s is no longer in the cache", of.Path)
		case errors.Is(err, errCorrupt):
			return restored, fmt.Sprintf("the cached content of %s was corrupt, and has been removed", of.Path)
		case err != nil:
			return restored, fmt.Sprintf("could not restore %s from the cache: %v", of.Path, err)
		}
		restored = true
		c.memo.remember(of.Path, memoEntry{st: st, d: of.Digest, hashedAt: start.UnixNano()})
	}
	return restored, ""
}

// Store records a's outputs, as they are on disk, as the result of key.
// It first recomputes a's key: if the inputs changed while a ran, so that
// the outputs may not be those of key, it stores nothing (the next build
// runs a again). An action marked NoCache is never stored.
func (c *Cache) Store(ctx context.Context, a *graph.Action, key string, output []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.NoCache || key == "" {
		return nil
	}
	if c.memo == nil {
		return errors.New("cache: Store needs a cache opened with a workspace root")
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
	var added int64
	for _, out := range a.Outputs {
		abs := c.abs(out)
		start := c.now()
		d, st, n, err := c.putFile(abs)
		if err != nil {
			return fmt.Errorf("cache: storing output %s: %w", out, err)
		}
		added += n
		c.memo.rememberFile(out, abs, st, d, start)
		r.OutputFiles = append(r.OutputFiles, reapi.OutputFile{Path: out, Digest: d, IsExecutable: st.exec})
	}
	if len(output) > 0 {
		// The command's output is kept as REAPI's stdout (bld captures
		// stdout and stderr as one interleaved stream).
		d, n, err := c.putBytes(output)
		if err != nil {
			return fmt.Errorf("cache: storing the output of %s: %w", a.Owner, err)
		}
		added += n
		r.StdoutDigest = d
	}
	n, err := c.writeAC(key, r)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.mu.Lock()
	c.added += added + n
	c.entries++
	c.mu.Unlock()
	c.writeRecord(ki)
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
