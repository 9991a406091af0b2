package cache

import (
	"errors"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// An action's result is kept in the store as an entry under its key: the
// reapi.ActionResult encoding, referring to the blobs of its outputs and
// of its output log.

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
	}
	return r, nil
}

// blobsOf lists the digests of the blobs an action result refers to: its
// output files and its output log.
func blobsOf(r *reapi.ActionResult) []digest.Digest {
	ds := make([]digest.Digest, 0, len(r.OutputFiles)+1)
	for _, of := range r.OutputFiles {
		ds = append(ds, of.Digest)
	}
	if !r.StdoutDigest.IsZero() {
		ds = append(ds, r.StdoutDigest)
	}
	return ds
}
