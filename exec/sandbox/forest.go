package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// buildForest fills the empty directory dir (ModeSymlinks): for each input,
// a symbolic link dir/<input> -> target/<input>, and real directories for
// the parents of those and of outputs. An input inside a directory input
// is seen through that one's link. Paths are workspace-relative slash
// paths; target is an absolute directory.
func buildForest(dir, target string, inputs, outputs []string) error {
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
			return err
		}
		if err := os.Symlink(filepath.Join(target, rel), filepath.Join(dir, rel)); err != nil {
			return fmt.Errorf("linking input %s into the exec root: %w", in, err)
		}
	}
	for _, out := range outputs {
		if under(filepath.FromSlash(out)) {
			return fmt.Errorf("output %s lies inside an input directory", out)
		}
		if err := mkdir(filepath.Dir(filepath.FromSlash(out))); err != nil {
			return err
		}
	}
	return nil
}
