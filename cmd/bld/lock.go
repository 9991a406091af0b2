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

	"bld/cmd/bld/internal/build"
)

// lockPollInterval is how often a bld waiting for the workspace lock tries
// again; between tries it answers Ctrl-C.
const lockPollInterval = 50 * time.Millisecond

// lockWorkspace takes an exclusive lock on the workspace's output directory
// (the file name, Layout.LockFile, which holds the pid of the holder), waiting
// while another bld holds it and saying which one: two builds, or a build
// and bld clean, writing bld-out/ at once would corrupt each other. It
// returns ctx's error at once when ctx is done while it waits. The lock is
// released by unlock, or when the process ends, however it ends.
func lockWorkspace(ctx context.Context, name string, env *environment) (unlock func(), err error) {
	said := false
	for {
		unlock, err := tryLockWorkspace(name)
		if err != nil || unlock != nil {
			return unlock, err
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
			return nil, ctx.Err()
		case <-time.After(lockPollInterval):
		}
	}
}

// tryLockWorkspace is lockWorkspace without the wait: unlock is nil, with
// no error, when another bld holds the lock.
func tryLockWorkspace(name string) (unlock func(), err error) {
	f, held, err := tryLock(name)
	if err != nil {
		return nil, fmt.Errorf("locking the workspace: %w", err)
	}
	if !held {
		return nil, nil
	}
	// Who holds the lock, for lockWorkspace's message; failing to say so
	// changes nothing else.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// prepareWorkspace is build.Prepare, under the workspace lock, saying how
// many commands of a killed build it killed.
func prepareWorkspace(env *environment, paths build.Layout) error {
	n, err := build.Prepare(paths)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(env.stderr, "bld: killed %d command(s) left running by a build that was killed\n", n)
	}
	return nil
}

// tryLock opens (creating it and its directory if needed) the lock file
// name and tries to lock it without waiting. It reports held with the open
// file when it got the lock on the file that is at name now: bld clean
// deletes bld-out/, lock included, so a lock taken on a file since removed
// is no lock, and is dropped.
func tryLock(name string) (f *os.File, held bool, err error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, err
	}
	mine, err1 := f.Stat()
	now, err2 := os.Stat(name)
	if err1 != nil || err2 != nil || !os.SameFile(mine, now) {
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}
