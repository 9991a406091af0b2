package cache

import (
	"bld/exec/digest"
	"bld/exec/graph"
)

// When the store has no usable result for an action's key (it could not
// store it: read-only, full, broken; or trimmed or lost it since), the
// action's outputs may still be in place from this workspace's last run
// under that very key: its explain record (explain.go) names the key and
// the digest of each output it left. If every output still has that
// digest, the outputs are those of the key, and the action need not run.
// This keeps a workspace incremental over a cache that does not work, and
// the outputs are stored again, so that a cache that lost them has them
// back (without the command's output, which the record does not keep).

// upToDateByLastRun reports whether a, whose key ki has no usable result
// in the store, is up to date by its last run in this workspace; if so,
// it records a as a hit, in the action record, and in the store.
func (c *Cache) upToDateByLastRun(a *graph.Action, ki *keyInfo) bool {
	outs, ok := c.outputsOfLastRun(ki)
	if !ok {
		return false
	}
	c.fastRemember(a, ki, outs)
	c.count(true)
	c.storeAgain(ki.key, outs)
	return true
}

// outputsOfLastRun returns the outputs of ki's action as its last run in
// this workspace left them, if that run had ki's key and every output is
// still in place with the content and executable bit it left.
func (c *Cache) outputsOfLastRun(ki *keyInfo) ([]outputFile, bool) {
	rec, err := c.lastRecord(ki.outputs)
	if err != nil || rec.Key != ki.key || len(rec.Outputs) != len(ki.outputs) {
		return nil, false
	}
	outs := make([]outputFile, len(rec.Outputs))
	for i, ro := range rec.Outputs {
		want, err := digest.Parse(ro.Digest)
		if err != nil || ro.Path != ki.outputs[i] {
			return nil, false
		}
		d, exec, err := c.fileDigest(ro.Path, c.abs(ro.Path))
		if err != nil || d != want || exec.exec != ro.Exec {
			return nil, false
		}
		outs[i] = outputFile{Path: ro.Path, Digest: d, IsExecutable: exec.exec}
	}
	return outs, true
}

// storeAgain stores outs, just verified, as the result of key. It gives
// up on any error (a store.Fault is reported): the outputs are up to date
// whether or not the store takes them, and an output that changed since it
// was verified stores nothing.
func (c *Cache) storeAgain(key string, outs []outputFile) {
	for _, of := range outs {
		if c.isKeptFile(of.Path) {
			return // its content is in the remote cache, not here
		}
	}
	for _, of := range outs {
		d, _, err := c.store.PutFile(c.abs(of.Path))
		if err != nil {
			c.storeFault(err)
			return
		}
		if d != of.Digest {
			return
		}
	}
	if err := c.putResult(key, &actionResult{OutputFiles: outs}); err != nil {
		c.storeFault(err)
	}
}
