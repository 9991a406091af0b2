package ship

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"bld/exec/digest"
)

// Materialize writes the files of t into the directory dir (an input
// root: dir/Prefix/...), copying local files and writing generated ones,
// with mode 0755 for executables and 0644 for the others, and checks each
// copy against its digest: a local file changed since Package is an
// error. It is what a worker does with the input root, for tests and for
// trying a package locally.
func (t *Toolchain) Materialize(dir string) error {
	for _, f := range t.Files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("materializing %s: %w", f.Path, err)
		}
		mode := os.FileMode(0o644)
		if f.IsExecutable {
			mode = 0o755
		}
		var err error
		if content, ok := t.Generated[f.Path]; ok {
			err = os.WriteFile(dst, content, mode)
		} else if local, ok := t.Local[f.Path]; ok {
			err = copyFile(dst, local, mode)
		} else {
			err = fmt.Errorf("no content known")
		}
		if err != nil {
			return fmt.Errorf("materializing %s: %w", f.Path, err)
		}
		got, err := digest.OfFile(dst)
		if err != nil {
			return fmt.Errorf("materializing %s: %w", f.Path, err)
		}
		if got != f.Digest {
			return fmt.Errorf("materializing %s: content is %s, packaged as %s (changed since Package?)", f.Path, got, f.Digest)
		}
	}
	return nil
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
