package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"bld/exec/digest"
)

// entryHeader starts every entry file (see the package comment).
const entryHeader = "bld-entry-1 "

// An Entry is a verified payload stored under a key.
type Entry struct {
	// Payload is what PutEntry stored; the store does not interpret it.
	Payload []byte
	// Refs are the blobs the entry refers to, as given to PutEntry.
	Refs []digest.Digest
	// Used is when the entry was last stored or marked used.
	Used time.Time
}

// PutEntry stores payload under key (64 lowercase hex digits), replacing
// any entry there. refs lists the blobs the payload refers to, which
// must be in the store: Trim keeps them while the entry stays, and Verify
// removes the entry when one of them is gone. It returns ErrNotStored,
// having stored nothing, while a trim runs or when a blob of refs is not
// there (a trim removed it since it was stored). Its other errors, but
// for an invalid key, are Faults.
func (s *Store) PutEntry(key string, payload []byte, refs []digest.Digest) error {
	if !digest.ValidHash(key) {
		return fmt.Errorf("cache: entry key %q is not 64 lowercase hex digits", key)
	}
	release, err := s.holdRefs(refs)
	if err != nil {
		return err
	}
	defer release()
	if max := s.packMax(); max >= 0 {
		body := encodeEntryBody(payload, refs)
		if int64(len(body)) <= max {
			k, _ := parseKey(key)
			return s.putPacked(k, s.now().UnixNano(), body)
		}
	}
	data := encodeEntry(payload, refs)
	if err := WriteFileVia(s.entryPath(key), s.tempDir(), data, 0o644); err != nil {
		return fault("write", s.entryPath(key), err)
	}
	s.addBytes(int64(len(data)))
	return nil
}

// GetEntry returns the entry stored under key, verified. It returns
// ErrMissing if there is none (or one of a format this version does not
// read), and ErrCorrupt (after removing it) if it does not verify. Its
// other errors, but for an invalid key, are Faults, among them an entry
// file that is not a regular file (a FIFO is never opened in a way that
// blocks).
func (s *Store) GetEntry(key string) (Entry, error) {
	if !digest.ValidHash(key) {
		return Entry{}, fmt.Errorf("cache: entry key %q is not 64 lowercase hex digits", key)
	}
	if k, _ := parseKey(key); s.packMax() >= 0 || s.hasPacks() {
		e, err := s.getPacked(k)
		if !errors.Is(err, ErrMissing) {
			return e, err
		}
	}
	name := s.entryPath(key)
	if absent(name) {
		return Entry{}, ErrMissing
	}
	data, fi, err := readStoreFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, ErrMissing
		}
		return Entry{}, fault("read", name, err)
	}
	if !bytes.HasPrefix(data, []byte(entryHeader)) && bytes.HasPrefix(data, []byte("bld-")) {
		return Entry{}, ErrMissing // another version's format
	}
	e, err := decodeEntry(data)
	if err != nil {
		os.Remove(name)
		return Entry{}, ErrCorrupt
	}
	e.Used = fi.ModTime()
	return e, nil
}

// MarkUsed refreshes the use time of the entry under key, if used (when
// it was last refreshed, as far as the caller knows) is older than
// TouchInterval. A missing entry is not an error: recency is advisory.
//
// A packed entry is appended again to this Store's pack with the new use
// time (packs are never written in place): its older record is dropped
// by the next merge or trim.
func (s *Store) MarkUsed(key string, used time.Time) {
	if !digest.ValidHash(key) || s.now().Sub(used) < TouchInterval {
		return
	}
	k, _ := parseKey(key)
	s.mu.Lock()
	if s.packs.packs == nil {
		s.indexLocked()
	}
	_, packed := s.lookupLocked(k)
	s.mu.Unlock()
	if !packed {
		s.touch(s.entryPath(key), used)
		return
	}
	e, err := s.getPacked(k)
	if err != nil || s.now().Sub(e.Used) < TouchInterval {
		return
	}
	release, err := s.holdRefs(e.Refs)
	if err != nil {
		return
	}
	defer release()
	s.putPacked(k, s.now().UnixNano(), encodeEntryBody(e.Payload, e.Refs))
}

func encodeEntry(payload []byte, refs []digest.Digest) []byte {
	body := encodeEntryBody(payload, refs)
	sum := sha256.Sum256(body)
	return append([]byte(entryHeader+hex.EncodeToString(sum[:])+"\n"), body...)
}

// encodeEntryBody returns what follows an entry file's first line: the
// count of refs, the refs one per line, and the payload. A pack record
// holds the same.
func encodeEntryBody(payload []byte, refs []digest.Digest) []byte {
	var body bytes.Buffer
	body.Grow(8 + len(refs)*80 + len(payload))
	body.WriteString(strconv.Itoa(len(refs)) + "\n")
	for _, d := range refs {
		body.WriteString(d.String() + "\n")
	}
	body.Write(payload)
	return body.Bytes()
}

var errBadEntry = errors.New("bad entry")

// decodeEntry verifies and decodes the content of an entry file.
func decodeEntry(data []byte) (Entry, error) {
	line, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte(entryHeader)) {
		return Entry{}, errBadEntry
	}
	sum := sha256.Sum256(body)
	if string(line[len(entryHeader):]) != hex.EncodeToString(sum[:]) {
		return Entry{}, errBadEntry
	}
	return decodeEntryBody(body)
}

// decodeEntryBody decodes what encodeEntryBody encoded (checked by its
// caller).
func decodeEntryBody(body []byte) (Entry, error) {
	count, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return Entry{}, errBadEntry
	}
	n, err := strconv.Atoi(string(count))
	if err != nil || n < 0 || n > len(rest) {
		return Entry{}, errBadEntry
	}
	e := Entry{Refs: make([]digest.Digest, 0, n)}
	for range n {
		var ref []byte
		ref, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return Entry{}, errBadEntry
		}
		d, err := digest.Parse(string(ref))
		if err != nil {
			return Entry{}, errBadEntry
		}
		e.Refs = append(e.Refs, d)
	}
	e.Payload = rest
	return e, nil
}
