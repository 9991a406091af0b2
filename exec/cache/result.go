package cache

import (
	"errors"
	"fmt"
	"time"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/store"
)

// An action's result is kept in the store as an entry under its key: the
// encoding of a REAPI ActionResult (reapi.ActionResult), referring to the
// blobs of its outputs and of its output log. An output of at most Options.InlineMax bytes is inlined in
// the result (OutputFile.Contents, as REAPI allows) instead: a result
// then costs one file of the store, not one per output, and a file
// creation costs more than copying a few kilobytes. The command's output,
// when it is as small, is inlined likewise (StdoutRaw, with its digest). An empty output is
// neither inlined nor a blob: its digest says it all.

// defaultInlineMax is the size up to which outputs are inlined in results
// unless Options.InlineMax says otherwise.
const defaultInlineMax = 8 << 10

// inlineMax is the size up to which outputs are inlined; -1 for none.
func (c *Cache) inlineMax() int64 {
	switch {
	case c.opts.InlineMax < 0:
		return -1
	case c.opts.InlineMax == 0:
		return defaultInlineMax
	}
	return c.opts.InlineMax
}

var errBadResult = errors.New("the cached result could not be decoded")

// An actionResult is what the cache keeps of an action's run: a REAPI
// ActionResult, of which bld sets OutputFiles (in the action's output
// order), StdoutDigest, the digest of the command's output (stdout and
// stderr, interleaved; zero when there was none), and StdoutRaw, that
// output when it is inlined in the result, as small outputs are (nil when
// it is a blob). putResult and decodeResult encode and decode it.
type actionResult = reapi.ActionResult

// setOutput sets the command's output of r to output: inlined if it is
// small enough, else as the blob stored by put.
func (c *Cache) setOutput(r *actionResult, output []byte, put func([]byte) (digest.Digest, error)) error {
	if len(output) == 0 {
		return nil
	}
	if max := c.inlineMax(); max >= 0 && int64(len(output)) <= max {
		r.StdoutDigest, r.StdoutRaw = digest.OfBytes(output), output
		return nil
	}
	d, err := put(output)
	if err == nil {
		r.StdoutDigest = d
	}
	return err
}

// An outputFile is an ActionResult's OutputFile. Contents is the file's
// content when it is inlined in the result, nil when it is a blob of the
// store (or empty).
type outputFile = reapi.OutputFile

// putResult stores r as the result of key. A result the store declines
// because a concurrent trim removed (or is removing) its blobs is not an
// error: it is as if the trim had come just after.
func (c *Cache) putResult(key string, r *actionResult) error {
	payload, err := reapi.Marshal(r)
	if err != nil {
		return fmt.Errorf("cache: the result of %s: %w", key, err)
	}
	err = c.store.PutEntry(key, payload, blobsOf(r))
	if errors.Is(err, store.ErrNotStored) {
		return nil
	}
	return err
}

// decodeResult decodes the payload of a result entry, and checks that its
// outputs have valid digests, and inlined contents of those digests.
// Fields bld does not set are ignored.
func decodeResult(payload []byte) (*actionResult, error) {
	r, err := reapi.UnmarshalActionResult(payload)
	if err != nil {
		return nil, errBadResult
	}
	// What bld does not set is dropped.
	r.ExitCode, r.StderrRaw, r.StderrDigest = 0, nil, digest.Digest{}
	if len(r.StdoutRaw) > 0 && digest.OfBytes(r.StdoutRaw) != r.StdoutDigest {
		return nil, errBadResult
	}
	for _, f := range r.OutputFiles {
		if !digest.ValidHash(f.Digest.Hash) {
			return nil, errBadResult
		}
		if (len(f.Contents) > 0 || f.Digest.Size == 0) && digest.OfBytes(f.Contents) != f.Digest {
			return nil, errBadResult
		}
	}
	return r, nil
}

// blobsOf lists the digests of the blobs an action result refers to: its
// output files and its output log.
func blobsOf(r *actionResult) []digest.Digest {
	ds := make([]digest.Digest, 0, len(r.OutputFiles)+1)
	for _, of := range r.OutputFiles {
		if !inBlob(of) {
			continue
		}
		ds = append(ds, of.Digest)
	}
	if !r.StdoutDigest.IsZero() && r.StdoutRaw == nil {
		ds = append(ds, r.StdoutDigest)
	}
	return ds
}

// inBlob reports whether an output's content is a blob of the store, not
// inlined in the result nor empty.
func inBlob(of outputFile) bool {
	return len(of.Contents) == 0 && of.Digest.Size > 0
}

// inlineOutput reads out, whose file is abs, into an OutputFile with its
// contents inlined, if it is small enough (ok); start is when the read
// began, for the file-digest memo. Its errors are the action's: an
// output that is not a regular file, or cannot be read. abs is expected
// to be a regular file (the executor checked the outputs with lstat when
// the command ended): it is opened without another stat first, and
// fstat checks it before it is read (readHashed).
func (c *Cache) inlineOutput(out, abs string, start time.Time) (outputFile, bool, error) {
	max := c.inlineMax()
	if max < 0 {
		return outputFile{}, false, nil
	}
	h, err := readHashed(abs, max)
	if err != nil {
		return outputFile{}, false, fmt.Errorf("cache: output %s: %w", out, err)
	}
	if h.before.size > max || !h.consistent() && h.after.size != int64(len(h.data)) {
		// Too large, or it grew or shrank while read: store it as a
		// blob, read again.
		return outputFile{}, false, nil
	}
	if h.consistent() {
		c.memo.rememberHashed(out, &h, start.UnixNano())
	}
	return outputFile{Path: out, Digest: h.d, IsExecutable: h.before.exec, Contents: h.data}, true, nil
}
