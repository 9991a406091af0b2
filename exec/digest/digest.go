// Package digest names content by its SHA-256 hash and size, as the Remote
// Execution API's Digest message does (hash: lowercase hex; size_bytes).
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"bld/exec/regfile"
)

// HashSize is the length in bytes of a SHA-256 hash.
const HashSize = sha256.Size

// A Digest identifies a blob: the lowercase hexadecimal SHA-256 of its
// bytes and their count. The zero Digest is invalid; Empty is the digest
// of no bytes.
type Digest struct {
	Hash string // 64 lowercase hex digits
	Size int64
}

// Empty is the digest of the empty blob.
var Empty = OfBytes(nil)

// OfBytes returns the digest of b.
func OfBytes(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest{Hash: hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

// OfReader returns the digest of everything r yields, read through a
// reused buffer: io.Copy into a hash allocates 32 KiB per call, which
// hashing a build's files turned into most of bld's garbage.
func OfReader(r io.Reader) (Digest, error) {
	bp := readBuffers.Get().(*[readBufferSize]byte)
	defer readBuffers.Put(bp)
	h := sha256.New()
	var n int64
	for {
		k, err := r.Read(bp[:])
		h.Write(bp[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Digest{}, err
		}
	}
	return Digest{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// OfFile returns the digest of the content of the regular file name,
// following symbolic links. It never blocks on a FIFO or a device:
// anything but a regular file is a *regfile.NotRegularError (see
// regfile.Open).
func OfFile(name string) (Digest, error) {
	f, _, err := regfile.Open(name, true)
	if err != nil {
		return Digest{}, err
	}
	defer f.Close()
	return OfReader(f)
}

const readBufferSize = 32 << 10

// readBuffers are OfReader's read buffers, reused across calls and
// goroutines.
var readBuffers = sync.Pool{New: func() any { return new([readBufferSize]byte) }}

// String formats d as "hash/size", the form REAPI resource names use.
func (d Digest) String() string {
	return d.Hash + "/" + strconv.FormatInt(d.Size, 10)
}

// Short formats d for people: the first 12 hex digits and the size.
func (d Digest) Short() string {
	h := d.Hash
	if len(h) > 12 {
		h = h[:12]
	}
	return h + "/" + strconv.FormatInt(d.Size, 10)
}

// IsZero reports whether d is the zero Digest (not a valid digest).
func (d Digest) IsZero() bool { return d.Hash == "" && d.Size == 0 }

// Parse parses the "hash/size" form String produces.
func Parse(s string) (Digest, error) {
	h, sz, ok := strings.Cut(s, "/")
	if !ok {
		return Digest{}, fmt.Errorf("digest %q: want hash/size", s)
	}
	n, err := strconv.ParseInt(sz, 10, 64)
	if err != nil || n < 0 {
		return Digest{}, fmt.Errorf("digest %q: bad size", s)
	}
	if !ValidHash(h) {
		return Digest{}, fmt.Errorf("digest %q: hash is not 64 lowercase hex digits", s)
	}
	return Digest{Hash: h, Size: n}, nil
}

// ValidHash reports whether h is 64 lowercase hexadecimal digits.
func ValidHash(h string) bool {
	if len(h) != 2*HashSize {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
