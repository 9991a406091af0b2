package sandbox

import (
	"fmt"
	"os"

	"bld/exec/regfile"
)

// CheckOutput returns nil if the file abs, the declared output out (a
// workspace-relative path, as the action declares it), is a regular file
// or is missing (the caller reports a missing output). Anything else, a
// symbolic link included, is an error naming out and what it is: bld
// stores, restores and digests regular files only, a symbolic link may
// point anywhere (into an exec root that is about to be removed), and
// reading a FIFO or a device may block forever. It never opens abs.
func CheckOutput(abs, out string) error {
	_, err := checkOutput(abs, out)
	return err
}

// CheckOutputExists is CheckOutput, and also reports whether abs exists
// (a missing file is no error).
func CheckOutputExists(abs, out string) (bool, error) { return checkOutput(abs, out) }

// checkOutput is CheckOutputExists; an empty abs is a file that does not
// exist.
func checkOutput(abs, out string) (bool, error) {
	if abs == "" {
		return false, nil
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, fmt.Errorf("output %s: %w", out, err)
	}
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		return true, nil
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			target = "?"
		}
		return true, fmt.Errorf("output %s is a symbolic link to %s; an action must write regular files (cp -L instead of cp -a)", out, target)
	default:
		return true, fmt.Errorf("output %s is not a regular file (%s); an action must write regular files", out, regfile.Kind(mode))
	}
}
