//go:build !(linux || solaris || illumos || darwin || freebsd || netbsd || openbsd || dragonfly)

package cache

import (
	"io"

	"bld/exec/digest"
	"bld/exec/regfile"
)

// readHashed opens the regular file path (following symbolic links),
// reads it whole and digests it, with its stamp when opened and after it
// was read; with keep >= 0 only if it has at most keep bytes, whose
// content it keeps. See the Unix version.
func readHashed(path string, keep int64) (hashedFile, error) {
	var h hashedFile
	f, fi, err := regfile.Open(path, true)
	if err != nil {
		return h, err
	}
	defer f.Close()
	h.before = stampOf(fi)
	if keep >= 0 && fi.Size() > keep {
		return h, nil
	}
	if keep >= 0 {
		data, err := io.ReadAll(io.LimitReader(f, fi.Size()))
		if err != nil {
			return h, err
		}
		h.d = digest.OfBytes(data)
		if len(data) > 0 {
			h.data = data
		}
	} else if h.d, err = digest.OfReader(f); err != nil {
		return h, err
	}
	if fi, err = f.Stat(); err != nil {
		return h, err
	}
	h.after = stampOf(fi)
	return h, nil
}
