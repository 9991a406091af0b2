package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockWorkspace takes an exclusive lock on the workspace's output directory,
// waiting (and saying so) while another bld holds it: two builds writing
// bld-out/ at once would corrupt each other. The lock is released when the
// process ends, however it ends.
func lockWorkspace(stateDir string, env *environment) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the workspace: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintln(env.stderr, "bld: another bld is building in this workspace; waiting for it to finish")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking the workspace: %w", err)
		}
	}
	return func() { f.Close() }, nil
}
