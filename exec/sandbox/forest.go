package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// buildForest fills the empty directory dir: for each input, a symbolic
// link dir/<input> -> target/<input>, or with placeholders (target is then
// the workspace root) an empty file or directory of the input's kind on
// which the namespace helper bind-mounts the input; and real directories
// for the parents of those and of outputs. It returns the inputs it made an
// entry for (those inside a directory input are visible through it), with
// whether each is a directory (placeholders only). Paths are
// workspace-relative slash paths; target is an absolute directory.
func buildForest(dir, target string, inputs, outputs []string, placeholders bool) ([]mountedInput, error) {
	var mounted []mountedInput
	made := map[string]bool{".": true}
	mkdir := func(rel string) error {
		if made[rel] {
			return nil
		}
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			return fmt.Errorf("creating %s in the exec root: %w", rel, err)
		}
		for d := rel; !made[d]; d = filepath.Dir(d) {
			made[d] = true
		}
		return nil
	}
	linked := map[string]bool{}
	// under reports whether rel lies inside an input linked as a whole
	// (a directory input): nothing may be created through that link.
	under := func(rel string) bool {
		for d := filepath.Dir(rel); d != "." && d != "/"; d = filepath.Dir(d) {
			if linked[d] {
				return true
			}
		}
		return false
	}
	for _, in := range slices.Sorted(slices.Values(inputs)) { // a directory before what it holds
		rel := filepath.FromSlash(in)
		if linked[rel] || under(rel) {
			continue // already visible through its directory's link
		}
		linked[rel] = true
		if err := mkdir(filepath.Dir(rel)); err != nil {
			return nil, err
		}
		if !placeholders {
			if err := os.Symlink(filepath.Join(target, rel), filepath.Join(dir, rel)); err != nil {
				return nil, fmt.Errorf("linking input %s into the exec root: %w", in, err)
			}
			continue
		}
		fi, err := os.Stat(filepath.Join(target, rel))
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		if err := makePlaceholder(filepath.Join(dir, rel), fi); err != nil {
			return nil, fmt.Errorf("placing input %s in the exec root: %w", in, err)
		}
		if fi.IsDir() {
			made[rel] = true
		}
		mounted = append(mounted, mountedInput{path: in, dir: fi.IsDir()})
	}
	for _, out := range outputs {
		if under(filepath.FromSlash(out)) {
			return nil, fmt.Errorf("output %s lies inside an input directory", out)
		}
		if err := mkdir(filepath.Dir(filepath.FromSlash(out))); err != nil {
			return nil, err
		}
	}
	return mounted, nil
}

// A mountedInput is an input the namespace helper binds onto its
// placeholder.
type mountedInput struct {
	path string // workspace-relative slash path
	dir  bool
}

// makePlaceholder creates at p an empty directory if fi is one, else an
// empty regular file.
func makePlaceholder(p string, fi os.FileInfo) error {
	if fi.IsDir() {
		return os.Mkdir(p, 0o755)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
