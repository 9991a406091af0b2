package cache

import (
	"io"

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
	dev           uint64 // the device the file is on (0 where unknown)
}

// consistent reports whether the file did not change while it was read:
// the digest is that of the content its stamp stands for.
func (h *hashedFile) consistent() bool {
	return h.before == h.after && h.d.Size == h.before.size
}

// readerFunc is an io.Reader of a read(2)-like function, which reports
// the end of the file as 0 bytes and no error.
type readerFunc func([]byte) (int, error)

func (r readerFunc) Read(b []byte) (int, error) {
	n, err := r(b)
	if n == 0 && err == nil && len(b) > 0 {
		return 0, io.EOF
	}
	return n, err
}
