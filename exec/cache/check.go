package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"bld/exec/digest"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/store"
)

var _ executor.Cache = (*Cache)(nil)

// ctimeSlack is how much earlier than the start of a check a file's
// status-change time may be and still count as a change during the run:
// the kernel stamps files from a clock that may lag the one bld reads by a
// tick.
const ctimeSlack = 20 * time.Millisecond

// Check computes a's key and reports whether its outputs are in place:
// already on disk with the content of the cached result (a stat per file
// when the file-digest memo knows them), or restored from the store. A
// result that cannot be restored whole (a blob missing or corrupt) is a
// miss. On a miss, Reason says why; with Options.Explain, what differs
// from the action's last run in this workspace. An action marked NoCache
// is always a miss, with an empty Key. An error means the key could not be
// computed (an input is missing or unreadable).
//
// An action with a depfile is looked up in two levels (readset.go): its
// first-level key gives the read sets it has had, and each read set whose
// files still exist gives a second-level key, whose result is used if it
// is there. On a miss, Key is the first-level key.
//
// First, though, when the workspace's action record (fast.go) shows that
// nothing a depends on changed since its outputs were last found, restored
// or stored, Check answers from the record alone, with the recorded key,
// without computing the key or reading the store.
func (c *Cache) Check(ctx context.Context, a *graph.Action) (executor.Check, error) {
	return c.check(ctx, a, nil, -1)
}

// CheckIn is Check of g.Actions[id] (executor.GraphCache). Within a build
// it uses what it knows of g: action id's record is likely in slot id
// (fastRecord), and the outputs of the actions found up to date are
// known by their producer's ID rather than by name.
func (c *Cache) CheckIn(ctx context.Context, g *graph.Graph, id int) (executor.Check, error) {
	return c.check(ctx, g.Actions[id], c.graphFor(g), id)
}

// check is Check; gs, if not nil, is the state of the graph whose action
// id a is.
func (c *Cache) check(ctx context.Context, a *graph.Action, gs *graphState, id int) (executor.Check, error) {
	if err := ctx.Err(); err != nil {
		return executor.Check{}, err
	}
	if a.NoCache {
		c.count(false)
		return executor.Check{Reason: "action is marked no-cache"}, nil
	}
	if c.opts.Rerun != nil {
		if why := c.opts.Rerun(a); why != "" {
			ki, err := c.computeKey(ctx, a)
			if err != nil {
				return executor.Check{}, err
			}
			c.count(false)
			c.mu.Lock()
			c.pending[ki.key] = ki
			c.mu.Unlock()
			return executor.Check{Key: ki.key, Reason: why, Program: ki.prog}, nil
		}
	}
	if key, ok := c.fastCheck(a, gs, id); ok {
		c.count(true)
		return executor.Check{UpToDate: true, Key: key}, nil
	}
	ki, err := c.computeKey(ctx, a)
	if err != nil {
		return executor.Check{}, err
	}
	var reason string
	if !ki.discover {
		check, why, hit := c.lookup(ctx, a, ki)
		if hit {
			return check, nil
		}
		reason = why
	} else {
		local := c.readManifest(ki.key).sets
		for _, set := range local {
			k2, err := c.secondLevel(ki, set)
			if err != nil {
				continue // a file it read is gone: not this set
			}
			if check, _, hit := c.lookup(ctx, a, k2); hit {
				return check, nil
			}
		}
		// The store may have no manifest (it cannot be written, or lost
		// it) while this workspace's last run is still in place.
		if rec, err := c.lastRecord(ki.outputs); err == nil {
			if k2, err := c.secondLevel(ki, rec.ReadSet); err == nil && c.upToDateByLastRun(a, k2) {
				if err := c.addReadSet(ki.key, k2.readSet); err != nil {
					c.storeFault(err)
				}
				return executor.Check{UpToDate: true, Key: k2.key}, nil
			}
		}
		if check, hit := c.lookupRemoteReadSets(ctx, a, ki, local); hit {
			return check, nil
		}
		reason = c.missReason(ki)
		c.stampCandidates(ki, a)
	}
	c.count(false)
	c.mu.Lock()
	c.pending[ki.key] = ki
	c.mu.Unlock()
	return executor.Check{Key: ki.key, Reason: reason, Program: ki.prog}, nil
}

