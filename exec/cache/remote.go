package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"bld/exec/crash"
	"bld/exec/digest"
	"bld/exec/graph"
	"bld/exec/reapi"
	"bld/exec/remote"
)

// The remote cache.
//
// With Options.Remote, a REAPI action cache and CAS (bazel-remote,
// Buildbarn, ...) stand behind the store, with the same keys: an action's
// key is the hash of its Action message, and the remote action cache is
// addressed by that Action's digest (hash and size).
//
// Lookup: a key the store has no result for (and whose outputs are not
// those of this workspace's last run) is asked of the remote action cache.
// A result found there must list exactly the action's outputs and have
// exit code 0; its blobs and the command's output are downloaded into the
// store, each verified by digest, and it is then stored under the key and
// restored like any local hit. A result that cannot be had whole (a blob
// missing, or corrupt) is a miss, and the action runs.
//
// Read sets: an action with a depfile keeps, under its first-level key,
// the read sets it has had (readset.go). Remotely they are an ActionResult
// under the first-level Action's digest with one output file,
// remoteReadSets, whose content (a CAS blob, also inlined) is the
// manifest's encoding. A lookup tries the local sets, then the remote
// ones it has not tried; an upload merges its set into the remote
// manifest. Two builds uploading at once may lose a set: it is found again
// the next time the action runs, as with the local manifest.
//
// Upload: after an action ran here and its result was stored, unless
// Options.RemoteUpload is false, its blobs (outputs and output log, read
// from the store, where they cannot change) are uploaded, missing ones
// only, then its result; in the background, a few at a time, and Close
// waits for them. Outputs are never inlined in uploaded results.
//
// Actions marked NoRemoteCache are neither looked up nor uploaded.
//
// Faults: the remote cache is an optimization, like the store. The first
// failure of the service (unreachable, timing out, broken mid-build) is
// reported once through Options.Warn and turns the remote tier off for the
// rest of the build; a result or blob it does not have, or gives corrupt,
// is a miss.

// maxRemoteOutput is the longest command output a remote hit brings back
// to show again.
const maxRemoteOutput = 1 << 20

// outputSize is the length of what the command of r printed.
func outputSize(r *reapi.ActionResult) int64 {
	return int64(len(r.StdoutRaw)+len(r.StderrRaw)) + r.StdoutDigest.Size + r.StderrDigest.Size
}

// remoteReadSets is the path of the output file of a remote manifest.
const remoteReadSets = "bld-read-sets"

// remoteUploads is how many uploads run at once.
const remoteUploads = 4

// remoteTier is the state of the remote cache for one Cache.
type remoteTier struct {
	client   remote.Service
	upload   bool
	executes bool // the client runs actions too (Options.RemoteExecutes)
	warn     func(string)

	refusedOnce sync.Once

	uploads sync.WaitGroup
	slots   chan struct{}
	hits    atomic.Int64
}

// newRemoteTier returns the tier of client. Results are uploaded when
// upload is asked for and the server lets clients write its action cache
// (a read-only cache is no failure: it is only read).
func newRemoteTier(client remote.Service, upload, executes bool, warn func(string)) *remoteTier {
	return &remoteTier{client: client, upload: upload && client.CanUpdateActionCache(), executes: executes, warn: warn, slots: make(chan struct{}, remoteUploads)}
}

// usable reports whether a's result may come from, or go to, the remote
// cache.
func (c *Cache) remoteFor(a *graph.Action) *remoteTier {
	t := c.remote
	if t == nil || a.NoRemoteCache || t.client.Failed() {
		return nil
	}
	return t
}

// failed handles an error of the service: a missing result or blob is a
// miss; a cancelled build says nothing; a refused call is reported once;
// unavailability turns the tier off, with one warning.
func (t *remoteTier) failed(ctx context.Context, what string, err error) {
	if errors.Is(err, remote.ErrNotFound) || errors.Is(err, remote.ErrCorrupt) || ctx.Err() != nil {
		return
	}
	if !remote.IsUnavailable(err) {
		// The service works but refused this call (a permission, a
		// limit): that result stays local or missed; tell the user once.
		t.refusedOnce.Do(func() {
			if t.warn != nil {
				t.warn(fmt.Sprintf("the remote cache %s refused a call (%s: %v); what it refuses stays local", t.client.Target(), what, err))
			}
		})
		return
	}
	if t.client.MarkFailed() && t.warn != nil {
		// The client is shared: the executor, when it is this service,
		// stops with it, and only this warning says so.
		then := "going on without it"
		if t.executes {
			then += " and running actions on this machine from now on"
		}
		t.warn(fmt.Sprintf("the remote cache %s does not work (%s: %v); %s", t.client.Target(), what, err, then))
	}
}

