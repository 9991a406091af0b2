package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"bld/exec/digest"
)

// A hashedFile is what readHashed found of a regular file: the digest of
// what it read, that content when it was small enough to keep, and the
// file's stamp when it was opened and once it had been read. When the two
// stamps are equal (and the size read is theirs), the content read is the
// one the stamp stands for.
type hashedFile struct {
	d             digest.Digest
	data          []byte // the content, if the file had at most keep bytes; nil otherwise
	before, after stamp
}

// consistent reports whether the file did not change while it was read:
// the digest is that of the content its stamp stands for.
func (h *hashedFile) consistent() bool {
	return h.before == h.after && h.d.Size == h.before.size
}

// hashBuffers holds buffers (*[hashBufferSize]byte) to read larger files
// with.
var hashBuffers = sync.Pool{New: func() any { return new([hashBufferSize]byte) }}

const hashBufferSize = 32 << 10

// hashStream digests what read yields until it reports 0 bytes or an
// error, through a pooled buffer.
func hashStream(read func([]byte) (int, error)) (digest.Digest, error) {
	bp := hashBuffers.Get().(*[hashBufferSize]byte)
	defer hashBuffers.Put(bp)
	var h hash.Hash = sha256.New()
	var n int64
	for {
		k, err := read(bp[:])
		if k > 0 {
			h.Write(bp[:k])
			n += int64(k)
		}
		if err != nil {
			return digest.Digest{}, err
		}
		if k == 0 {
			break
		}
	}
	return digest.Digest{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// digestOf returns the digest of data.
func digestOf(data []byte) digest.Digest {
	sum := sha256.Sum256(data)
	return digest.Digest{Hash: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