// lookup looks for the result of key ki in the store, then in the remote
// cache, and puts its outputs in place. It returns the Check of a hit, or
// why it missed.
func (c *Cache) lookup(ctx context.Context, a *graph.Action, ki *keyInfo) (executor.Check, string, bool) {
	check, why, hit := c.lookupLocal(a, ki)
	if hit {
		return check, why, hit
	}
	t := c.remoteFor(a)
	if t != nil && c.keeping() {
		if check, hit := c.fetchRemoteKept(ctx, t, a, ki); hit {
			return check, "", true
		}
		return check, why, false
	}
	if t == nil || !c.fetchRemote(ctx, t, ki) {
		return check, why, false
	}
	if check, _, hit := c.lookupLocal(a, ki); hit {
		check.Remote = true
		return check, "", true
	}
	return check, why, false
}

// lookupRemoteReadSets looks for the result of the first-level key ki
// under the read sets the remote cache knows and this workspace's store
// does not (tried). A set that hits is added to the store's manifest.
func (c *Cache) lookupRemoteReadSets(ctx context.Context, a *graph.Action, ki *keyInfo, tried [][]string) (executor.Check, bool) {
	t := c.remoteFor(a)
	if t == nil {
		return executor.Check{}, false
	}
	for _, set := range c.remoteReadSetsOf(ctx, t, ki).sets {
		if slices.ContainsFunc(tried, func(s []string) bool { return slices.Equal(s, set) }) {
			continue
		}
		k2, err := c.secondLevel(ki, set)
		if err != nil {
			continue
		}
		if check, _, hit := c.lookup(ctx, a, k2); hit {
			if err := c.addReadSet(ki.key, k2.readSet); err != nil {
				c.storeFault(err)
			}
			return check, true
		}
	}
	return executor.Check{}, false
}

// lookupLocal looks for the result of key ki in the store and puts its
// outputs in place. It returns the Check of a hit, or why it missed.
func (c *Cache) lookupLocal(a *graph.Action, ki *keyInfo) (executor.Check, string, bool) {
	entry, err := c.store.GetEntry(ki.key)
	var res *actionResult
	if err == nil {
		res, err = decodeResult(entry.Payload)
	}
	switch {
	case errors.Is(err, store.ErrMissing):
		return c.lastRunOr(a, ki, "")
	case errors.Is(err, store.ErrCorrupt):
		return c.lastRunOr(a, ki, "the cached result was corrupt, and has been removed")
	case errors.Is(err, errBadResult):
		return c.lastRunOr(a, ki, err.Error())
	case c.storeFault(err):
		return c.lastRunOr(a, ki, "the cached result could not be read")
	case err != nil:
		return c.lastRunOr(a, ki, fmt.Sprintf("reading the cached result: %v", err))
	}
	restored, why := c.materialize(ki, res)
	if why != "" {
		return c.lastRunOr(a, ki, why)
	}
	c.store.MarkUsed(ki.key, entry.Used)
	if restored {
		c.writeRecord(ki, res.OutputFiles)
	}
	c.fastRemember(a, ki, res.OutputFiles)
	c.count(true)
	check := executor.Check{UpToDate: true, Restored: restored, Key: ki.key}
	switch {
	case !restored:
	case res.StdoutRaw != nil:
		check.Output = res.StdoutRaw // decodeResult checked it
	case !res.StdoutDigest.IsZero():
		// Shown again, as sccache does; a lost or damaged log only
		// means nothing is shown.
		check.Output, _ = c.store.ReadBlob(res.StdoutDigest)
	}
	return check, "", true
}

