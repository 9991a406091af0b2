package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"bld/exec/store"
)

// Outputs restored from the store, and inlined ones, are written through a
// temporary file ".bld-tmp-*" (store.OutputTempPrefix) in the output's own
// directory and renamed within it: a rename across directories takes the
// file system's rename lock, and one staging directory that every restored
// output went through made the check workers (and the commands creating
// their outputs meanwhile) wait on its lock, on every output.
//
// A build killed while it restores thus leaves temporary files among the
// outputs. The Cache says where to look for them: before its first such
// write it creates the marker tempMarker in its staging directory, and
// Close removes it, once no restore can run any more. RemoveTemps, called
// by the next build under the workspace lock before anything is written
// (bld's build.Prepare), removes every ".bld-tmp-*" file below the output
// directory when the marker is there, and nothing is walked otherwise.
// Commands never see a temporary file as an output: outputs are declared
// files, globs skip the output directory, and shell globs and ls skip dot
// files. If the marker cannot be created, temporary files go to the
// staging directory (which the next build empties) as before.

// tempMarker is the name of the marker, in the staging directory, that
// temporary files may be beside outputs.
const tempMarker = "temps-beside-outputs"

// outputTmpDir returns the directory for the temporary files of restored
// outputs: "" (each output's own directory) once the marker is in place,
// else the staging directory.
func (c *Cache) outputTmpDir() string {
	c.besideOnce.Do(func() {
		marker := filepath.Join(c.stagingDir, tempMarker)
		err := os.WriteFile(marker, nil, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(c.stagingDir, 0o755); err == nil {
				err = os.WriteFile(marker, nil, 0o644)
			}
		}
		c.beside = err == nil
	})
	if c.beside {
		return ""
	}
	return c.stagingDir
}

// removeTempMarker removes the marker, if this Cache made it: called by
// Close, when nothing restores any more.
func (c *Cache) removeTempMarker() error {
	c.besideOnce.Do(func() {}) // and none from now on
	if !c.beside {
		return nil
	}
	if err := os.Remove(filepath.Join(c.stagingDir, tempMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveTemps removes the temporary files ".bld-tmp-*" that a build killed
// while it restored outputs left below outDir (the workspace's output
// directory), if the staging directory stagingDir holds the marker such a
// build leaves (see above), and then the marker; it returns how many it
// removed. It walks outDir only then, and skips the directory that holds
// stagingDir (bld's own state) and directories it cannot read (where no
// restore could have written either). A temporary file it cannot remove
// is an error, but the walk goes on and the marker goes: the next build
// does not walk again for it. The caller must hold the workspace lock, so
// that no other build is writing there, and call it before its own build
// writes anything, and before it empties stagingDir.
func RemoveTemps(outDir, stagingDir string) (int, error) {
	marker := filepath.Join(stagingDir, tempMarker)
	if _, err := os.Lstat(marker); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	state := filepath.Dir(stagingDir)
	n := 0
	var errs []error
	filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil // gone, or unreadable: skipped
		case d.IsDir() && (p == state || p == stagingDir):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasPrefix(d.Name(), store.OutputTempPrefix):
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			return nil
		}
		n++
		return nil
	})
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("removing the temporary files of a killed build: %w", errors.Join(errs...))
	}
	return n, nil
}

// materialize puts the outputs of result r in place. It reports whether
// it had to restore any, or why it could not ("" when it could).
func (c *Cache) materialize(ki *keyInfo, r *actionResult) (restored bool, why string) {
	if len(r.OutputFiles) != len(ki.outputs) {
		return false, "the cached result does not list the action's outputs"
	}
	for i, of := range r.OutputFiles {
		if of.Path != ki.outputs[i] {
			return false, "the cached result does not list the action's outputs"
		}
	}
	var tmpDir string // where temporary files go (outputTmpDir), once one is needed
	tmpSet := false
	for _, of := range r.OutputFiles {
		abs := c.abs(of.Path)
		if d, st, err := c.fileDigest(of.Path, abs); err == nil && d == of.Digest && st.exec == of.IsExecutable {
			continue // in place, or kept remote with that content
		}
		perm := fs.FileMode(0o644)
		if of.IsExecutable {
			perm = 0o755
		}
		if !tmpSet {
			tmpDir, tmpSet = c.outputTmpDir(), true
		}
		if !inBlob(of) {
			// Inlined or empty: decodeResult checked the content.
			start := c.now()
			fi, err := store.WriteOutput(abs, tmpDir, of.Contents, perm)
			if err != nil {
				return restored, fmt.Sprintf("could not restore %s from the cache: %v", of.Path, err)
			}
			restored = true
			c.memo.rememberDigest(of.Path, stampOf(fi), of.Digest, start.UnixNano())
			continue
		}
		fi, start, err := c.store.Restore(of.Digest, abs, tmpDir, perm)
		switch {
		case errors.Is(err, store.ErrMissing):
			return restored, fmt.Sprintf("the cached content of %s is no longer in the cache", of.Path)
		case errors.Is(err, store.ErrCorrupt):
			return restored, fmt.Sprintf("the cached content of %s was corrupt, and has been removed", of.Path)
		case err != nil:
			c.storeFault(err)
			return restored, fmt.Sprintf("could not restore %s from the cache: %v", of.Path, err)
		}
		restored = true
		c.memo.rememberDigest(of.Path, stampOf(fi), of.Digest, start.UnixNano())
	}
	return restored, ""
}
