package cache

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"bld/exec/digest"
	"bld/exec/filestat"
	"bld/exec/store"
)

// The file-digest memo maps a file to the digest of its content, so that a
// build that changed nothing stats its files instead of reading them. An
// entry is trusted only when the file's size, modification time, inode and
// status-change time all equal those recorded, and the file is not racy:
// its modification time was not within the timestamp granularity of the
// moment it was hashed. A racy file may have been changed again in the same
// clock tick after it was hashed without its stat changing, so it is hashed
// anew until it ages (git's "racy timestamp" rule). The granularity is
// taken as racyWindow for files whose timestamps have a sub-second part,
// and coarseRacyWindow for those that do not (filesystems with one- or
// two-second timestamps).
//
// A file hashed by readHashed on a file system whose stamps are exact
// after a stat (filestat.ExactCtimeDevice: Linux's multigrain timestamps)
// is never racy: the stat before the read made any later change take a
// new status-change time, and the stat after the read confirmed that none
// came while it read, so its stamp vouches for the content from the
// moment it was hashed. Outputs, hashed by Store right after their
// command wrote them, are then recorded settled, and Close has none to
// read again. Exactness is persisted with the entry: it was settled when the
// file was hashed (no change could follow that hash without moving the
// ctime), and stays true whatever runs later.
//
// The memo persists in the workspace (by default bld-out/.bld/filedigests),
// not in the shared cache: it describes this checkout's files. It is a
// hint, checked against the file system at every use, so a lost or stale
// memo costs only hashing. Its format is a header line, then one line per
// file: "hash size mtime ctime inode hashedAt exact path", times in Unix
// ns, exact 1 for an exact entry (below) and 0 for another.

const (
	memoHeader       = "bld-filedigests 2"
	racyWindow       = 100 * time.Millisecond
	coarseRacyWindow = 2 * time.Second
)

// A stamp is what a stat says about a file that changes when it changes.
type stamp struct {
	size         int64
	mtime, ctime int64 // Unix ns
	ino          uint64
	exec         bool
}

func stampOf(fi os.FileInfo) stamp {
	_, ino, ctime := filestat.Identity(fi)
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), ctime: ctime, ino: ino, exec: fi.Mode()&0o111 != 0}
}

// A memoEntry is what the memo knows of one file: its stamp, when it was
// hashed, and its content's SHA-256, whose size is the stamp's. The hash is
// kept as its 32 bytes, not as a digest.Digest's hex string: the memo holds
// an entry per file the build read or wrote for as long as the build runs,
// and the string and its size would be 72 bytes more per file (at 100,000
// actions, ~6 MB of the live heap at the build's end).
type memoEntry struct {
	st       stamp
	hash     [digest.HashSize]byte
	hashedAt int64 // Unix ns, taken before the file was read
	// exact is set when the stamp was taken before the file was read and
	// confirmed after (readHashed's fstats: rememberHashed; PutFile's and
	// a stat: rememberFile) on the memo's exact device (memo.exactOn):
	// never racy.
	exact bool
}

// newMemoEntry is the entry of a file that had stamp st when it was hashed
// after hashedAt (Unix ns) and found to have the content of d; false if d's
// hash is not 64 lowercase hex digits, or its size not the stamp's (that
// content was not the file's with that stamp): nothing is then remembered.
func newMemoEntry(st stamp, d digest.Digest, hashedAt int64) (memoEntry, bool) {
	e := memoEntry{st: st, hashedAt: hashedAt}
	if d.Size != st.size || !digest.ValidHash(d.Hash) {
		return memoEntry{}, false
	}
	hex.Decode(e.hash[:], []byte(d.Hash)) // valid: no error
	return e, true
}

// digest returns the digest of the content e vouches for (a new hex
// string each call).
func (e memoEntry) digest() digest.Digest {
	return digest.Digest{Hash: hex.EncodeToString(e.hash[:]), Size: e.st.size}
}

// has reports whether d is the digest of the content e vouches for: its
// size, and its hash the lowercase hex of e's (as e.digest() == d, without
// making the string).
func (e memoEntry) has(d digest.Digest) bool {
	const digits = "0123456789abcdef"
	if e.st.size != d.Size || len(d.Hash) != 2*len(e.hash) {
		return false
	}
	for i, b := range e.hash {
		if d.Hash[2*i] != digits[b>>4] || d.Hash[2*i+1] != digits[b&15] {
			return false
		}
	}
	return true
}

func (e memoEntry) racy() bool {
	if e.exact {
		return false
	}
	w := racyWindow
	if e.st.mtime%int64(time.Second) == 0 {
		w = coarseRacyWindow
	}
	return e.st.mtime >= e.hashedAt-int64(w)
}