// lastRunOr answers a lookup of ki that found no usable result: up to
// date if this workspace's last run of a had key ki and left its outputs
// as they are (lastrun.go), else a miss, because of why ("" means: no
// result under ki; missReason says more).
func (c *Cache) lastRunOr(a *graph.Action, ki *keyInfo, why string) (executor.Check, string, bool) {
	if c.upToDateByLastRun(a, ki) {
		return executor.Check{UpToDate: true, Key: ki.key}, "", true
	}
	if why == "" {
		why = c.missReason(ki)
	}
	return executor.Check{}, why, false
}

// stampCandidates stats the candidates of a before it runs, so that Store
// can tell whether one it read changed during the run.
func (c *Cache) stampCandidates(ki *keyInfo, a *graph.Action) {
	for _, p := range a.Discoverable() {
		if fi, err := os.Stat(c.abs(p)); err == nil {
			ki.stamps[p] = stampOf(fi)
		} else if c.isKeptFile(p) {
			if d, st, err := c.fileDigest(p, c.abs(p)); err == nil {
				ki.stamp(p, st, d)
			}
		}
	}
}

// Store records a's outputs, as they are on disk, as the result of key,
// the Key that Check returned. A store that fails is no error (see
// fault.go): Store's errors are the action's (an output that is not a
// regular file, an input gone). If a file the key covers (an input, the
// tool, a candidate) has another stamp than when Check hashed it, or a file
// the depfile names changed after Check began, the outputs may not be
// those of the inputs as they are now: Store then keeps nothing, not even
// the workspace's record that the action is up to date, and warns. For an
// action with a depfile, the result is stored under the second-level key
// of what the depfile says it read, and that read set is added to the
// first-level key's manifest. An action marked NoCache is never stored.
func (c *Cache) Store(ctx context.Context, a *graph.Action, key string, output []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.NoCache || key == "" {
		return nil
	}
	c.mu.Lock()
	ki := c.pending[key]
	delete(c.pending, key)
	c.mu.Unlock()
	if ki == nil {
		var err error
		if ki, err = c.computeKey(ctx, a); err != nil {
			return err
		}
		if ki.key != key {
			c.declineChanged(a, "its inputs")
			return nil
		}
	}
	if changed := c.changedSince(ki, ki.stamps); len(changed) > 0 {
		c.declineChanged(a, strings.Join(changed, ", "))
		return nil
	}
	final := ki
	if ki.discover {
		k2, why := c.discovered(a, ki)
		if k2 == nil {
			c.fast.remove(actionID(a.Outputs))
			c.warn(fmt.Sprintf("%s (%s) ran, but its result is not cached: %s", a.Owner, a.Mnemonic, why))
			return nil
		}
		final = k2
	}
	r := &actionResult{}
	storing := true
	// Outputs kept remote (kept.go) ran remotely and stay there: the
	// store cannot hold a result without their bytes, but the remote
	// cache can, under this key, for other checkouts.
	var remoteOnly map[digest.Digest]bool
	for _, out := range a.Outputs {
		if c.isKeptFile(out) {
			k, _ := c.kept.get(out)
			r.OutputFiles = append(r.OutputFiles, outputFile{Path: out, Digest: k.d, IsExecutable: k.exec})
			if remoteOnly == nil {
				remoteOnly = map[digest.Digest]bool{}
			}
			remoteOnly[k.d] = true
			continue
		}
		of, err := c.putOutput(out, c.abs(out), &storing)
		if err != nil {
			return err
		}
		c.kept.forget(out)
		r.OutputFiles = append(r.OutputFiles, of)
	}
	if storing && len(output) > 0 {
		// The command's output is kept as REAPI's stdout (bld captures
		// stdout and stderr as one interleaved stream).
		err := c.setOutput(r, output, c.store.PutBytes)
		switch {
		case err == nil:
		case c.storeFault(err):
			storing = false
		default:
			return fmt.Errorf("cache: storing the output of %s: %w", a.Owner, err)
		}
	}
	if storing {
		var err error
		if remoteOnly == nil {
			err = c.putResult(final.key, r)
			if err == nil && ki.discover {
				err = c.addReadSet(ki.key, final.readSet)
			}
			if err != nil && !c.storeFault(err) {
				return fmt.Errorf("cache: %w", err)
			}
		}
		if t := c.remoteFor(a); err == nil && t != nil && t.upload {
			var level1 *keyInfo
			if ki.discover {
				level1 = ki
			}
			c.uploadLater(ctx, t, level1, final, r, output, remoteOnly)
		}
	}
	c.writeRecord(final, r.OutputFiles)
	c.fastRemember(a, final, r.OutputFiles)
	return nil
}

