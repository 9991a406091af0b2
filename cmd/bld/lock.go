package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockPollInterval is how often a bld waiting for the workspace lock tries
// again; between tries it answers Ctrl-C.
const lockPollInterval = 50 * time.Millisecond

// lockWorkspace takes an exclusive lock on the workspace's output directory
// (the file lock in stateDir, which holds the pid of the holder), waiting
// while another bld holds it and saying which one: two builds, or a build
// and bld clean, writing bld-out/ at once would corrupt each other. It
// returns ctx's error at once when ctx is done while it waits. The lock is
// released by unlock, or when the process ends, however it ends.
func lockWorkspace(ctx context.Context, stateDir string, env *environment) (unlock func(), err error) {
	name := filepath.Join(stateDir, "lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the workspace: %w", err)
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking the workspace: %w", err)
		}
		if !said {
			said = true
			who := "another bld"
			if data, err := os.ReadFile(name); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
					who = fmt.Sprintf("another bld (pid %d)", pid)
				}
			}
			fmt.Fprintf(env.stderr, "bld: %s is using this workspace; waiting for it to finish (Ctrl-C to stop waiting)\n", who)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPollInterval):
		}
	}
	// Who holds the lock, for the message above; failing to say so
	// changes nothing else.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