type memo struct {
	file  string
	tmp   string // where save writes its temporary file ("": beside file)
	now   func() time.Time
	once  sync.Once // reads file into m
	mu    sync.Mutex
	m     map[string]memoEntry
	dirty bool
	// exactDev probes, once, whether the file system of the memo's
	// directory (the workspace's bld-out/.bld, beside the outputs) has
	// stamps exact after a stat, and which device it is.
	exactDev func() (uint64, bool)
}

// loadMemo returns the memo persisted in file. The file is read on first
// use (a build whose every action the action record decides never needs
// it); a missing or unreadable one is empty.
func loadMemo(file string) *memo {
	return &memo{file: file, now: time.Now, exactDev: sync.OnceValues(func() (uint64, bool) {
		return filestat.ExactCtimeDevice(filepath.Dir(file))
	})}
}

// exactOn reports whether stamps of files on device dev are exact after a
// stat (the memo's directory is on that device, and its file system's
// stamps are: filestat.ExactCtimeDevice). Probed at the first call.
func (m *memo) exactOn(dev uint64) bool {
	if dev == 0 || m.exactDev == nil {
		return false
	}
	d, ok := m.exactDev()
	return ok && d == dev
}

// load reads the memo's file, once.
func (m *memo) load() {
	m.once.Do(func() {
		entries := readMemo(m.file)
		m.mu.Lock()
		m.m = entries
		m.mu.Unlock()
	})
}

// peek returns the entry for key if the memo is loaded and has one; it
// does not load it.
func (m *memo) peek(key string) (memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	return e, ok
}

// rememberIfLoaded records e for key if the memo is loaded: a build
// that never needed the memo does not read it to learn one digest.
func (m *memo) rememberIfLoaded(key string, e memoEntry) {
	m.mu.Lock()
	loaded := m.m != nil
	m.mu.Unlock()
	if loaded {
		m.remember(key, e)
	}
}

// readMemo reads the entries in file; a missing or unreadable one has none.
func readMemo(file string) map[string]memoEntry {
	entries := map[string]memoEntry{}
	data, err := os.ReadFile(file)
	if err != nil {
		return entries
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != memoHeader {
		return entries
	}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 8)
		var hash [digest.HashSize]byte
		if len(f) != 8 || !digest.ValidHash(f[0]) || f[6] != "0" && f[6] != "1" {
			continue
		}
		if _, err := hex.Decode(hash[:], []byte(f[0])); err != nil {
			continue
		}
		var n [5]int64
		ok := true
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			ok = ok && err == nil
			n[i] = v
		}
		if !ok {
			continue
		}
		entries[f[7]] = memoEntry{
			st:       stamp{size: n[0], mtime: n[1], ctime: n[2], ino: uint64(n[3])},
			hash:     hash,
			hashedAt: n[4],
			exact:    f[6] == "1",
		}
	}
	return entries
}

// fileDigest returns the digest of the file abs, remembered under key,
// and the stamp the file had when it had that content (its exec bit
// says whether it is executable). It follows symbolic links.
func (m *memo) fileDigest(key, abs string) (digest.Digest, stamp, error) {
	st, regular, err := statStamp(abs)
	if err != nil {
		return digest.Digest{}, stamp{}, err
	}
	if !regular {
		return digest.Digest{}, stamp{}, fmt.Errorf("%s is not a regular file", abs)
	}
	return m.stampedDigest(key, abs, st)
}

// stampedDigest is fileDigest of the file abs that a stat just found to be
// a regular file with stamp st: the memo's digest if it vouches for st,
// else the file is read and hashed (and the memo learns it). A file that
// keeps changing while it is read is hashed at most three times; its
// digest is then returned with a stamp of size -1, which matches no file
// (the action's result will not be kept).
func (m *memo) stampedDigest(key, abs string, st stamp) (digest.Digest, stamp, error) {
	m.load()
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if ok && e.st.size == st.size && e.st.mtime == st.mtime && e.st.ctime == st.ctime && e.st.ino == st.ino && !e.racy() {
		return e.digest(), st, nil
	}
	for attempt := 0; ; attempt++ {
		start := m.now().UnixNano()
		// The stamps readHashed takes of the open file, before and
		// after it reads it, say whether what it read is the content
		// of that stamp (the path's stat before, st, only said that a
		// regular file was there).
		h, err := readHashed(abs, -1)
		if err != nil {
			return digest.Digest{}, stamp{}, err
		}
		if h.consistent() {
			m.rememberHashed(key, &h, start)
			return h.d, h.before, nil
		}
		if attempt == 2 {
			// The file keeps changing under us; use what we read, and
			// remember nothing. The stamp is not the one it had when
			// read, so the action's result will not be kept.
			st2 := h.after
			st2.size = -1
			return h.d, st2, nil
		}
	}
}

