package cache

import (
	"errors"
	"fmt"
	"io"
	"time"

	"bld/exec/regfile"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// An action's result is kept in the store as an entry under its key: the
// reapi.ActionResult encoding, referring to the blobs of its outputs and
// of its output log. An output of at most Options.InlineMax bytes is inlined in
// the result (OutputFile.Contents, as REAPI allows) instead: a result
// then costs one file of the store, not one per output, and a file
// creation costs more than copying a few kilobytes. An empty output is
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

// putResult stores r as the result of key.
func (c *Cache) putResult(key string, r *reapi.ActionResult) error {
	return c.store.PutEntry(key, r.Marshal(), blobsOf(r))
}

// decodeResult decodes the payload of a result entry.
func decodeResult(payload []byte) (*reapi.ActionResult, error) {
	r, err := reapi.UnmarshalActionResult(payload)
	if err != nil {
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
func blobsOf(r *reapi.ActionResult) []digest.Digest {
	ds := make([]digest.Digest, 0, len(r.OutputFiles)+1)
	for _, of := range r.OutputFiles {
		if !inBlob(of) {
			continue
		}
		ds = append(ds, of.Digest)
	}
	if !r.StdoutDigest.IsZero() {
		ds = append(ds, r.StdoutDigest)
	}
	return ds
}

// inBlob reports whether an output's content is a blob of the store, not
// inlined in the result nor empty.
func inBlob(of reapi.OutputFile) bool {
	return len(of.Contents) == 0 && of.Digest.Size > 0
}

// inlineOutput reads out, whose file is abs, into an OutputFile with its
// contents inlined, if it is small enough (ok); start is when the read
// began, for the file-digest memo. Its errors are the action's: an
// output that is not a regular file, or cannot be read.
func (c *Cache) inlineOutput(out, abs string, start time.Time) (reapi.OutputFile, bool, error) {
	max := c.inlineMax()
	if max < 0 {
		return reapi.OutputFile{}, false, nil
	}
	f, fi, err := regfile.Open(abs, true)
	if err != nil {
		return reapi.OutputFile{}, false, fmt.Errorf("cache: output %s: %w", out, err)
	}
	defer f.Close()
	if fi.Size() > max {
		return reapi.OutputFile{}, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return reapi.OutputFile{}, false, fmt.Errorf("cache: output %s: %w", out, err)
	}
	if int64(len(data)) > max {
		return reapi.OutputFile{}, false, nil // it grew: store it as a blob
	}
	d := digest.OfBytes(data)
	st := stampOf(fi)
	c.memo.rememberFile(out, abs, st, d, start)
	of := reapi.OutputFile{Path: out, Digest: d, IsExecutable: st.exec}
	if len(data) > 0 {
		of.Contents = data
	}
	return of, true, nil
}