// discovered reads a's depfile after a ran and returns the second-level
// key of what it read, or nil and why the result cannot be kept.
func (c *Cache) discovered(a *graph.Action, ki *keyInfo) (*keyInfo, string) {
	data, err := os.ReadFile(c.abs(a.Depfile()))
	if err != nil {
		return nil, fmt.Sprintf("reading its depfile: %v", err)
	}
	set, err := readSetOf(c.root, a, data, func(rel string) bool {
		fi, err := os.Stat(c.abs(rel))
		return err == nil && fi.Mode().IsRegular() || c.isKeptFile(rel)
	})
	if err == nil {
		err = recordablePaths(set)
	}
	if err != nil {
		return nil, fmt.Sprintf("its depfile %s: %v", a.Depfile(), err)
	}
	k2, err := c.secondLevel(ki, set)
	if err != nil {
		return nil, fmt.Sprintf("a file its depfile names cannot be read: %v", err)
	}
	// Files it read that were not stamped before the run (outside the
	// workspace, or undeclared): changed if their status changed after
	// the check began.
	since := ki.checked.Add(-ctimeSlack).UnixNano()
	var changed []string
	for _, p := range set {
		if _, before := ki.stamps[p]; before {
			continue
		}
		if st := k2.stamps[p]; st.ctime >= since || st.size < 0 {
			changed = append(changed, p)
		}
	}
	if len(changed) > 0 {
		return nil, fmt.Sprintf("%s changed while it ran, so it will run again", strings.Join(changed, ", "))
	}
	return k2, ""
}

// changedSince lists the files (by memo key) whose stamp is not the one
// in stamps, in path order.
func (c *Cache) changedSince(ki *keyInfo, stamps map[string]stamp) []string {
	var changed []string
	for p, want := range stamps {
		if want.size == keptStampSize {
			// Kept remote when the key was computed: unchanged while it
			// has the digest the key covers, kept or downloaded since.
			if d, ok := ki.kept[p]; !ok || !c.keptUnchanged(p, d) {
				changed = append(changed, p)
			}
			continue
		}
		// Relative to the root's descriptor: no path is joined, and the
		// kernel walks only the relative one.
		if st, _, err := c.statFile(p); err != nil || st != want {
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	return changed
}

// declineChanged warns that a's result is not kept because what is
// listed in what changed while it ran, and forgets that a is up to date.
func (c *Cache) declineChanged(a *graph.Action, what string) {
	c.fast.remove(actionID(a.Outputs))
	c.warn(fmt.Sprintf("%s changed while %s (%s) ran, so its result is not cached and it will run again; does the command modify its own inputs?", what, a.Owner, a.Mnemonic))
}

func (c *Cache) warn(msg string) {
	if c.opts.Warn != nil {
		c.opts.Warn(msg)
	}
}

// readManifest returns the read sets recorded under the first-level key
// key; none when there is no manifest or it cannot be read.
func (c *Cache) readManifest(key string) *manifest {
	entry, err := c.store.GetEntry(key)
	if err != nil {
		c.storeFault(err)
		return &manifest{}
	}
	m, err := parseManifest(entry.Payload)
	if err != nil {
		return &manifest{}
	}
	c.store.MarkUsed(key, entry.Used)
	return m
}

// addReadSet records set as the newest read set of the first-level key.
// Two builds adding at once may lose one set: it is found again the next
// time the action runs.
func (c *Cache) addReadSet(key string, set []string) error {
	m := c.readManifest(key)
	m.add(set)
	return c.store.PutEntry(key, m.marshal(), nil)
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
