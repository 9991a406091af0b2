package cache

import (
	"fmt"

	"bld/exec/store"
)

// The store is an optimization, never a reason to fail: a store.Fault (a
// cache directory that is read-only, full, broken, or holds a directory
// where a file should be) makes a read a miss and a write store nothing,
// and is reported once per Cache through Options.Warn. The outputs of an
// action that ran are kept, and the workspace's own records (the action
// record, explain records) are still written, so that an unusable cache
// costs rebuilds of what it could not restore, never a failed build or a
// rebuild of what is already in place.

// storeFault reports whether err is a store.Fault, and warns about the
// first one.
func (c *Cache) storeFault(err error) bool {
	if !store.IsFault(err) {
		return false
	}
	c.faultOnce.Do(func() {
		if c.opts.Warn != nil {
			c.opts.Warn(fmt.Sprintf("the action cache does not work (%v); building without it where it fails", err))
		}
	})
	return true
}

// putOutput stores the output out, whose file is abs, in the store and
// returns what the action result says of it. Once the store has failed
// for this action (*storing is false, or becomes false on a Fault), it
// only digests the file. Its errors are the action's: an output that is
// not a regular file, or cannot be read.
func (c *Cache) putOutput(out, abs string, storing *bool) (outputFile, error) {
	if *storing {
		start := c.now()
		if of, ok, err := c.inlineOutput(out, abs, start); ok || err != nil {
			return of, err
		}
		d, fi, err := c.store.PutFile(abs)
		if err == nil {
			st := stampOf(fi)
			c.memo.rememberFile(out, abs, st, d, start)
			return outputFile{Path: out, Digest: d, IsExecutable: st.exec}, nil
		}
		if !c.storeFault(err) {
			return outputFile{}, fmt.Errorf("cache: storing output %s: %w", out, err)
		}
		*storing = false
	}
	d, exec, err := c.fileDigest(out, abs)
	if err != nil {
		return outputFile{}, fmt.Errorf("cache: output %s: %w", out, err)
	}
	return outputFile{Path: out, Digest: d, IsExecutable: exec.exec}, nil
}
