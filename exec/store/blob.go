package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"bld/exec/digest"
	"bld/exec/regfile"
)

// blobMode is the mode of every blob: blobs are never written after their
// rename, and a read-only file guards against writes through a hard link.
const blobMode = fs.FileMode(0o444)

// PutFile copies the regular file name (following symbolic links) into
// the store, hashing it on the way, and returns its digest and what stat
// said of it when it was opened (a caller comparing that with a later stat
// learns whether the file changed while it was copied). It never blocks on
// a FIFO or a device: name is checked before it is opened (see
// regfile.Open), and anything but a regular file is a
// *regfile.NotRegularError. Errors of the store are Faults; errors of name
// are not.
func (s *Store) PutFile(name string) (digest.Digest, os.FileInfo, error) {
	src, fi, err := regfile.Open(name, true)
	if err != nil {
		return digest.Digest{}, nil, err
	}
	defer src.Close()
	// Hash first: a blob the store already has (an output that is the
	// same as an earlier one's) costs a read, not a file creation. The
	// copy below hashes again: the file may change in between.
	dir := filepath.Join(s.dir, casDir)
	if d, err := digest.OfReader(src); err == nil {
		if s.hasBlob(d) {
			return d, fi, nil
		}
		dir = filepath.Dir(s.blobPath(d.Hash))
	}
	if t := s.tempDir(); t != "" {
		dir = t
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return digest.Digest{}, nil, err
	}
	tmp, err := createTemp(dir, tmpPrefix, blobMode)
	if err != nil {
		return digest.Digest{}, nil, fault("write", dir, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		if causedBy(err, tmp.Name()) {
			return digest.Digest{}, nil, fault("write", tmp.Name(), err)
		}
		return digest.Digest{}, nil, err
	}
	d := digest.Digest{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}
	final := s.blobPath(d.Hash)
	_, statErr := os.Lstat(final)
	// Renaming over an existing blob replaces it with identical bytes (or
	// repairs a damaged one); a reader holding the old one open still
	// reads it whole.
	if err := commit(tmp, final); err != nil {
		return digest.Digest{}, nil, fault("write", final, err)
	}
	if statErr != nil {
		s.addBytes(n)
	}
	return d, fi, nil
}

// hasBlob reports whether the store holds blob d, intact: a damaged one
// (the same size, other bytes) is written again, not trusted.
func (s *Store) hasBlob(d digest.Digest) bool {
	f, fi, err := openStoreFile(s.blobPath(d.Hash))
	if err != nil {
		return false
	}
	defer f.Close()
	if fi.Size() != d.Size {
		return false
	}
	got, err := digest.OfReader(f)
	return err == nil && got == d
}

// PutBytes stores data as a blob and returns its digest. Its errors are
// Faults.
func (s *Store) PutBytes(data []byte) (digest.Digest, error) {
	d := digest.OfBytes(data)
	final := s.blobPath(d.Hash)
	if s.hasBlob(d) {
		return d, nil
	}
	tmp, err := createTemp(cmp.Or(s.tempDir(), filepath.Dir(final)), tmpPrefix, blobMode)
	if err != nil {
		return d, fault("write", filepath.Dir(final), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return d, fault("write", tmp.Name(), err)
	}
	if err := commit(tmp, final); err != nil {
		return d, fault("write", final, err)
	}
	s.addBytes(d.Size)
	return d, nil
}

// ReadBlob returns the content of blob d, verified. It returns ErrMissing
// if the blob is not there, and ErrCorrupt (after removing it) if its
// content does not match d. Its other errors are Faults, among them a
// blob that is not a regular file (a FIFO is never opened in a way that
// blocks).
func (s *Store) ReadBlob(d digest.Digest) ([]byte, error) {
	blob := s.blobPath(d.Hash)
	data, _, err := readStoreFile(blob)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrMissing
	}
	if err != nil {
		return nil, fault("read", blob, err)
	}
	if digest.OfBytes(data) != d {
		os.Remove(blob)
		return nil, ErrCorrupt
	}
	return data, nil
}

// Restore copies blob d to the file dest, replacing it atomically, with
// mode perm, and verifies the copy before the rename. The copy is made in
// a temporary file ".bld-tmp-*" (OutputTempPrefix) in tmpDir (created if
// missing; it must be on dest's file system), or in dest's own directory
// when tmpDir is "" (see WriteOutput: the rename then takes only that
// directory's lock); a process killed while restoring leaves its
// temporary file there, for the caller to remove. It returns
// ErrMissing if the blob is not there, and ErrCorrupt (after removing the
// blob) if its content does not match d. It returns what stat says of
// dest as restored and the time the copy's hashing started (a file-digest
// memo needs both). The copy uses io.Copy between files, which lets the
// kernel use copy_file_range (a reflink where the file system shares
// extents); dest is never a hard link to the blob. Errors of the store
// are Faults, among them a blob that is not a regular file (a FIFO, a
// directory, a device or a symbolic link: it is never opened in a way that
// blocks); errors of dest and its directory are not.
func (s *Store) Restore(d digest.Digest, dest, tmpDir string, perm fs.FileMode) (os.FileInfo, time.Time, error) {
	blob := s.blobPath(d.Hash)
	src, sfi, err := openStoreFile(blob)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, time.Time{}, ErrMissing
		}
		return nil, time.Time{}, fault("read", blob, err)
	}
	defer src.Close()
	s.touch(blob, sfi.ModTime())
	if tmpDir == "" {
		tmpDir = filepath.Dir(dest)
	}
	tmp, err := createTemp(tmpDir, OutputTempPrefix, perm)
	if err != nil {
		return nil, time.Time{}, err
	}
	fail := func(err error) (os.FileInfo, time.Time, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, time.Time{}, err
	}
	if _, err := io.Copy(tmp, src); err != nil { // copy_file_range where possible
		if causedBy(err, blob) {
			err = fault("read", blob, err)
		}
		return fail(err)
	}
	start := s.now()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	got, err := digest.OfReader(tmp)
	if err != nil {
		return fail(err)
	}
	if got != d {
		os.Remove(blob)
		return fail(ErrCorrupt)
	}
	if err := commit(tmp, dest); err != nil {
		return nil, time.Time{}, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return nil, time.Time{}, err
	}
	return fi, start, nil
}

// touch marks the file name as used now, if its use time mtime is older
// than TouchInterval. Failures are ignored: recency is advisory.
func (s *Store) touch(name string, mtime time.Time) {
	now := s.now()
	if now.Sub(mtime) < TouchInterval {
		return
	}
	os.Chtimes(name, now, now)
}

// openStoreFile opens the file name of the store for reading, as
// regfile.Open does without following a symbolic link: it never blocks on
// a FIFO or a device. Anything but a regular file is errNotFile.
func openStoreFile(name string) (*os.File, os.FileInfo, error) {
	f, fi, err := regfile.Open(name, false)
	var nr *regfile.NotRegularError
	if errors.As(err, &nr) {
		return nil, nil, errNotFile
	}
	return f, fi, err
}

// readStoreFile returns the content of the file name of the store, and
// what fstat said of it, read as regfile.ReadFile reads (never blocking on
// a FIFO or a device), with errNotFile for what is not a regular file.
func readStoreFile(name string) ([]byte, os.FileInfo, error) {
	data, fi, err := regfile.ReadFile(name, false)
	var nr *regfile.NotRegularError
	if errors.As(err, &nr) {
		return nil, nil, errNotFile
	}
	return data, fi, err
}
