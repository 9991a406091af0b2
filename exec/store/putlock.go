package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"bld/exec/digest"
)

// The put lock keeps Trim from removing a blob that an entry being
// written refers to. Trim decides what to remove from one scan of the
// entries and blobs; an entry written after that scan, referring to a
// blob the scan found unreferenced (just stored by PutFile, or found
// there and about to lose the last entry that referred to it), would be
// left dangling by the removal. So Trim holds put.lock exclusively from
// its scan to its last removal, and a writer of an entry with refs holds
// it shared while it checks that every blob it refers to is still there
// and writes the entry. Either the entry is written before Trim's scan
// (which then keeps its blobs), or after Trim is done (and the check sees
// what it removed). A writer never waits for a trim: it stores nothing
// and says ErrNotStored.

// ErrNotStored is returned by PutEntry when it stored nothing because a
// trim is running or has removed a blob the entry refers to. It is no
// Fault: the store works, and the caller may store again later.
var ErrNotStored = errors.New("not stored")

const putLockName = "put.lock"

// putLock is a Store's side of put.lock: one descriptor, locked shared
// while any of the Store's writers is inside it (flock locks belong to
// the open file, so the Store's goroutines share one lock).
type putLock struct {
	mu   sync.Mutex
	f    *os.File
	held int
}

// holdRefs checks that every blob of refs is in the store and returns a
// function that ends the hold; the caller writes the entry in between.
// With no refs it holds nothing. Its errors are ErrNotStored and Faults.
func (s *Store) holdRefs(refs []digest.Digest) (release func(), err error) {
	if len(refs) == 0 {
		return func() {}, nil
	}
	if err := s.put.acquire(filepath.Join(s.dir, putLockName)); err != nil {
		return nil, err
	}
	for _, d := range refs {
		if fi, err := os.Lstat(s.blobPath(d.Hash)); err != nil || !fi.Mode().IsRegular() {
			s.put.release()
			return nil, fmt.Errorf("%w: blob %s is not in the store (trimmed meanwhile)", ErrNotStored, d)
		}
	}
	return s.put.release, nil
}

func (l *putLock) acquire(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held > 0 {
		l.held++
		return nil
	}
	if l.f == nil {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return fault("lock", name, err)
		}
		l.f = f
	}
	switch err := flock(l.f, syscall.LOCK_SH|syscall.LOCK_NB); {
	case err == nil:
		l.held = 1
		return nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%w: the store is being trimmed", ErrNotStored)
	default:
		return fault("lock", name, err)
	}
}

func (l *putLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held--; l.held == 0 {
		flock(l.f, syscall.LOCK_UN)
	}
}

// close closes the descriptor; no writer may be inside the lock.
func (l *putLock) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil && l.held == 0 {
		l.f.Close()
		l.f = nil
	}
}

// lockPuts takes put.lock exclusively for a trim, waiting for the writers
// inside it (each holds it for a few system calls).
func (s *Store) lockPuts() (unlock func(), err error) {
	return lockFile(filepath.Join(s.dir, putLockName))
}
