package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"bld/exec/cache/digest"
	"bld/exec/cache/reapi"
)

// This file is the on-disk layout described in the package comment: where
// each kind of file lives, and how it is written and read atomically.

const (
	acHeader      = "bld-ac-1 "
	tmpPrefix     = ".tmp-"
	touchInterval = time.Hour          // how stale a use time may get before a hit refreshes it
	tmpMaxAge     = 1 * time.Hour      // temporary files older than this were abandoned
	blobMode      = fs.FileMode(0o444) // blobs are never written after their rename
)

var (
	errMissing = errors.New("not in the cache")
	errCorrupt = errors.New("corrupt")
)

func shard(dir, kind, hash string) string {
	return filepath.Join(dir, kind, hash[:2], hash)
}

func (c *Cache) blobPath(hash string) string  { return shard(c.dir, "cas", hash) }
func (c *Cache) acPath(key string) string     { return shard(c.dir, "ac", key) }
func (c *Cache) explainPath(id string) string { return shard(c.dir, "explain", id) }
func (c *Cache) tmpDir(kind string) string    { return filepath.Join(c.dir, kind) }

// createTemp creates a temporary file in dir, creating dir if needed.
func createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
	}
	return f, err
}

// commit closes the temporary file f, gives it mode perm and renames it to
// name (creating name's directory if needed); on any failure it removes f.
func commit(f *os.File, name string, perm fs.FileMode) error {
	err := f.Close()
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(name), 0o777); err == nil {
				err = os.Rename(f.Name(), name)
			}
		}
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// writeFileAtomic writes data to name through a temporary file in name's
// directory and a rename, so that name is never seen incomplete.
func writeFileAtomic(name string, data []byte, perm fs.FileMode) error {
	f, err := createTemp(filepath.Dir(name))
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commit(f, name, perm)
}

// putFile copies the file abs into the CAS, hashing it on the way, and
// returns its digest, the stamp the file had when opened, and how many
// bytes the cache grew by (0 if the blob was already there).
func (c *Cache) putFile(abs string) (d digest.Digest, st stamp, added int64, err error) {
	src, err := os.Open(abs)
	if err != nil {
		return d, st, 0, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return d, st, 0, err
	}
	if !fi.Mode().IsRegular() {
		return d, st, 0, fmt.Errorf("%s is not a regular file", abs)
	}
	st = stampOf(fi)
	tmp, err := createTemp(c.tmpDir("cas"))
	if err != nil {
		return d, st, 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return d, st, 0, err
	}
	d = digest.Digest{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}
	final := c.blobPath(d.Hash)
	if _, err := os.Lstat(final); err != nil {
		added = n
	}
	// Renaming over an existing blob replaces it with identical bytes
	// (or repairs a damaged one); a reader holding the old one open
	// still reads it whole.
	if err := commit(tmp, final, blobMode); err != nil {
		return d, st, 0, err
	}
	return d, st, added, nil
}

// putBytes stores data as a blob and returns its digest and how many bytes
// the cache grew by (0 if the blob was already there).
func (c *Cache) putBytes(data []byte) (digest.Digest, int64, error) {
	d := digest.OfBytes(data)
	final := c.blobPath(d.Hash)
	if _, err := os.Lstat(final); err == nil {
		return d, 0, nil
	}
	tmp, err := createTemp(c.tmpDir("cas"))
	if err != nil {
		return d, 0, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return d, 0, err
	}
	if err := commit(tmp, final, blobMode); err != nil {
		return d, 0, err
	}
	return d, d.Size, nil
}

// readBytes returns the content of blob d, verified. It returns errMissing
// if the blob is not there, and errCorrupt (after removing it) if its
// content does not match d.
func (c *Cache) readBytes(d digest.Digest) ([]byte, error) {
	blob := c.blobPath(d.Hash)
	data, err := os.ReadFile(blob)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errMissing
	}
	if err != nil {
		return nil, err
	}
	if digest.OfBytes(data) != d {
		os.Remove(blob)
		return nil, errCorrupt
	}
	return data, nil
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

// writeAC writes the action result r for key.
func (c *Cache) writeAC(key string, r *reapi.ActionResult) (int64, error) {
	payload := r.Marshal()
	sum := sha256.Sum256(payload)
	data := append([]byte(acHeader+hex.EncodeToString(sum[:])+"\n"), payload...)
	return int64(len(data)), writeFileAtomic(c.acPath(key), data, 0o644)
}

// readAC reads and verifies the action result for key. It returns
// errMissing if there is none, and errCorrupt (after removing the entry)
// if it does not verify.
func (c *Cache) readAC(key string) (*reapi.ActionResult, time.Time, error) {
	name := c.acPath(key)
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, errMissing
		}
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, time.Time{}, err
	}
	r, err := parseAC(data)
	if err != nil {
		os.Remove(name)
		return nil, time.Time{}, errCorrupt
	}
	return r, fi.ModTime(), nil
}

// parseAC verifies and decodes the content of an ac file.
func parseAC(data []byte) (*reapi.ActionResult, error) {
	line, payload, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !strings.HasPrefix(string(line), acHeader) {
		return nil, errCorrupt
	}
	sum := sha256.Sum256(payload)
	if string(line[len(acHeader):]) != hex.EncodeToString(sum[:]) {
		return nil, errCorrupt
	}
	r, err := reapi.UnmarshalActionResult(payload)
	if err != nil {
		return nil, errCorrupt
	}
	for _, f := range r.OutputFiles {
		if !digest.ValidHash(f.Digest.Hash) {
			return nil, errCorrupt
		}
	}
	return r, nil
}

// restore copies blob d to the file dest (replacing it atomically) with
// mode 0755 if exec, else 0644, and verifies the copy. It returns
// errMissing if the blob is not there, and errCorrupt (after removing the
// blob) if its content does not match d. It returns the stamp of dest as
// restored and when its hashing started, for the file-digest memo.
func (c *Cache) restore(d digest.Digest, dest string, exec bool) (stamp, time.Time, error) {
	blob := c.blobPath(d.Hash)
	src, err := os.Open(blob)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return stamp{}, time.Time{}, errMissing
		}
		return stamp{}, time.Time{}, err
	}
	defer src.Close()
	if fi, err := src.Stat(); err == nil {
		c.touch(blob, fi.ModTime())
	}
	tmp, err := createTemp(filepath.Dir(dest))
	if err != nil {
		return stamp{}, time.Time{}, err
	}
	fail := func(err error) (stamp, time.Time, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return stamp{}, time.Time{}, err
	}
	if _, err := io.Copy(tmp, src); err != nil { // copy_file_range where possible
		return fail(err)
	}
	start := c.now()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	got, err := digest.OfReader(tmp)
	if err != nil {
		return fail(err)
	}
	if got != d {
		os.Remove(blob)
		return fail(errCorrupt)
	}
	perm := fs.FileMode(0o644)
	if exec {
		perm = 0o755
	}
	if err := commit(tmp, dest, perm); err != nil {
		return stamp{}, time.Time{}, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return stamp{}, time.Time{}, err
	}
	return stampOf(fi), start, nil
}

// touch marks the cache file name as used now, if its use time mtime is
// older than touchInterval (so that a busy cache is not rewritten on every
// hit). Failures are ignored: recency is advisory.
func (c *Cache) touch(name string, mtime time.Time) {
	now := c.now()
	if now.Sub(mtime) < touchInterval {
		return
	}
	os.Chtimes(name, now, now)
}
