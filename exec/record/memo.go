package record

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// racyWindow is how much older than the moment it was hashed a file's mtime
// must be for its memo entry to be trusted. A file modified within this
// window of being hashed may have been modified again with the same size and
// mtime (coarse file system timestamps), like git's racy index entries, so
// it is hashed again.
const racyWindow = time.Second

// memo maps files to the SHA-256 of their content, keyed by what stat says,
// so that unchanged files are stat'ed, not hashed. It is safe for
// concurrent use.
type memo struct {
	root string

	mu      sync.Mutex
	entries map[string]memoEntry // by workspace-relative path
	session map[string]string    // digests already looked at by this Record
	dirty   bool

	hashed atomic.Int64 // files hashed (for tests)
}

type memoEntry struct {
	size, mtime int64 // mtime in ns since the epoch
	ino         uint64
	madeAt      int64 // ns since the epoch, when the file was stat'ed and hashed
	digest      string
}

// trusted reports whether e describes the file fi without hashing it again.
func (e memoEntry) trusted(size, mtime int64, ino uint64) bool {
	return e.size == size && e.mtime == mtime && e.ino == ino &&
		mtime < e.madeAt-int64(racyWindow)
}

// digest returns the hex SHA-256 of the content of the workspace file path.
// Unless fresh, a digest already looked at by this Record is reused without
// a stat; with fresh, the file is always stat'ed (and hashed if it changed).
func (m *memo) digest(path string, fresh bool) (string, error) {
	if !fresh {
		m.mu.Lock()
		d, ok := m.session[path]
		m.mu.Unlock()
		if ok {
			return d, nil
		}
	}
	full := filepath.Join(m.root, path)
	now := time.Now().UnixNano()
	fi, err := os.Stat(full)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%s is a directory", path)
	}
	size, mtime := fi.Size(), fi.ModTime().UnixNano()
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	m.mu.Lock()
	e, ok := m.entries[path]
	m.mu.Unlock()
	if ok && e.trusted(size, mtime, ino) {
		m.remember(path, e.digest, nil)
		return e.digest, nil
	}
	d, err := hashFile(full)
	if err != nil {
		return "", err
	}
	m.hashed.Add(1)
	m.remember(path, d, &memoEntry{size: size, mtime: mtime, ino: ino, madeAt: now, digest: d})
	return d, nil
}

func (m *memo) remember(path, digest string, e *memoEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.session[path] = digest
	if e != nil {
		m.entries[path] = *e
		m.dirty = true
	}
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadMemo reads the memo file; lines that do not parse are ignored, since
// the memo only saves work.
func loadMemo(root, path string) (*memo, error) {
	m := &memo{root: root, entries: map[string]memoEntry{}, session: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the digest memo: %w", err)
	}
	for line := range bytes.Lines(data) {
		// digest size mtime ino madeAt quoted-path
		f := strings.SplitN(strings.TrimSuffix(string(line), "\n"), " ", 6)
		if len(f) != 6 || len(f[0]) != 2*sha256.Size {
			continue
		}
		var e memoEntry
		var errs [4]error
		e.digest = f[0]
		e.size, errs[0] = strconv.ParseInt(f[1], 10, 64)
		e.mtime, errs[1] = strconv.ParseInt(f[2], 10, 64)
		e.ino, errs[2] = strconv.ParseUint(f[3], 10, 64)
		e.madeAt, errs[3] = strconv.ParseInt(f[4], 10, 64)
		p, err := strconv.Unquote(f[5])
		if err != nil || errors.Join(errs[:]...) != nil {
			continue
		}
		m.entries[p] = e
	}
	return m, nil
}

// save writes the memo atomically, if it changed.
func (m *memo) save(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty {
		return nil
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for p, e := range m.entries {
		fmt.Fprintf(w, "%s %d %d %d %d %s\n", e.digest, e.size, e.mtime, e.ino, e.madeAt, strconv.Quote(p))
	}
	w.Flush()
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("saving the digest memo: %w", err)
	}
	m.dirty = false
	return nil
}