// fetchRemote looks for the result of ki in the remote cache and, when it
// is there whole, stores it in the store under ki's key, so that a lookup
// restores it from there. It reports whether it did.
func (c *Cache) fetchRemote(ctx context.Context, t *remoteTier, ki *keyInfo) bool {
	// The small outputs come with the result (one call, not one more per
	// output): fetchOutput would read them whole anyway.
	r, ok := remoteResult(ctx, t, ki, remote.Inline{Output: true, Files: ki.outputs, UpTo: c.inlineMax()})
	if !ok {
		return false
	}
	local := &actionResult{}
	for i := range r.OutputFiles {
		lf, ok := c.fetchOutput(ctx, t, &r.OutputFiles[i])
		if !ok {
			return false
		}
		local.OutputFiles = append(local.OutputFiles, lf)
	}
	output, ok := remoteCommandOutput(ctx, t, r)
	if !ok {
		return false
	}
	if err := c.setOutput(local, output, c.store.PutBytes); err != nil {
		c.storeFault(err)
		return false
	}
	if err := c.putResult(ki.key, local); err != nil {
		c.storeFault(err)
		return false
	}
	t.hits.Add(1)
	return true
}

// remoteResult looks up the result of ki in the remote action cache, with
// the contents inline asks for, and returns it if it is one for ki's
// action: exit code 0, and exactly its outputs, in order.
func remoteResult(ctx context.Context, t *remoteTier, ki *keyInfo, inline remote.Inline) (*reapi.ActionResult, bool) {
	r, err := t.client.GetActionResult(ctx, ki.action, inline)
	if err != nil {
		t.failed(ctx, "looking up a result", err)
		return nil, false
	}
	if r.ExitCode != 0 || len(r.OutputFiles) != len(ki.outputs) {
		return nil, false
	}
	for i, of := range r.OutputFiles {
		if of.Path != ki.outputs[i] {
			return nil, false
		}
	}
	return r, true
}

// remoteCommandOutput returns what the command of r printed, to show it
// again on a restore as for a local hit; one too long to show (a local
// run keeps 1 MiB of it) is not fetched. It reports false when the
// service failed to give it.
func remoteCommandOutput(ctx context.Context, t *remoteTier, r *reapi.ActionResult) ([]byte, bool) {
	var buf bytes.Buffer
	if outputSize(r) <= maxRemoteOutput {
		if err := t.client.WriteOutput(ctx, r, &buf); err != nil {
			t.failed(ctx, "reading a command's output", err)
			return nil, false
		}
	}
	return buf.Bytes(), true
}

// fetchOutput brings the content of the output file of into the store
// (or inlines it in the local result, when small) and returns the local
// result's entry for it.
func (c *Cache) fetchOutput(ctx context.Context, t *remoteTier, of *reapi.OutputFile) (outputFile, bool) {
	d := of.Digest
	if !digest.ValidHash(d.Hash) {
		return outputFile{}, false
	}
	lf := outputFile{Path: of.Path, Digest: d, IsExecutable: of.IsExecutable}
	switch {
	case d.Size == 0:
		return lf, true
	case len(of.Contents) > 0:
		if digest.OfBytes(of.Contents) != d {
			return outputFile{}, false
		}
		if d.Size > c.inlineMax() {
			// The server inlined more than a local result holds.
			if _, err := c.store.PutBytes(of.Contents); err != nil {
				c.storeFault(err)
				return outputFile{}, false
			}
			return lf, true
		}
		lf.Contents = of.Contents
		return lf, true
	case d.Size <= c.inlineMax():
		b, err := t.client.ReadBlob(ctx, d)
		if err != nil {
			t.failed(ctx, "reading "+of.Path, err)
			return outputFile{}, false
		}
		lf.Contents = b
		return lf, true
	}
	if err := os.MkdirAll(c.stagingDir, 0o755); err != nil {
		return outputFile{}, false
	}
	tmp := filepath.Join(c.stagingDir, "remote-"+d.Hash)
	defer os.Remove(tmp)
	if err := t.client.DownloadFile(ctx, d, tmp, 0o644); err != nil {
		t.failed(ctx, "downloading "+of.Path, err)
		return outputFile{}, false
	}
	got, _, err := c.store.PutFile(tmp)
	if err != nil {
		c.storeFault(err)
		return outputFile{}, false
	}
	return lf, got == d // DownloadFile verified it; got differs only if the file changed under us
}