// digestUnknown is stampedDigest of the file abs when the memo has no
// entry for key, without a stat of the path first: the file is opened and
// hashed, and its stamp is the one fstat gave of the open file, which
// the stamp after the read confirms. It reports false, having learned
// nothing, when the memo has an entry for key (a stat may then be all it
// takes), and when the file cannot be opened, is not a regular file or
// changed while read: the caller then takes stampedDigest's way, which
// says why, or tries again.
func (m *memo) digestUnknown(key, abs string) (digest.Digest, stamp, bool) {
	m.load()
	m.mu.Lock()
	_, known := m.m[key]
	m.mu.Unlock()
	if known {
		return digest.Digest{}, stamp{}, false
	}
	start := m.now().UnixNano()
	h, err := readHashed(abs, -1)
	if err != nil || !h.consistent() {
		return digest.Digest{}, stamp{}, false
	}
	m.rememberHashed(key, &h, start)
	return h.d, h.before, true
}

// remember records e for key, unless key cannot be written on one line.
func (m *memo) remember(key string, e memoEntry) {
	if strings.ContainsAny(key, "\n\r") {
		return
	}
	e.st.exec = false // not persisted; always taken from a fresh stat
	m.load()
	m.mu.Lock()
	m.m[key] = e
	m.dirty = true
	m.mu.Unlock()
}

// rememberDigest records for key that the file had stamp st when it was
// hashed after hashedAt (Unix ns) and found to have the content of d
// (remember, with newMemoEntry's entry; nothing if d is not a SHA-256's).
func (m *memo) rememberDigest(key string, st stamp, d digest.Digest, hashedAt int64) {
	if e, ok := newMemoEntry(st, d, hashedAt); ok {
		m.remember(key, e)
	}
}

// rememberHashed records for key what readHashed found of its file, h
// (consistent: it did not change while read), hashed after hashedAt (Unix
// ns): rememberDigest's entry, exact if the file is on the device whose
// stamps are exact after a stat (exactOn).
func (m *memo) rememberHashed(key string, h *hashedFile, hashedAt int64) {
	if e, ok := newMemoEntry(h.before, h.d, hashedAt); ok {
		e.exact = m.exactOn(h.dev)
		m.remember(key, e)
	}
}

// get returns the entry for key, if any.
func (m *memo) get(key string) (memoEntry, bool) {
	m.load()
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	return e, ok
}

// rememberFile records that the file abs, under key, has digest d, read
// after time start, if the file still has the stamp before. before must be
// what a stat said of the file before it was read (store.PutFile's fstat of
// the opened file): the stat now confirming it, the entry is then exact on
// the memo's exact device, as rememberHashed's.
func (m *memo) rememberFile(key, abs string, before stamp, d digest.Digest, start time.Time) {
	fi, err := os.Stat(abs)
	if err != nil || stampOf(fi) != before || d.Size != before.size {
		return
	}
	if e, ok := newMemoEntry(before, d, start.UnixNano()); ok {
		dev, _, _ := filestat.Identity(fi)
		e.exact = m.exactOn(dev)
		m.remember(key, e)
	}
}

// save writes the memo atomically if it changed (it did not if it was
// never loaded).
func (m *memo) save() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(m.file), 0o777); err != nil {
		return err
	}
	// Written through a small buffer, one line made at a time: at the end
	// of a build, when the heap is at its largest, the whole file in
	// memory (and fmt's boxed arguments) was garbage the size of the file.
	err := store.WriteFileFrom(m.file, m.tmp, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		bw.WriteString(memoHeader + "\n")
		var line []byte
		for k, e := range m.m {
			// "HASH SIZE MTIME CTIME INO HASHEDAT EXACT PATH", as load reads it.
			line = hex.AppendEncode(line[:0], e.hash[:])
			for _, n := range [...]int64{e.st.size, e.st.mtime, e.st.ctime} {
				line = strconv.AppendInt(append(line, ' '), n, 10)
			}
			line = strconv.AppendUint(append(line, ' '), e.st.ino, 10)
			line = strconv.AppendInt(append(line, ' '), e.hashedAt, 10)
			exact := " 0 "
			if e.exact {
				exact = " 1 "
			}
			line = append(append(append(line, exact...), k...), '\n')
			bw.Write(line)
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	m.dirty = false
	return nil
}