// remoteReadSetsOf returns the read sets the remote cache has for the
// first-level key ki.
func (c *Cache) remoteReadSetsOf(ctx context.Context, t *remoteTier, ki *keyInfo) *manifest {
	r, err := t.client.GetActionResult(ctx, ki.action, remote.Inline{Files: []string{remoteReadSets}, UpTo: math.MaxInt64})
	if err != nil {
		t.failed(ctx, "looking up read sets", err)
		return &manifest{}
	}
	for _, of := range r.OutputFiles {
		if of.Path != remoteReadSets {
			continue
		}
		data := of.Contents
		if len(data) == 0 {
			if data, err = t.client.ReadBlob(ctx, of.Digest); err != nil {
				t.failed(ctx, "reading read sets", err)
				return &manifest{}
			}
		} else if digest.OfBytes(data) != of.Digest {
			return &manifest{}
		}
		if m, err := parseManifest(data); err == nil {
			return m
		}
	}
	return &manifest{}
}

// uploadLater uploads the result r of key final (and, with level1, its
// read set to the first-level key's remote manifest) in the background.
// output is the command's output, r's stdout. r's blobs are read from the
// store, where they cannot change, but those in remoteOnly: outputs kept
// remote, already in the CAS.
func (c *Cache) uploadLater(ctx context.Context, t *remoteTier, level1, final *keyInfo, r *actionResult, output []byte, remoteOnly map[digest.Digest]bool) {
	t.uploads.Add(1)
	crash.Go(func() {
		defer t.uploads.Done()
		t.slots <- struct{}{}
		defer func() { <-t.slots }()
		if t.client.Failed() || ctx.Err() != nil {
			return
		}
		if err := c.upload(ctx, t, final, r, output, remoteOnly); err != nil {
			t.failed(ctx, "uploading a result", err)
			return
		}
		if level1 != nil {
			c.uploadReadSet(ctx, t, level1, final.readSet)
		}
	})
}

// upload puts r's blobs in the CAS, then r in the action cache under
// final's Action digest, without inlined contents.
func (c *Cache) upload(ctx context.Context, t *remoteTier, final *keyInfo, r *actionResult, output []byte, remoteOnly map[digest.Digest]bool) error {
	res := &reapi.ActionResult{OutputFiles: make([]reapi.OutputFile, 0, len(r.OutputFiles))}
	var blobs []remote.Blob
	for _, of := range r.OutputFiles {
		res.OutputFiles = append(res.OutputFiles, reapi.OutputFile{Path: of.Path, Digest: of.Digest, IsExecutable: of.IsExecutable})
		switch {
		case of.Digest.Size == 0, remoteOnly[of.Digest]:
		case len(of.Contents) > 0:
			blobs = append(blobs, remote.Blob{Digest: of.Digest, Data: of.Contents})
		default:
			blobs = append(blobs, remote.Blob{Digest: of.Digest, Path: c.store.BlobPath(of.Digest)})
		}
	}
	if !r.StdoutDigest.IsZero() {
		res.StdoutDigest = r.StdoutDigest
		blobs = append(blobs, remote.Blob{Digest: r.StdoutDigest, Data: output})
	}
	return t.client.UpdateActionResult(ctx, final.action, res, blobs)
}

// uploadReadSet adds set to the remote manifest of the first-level key
// level1.
func (c *Cache) uploadReadSet(ctx context.Context, t *remoteTier, level1 *keyInfo, set []string) {
	m := c.remoteReadSetsOf(ctx, t, level1)
	m.add(set)
	data := m.marshal()
	d := digest.OfBytes(data)
	res := &reapi.ActionResult{OutputFiles: []reapi.OutputFile{{Path: remoteReadSets, Digest: d}}}
	if err := t.client.UpdateActionResult(ctx, level1.action, res, []remote.Blob{{Digest: d, Data: data}}); err != nil {
		t.failed(ctx, "uploading read sets", err)
	}
}

// close waits for the uploads under way.
func (t *remoteTier) close() {
	if t != nil {
		t.uploads.Wait()
	}
}

// RemoteHits returns how many results this build restored from the remote
// cache.
func (c *Cache) RemoteHits() int64 {
	if c.remote == nil {
		return 0
	}
	return c.remote.hits.Load()
}

// InputFiles returns every file a may read, Inputs and Discoverable,
// directories expanded to the regular files below them, sorted by path,
// with their content digests and executable bits from the file-digest
// memo: the input root of a remote execution of a (exec/remoteexec).
func (c *Cache) InputFiles(ctx context.Context, a *graph.Action) ([]reapi.InputFile, error) {
	ki := &keyInfo{stamps: map[string]stamp{}}
	if err := c.hashInputs(ki, a.AllInputs()); err != nil {
		return nil, err
	}
	return ki.inputs, nil
}
