package cache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"bld/exec/digest"
	"bld/exec/store"
)

// The explain records of a workspace (explain.go) live in one append-only
// file, ExplainDir/records, one line per record:
//
//	<outputs ID> <record as JSON>\n
//
// A later line for an ID replaces the earlier ones. Appending costs a
// write, where a file per record cost a file creation (a millisecond on a
// loaded machine, more than the command of a small action), and builds
// that need no record (most) never read the file. The first read of a
// build scans it once and indexes the last line of each ID. A torn last
// line (bld killed while appending) does not parse and is ignored. The
// file is rewritten with only the latest lines when it has grown to more
// than twice their size. Only one build of a workspace runs at a time (the
// workspace lock), so nothing else writes the file.

// flushAt is how many bytes of lines put keeps before it writes them: one
// write(2) per batch of records, not per action. Lines not yet written
// when bld is killed are lost, as a torn last line is: a lost record only
// makes --explain say less (and lastrun.go find less), and the store
// keeps the results themselves.
const flushAt = 64 << 10

// compactSlack is how much larger than its live lines the log may grow
// before Close rewrites it.
const compactSlack = 2

// compactUnread is the size past which Close reads an unread log it
// appended to, to see whether to compact it.
const compactUnread = 64 << 20

type recordLog struct {
	path string
	tmp  string // where compaction writes its temporary file ("" : beside path)
	// unreadMax is the size past which close reads an unread log it
	// appended to (compactUnread).
	unreadMax int64

	mu   sync.Mutex
	f    *os.File // for appending, once something is appended
	size int64    // of the file, once opened or scanned, pending lines included
	// pending are lines put but not yet written to f (flushAt); the
	// index and size count them already.
	pending []byte
	// writeErr is the first error writing them: the size and index then
	// count lines the file does not have, and the log is no longer
	// read, appended to or compacted in this build.
	writeErr error
	index    map[logID]span
	live     int64 // bytes of the indexed lines
	loaded   bool
	err      error // the scan's, if it failed
}

// span is where a line is in the log.
type span struct{ off, n int64 }

// A logID is an outputs ID (outputsID: the hex of a SHA-256) as the index
// keys it, its 32 bytes: the index holds one per action the workspace
// has built, for the whole build, and the hex string would be 48 bytes
// more each (at 100,000 actions, ~5 MB of the live heap at a full
// build's end).
type logID [digest.HashSize]byte

// parseLogID returns the logID of id, false if id is not 64 lowercase hex
// digits (no line put has such an ID: the line is not indexed).
func parseLogID[S string | []byte](id S) (logID, bool) {
	var k logID
	if len(id) != 2*len(k) {
		return k, false
	}
	digit := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		}
		return 0, false
	}
	for i := range k {
		hi, ok1 := digit(id[2*i])
		lo, ok2 := digit(id[2*i+1])
		if !ok1 || !ok2 {
			return logID{}, false
		}
		k[i] = hi<<4 | lo
	}
	return k, true
}

func newRecordLog(path string) *recordLog { return &recordLog{path: path, unreadMax: compactUnread} }

// get returns the latest record of id.
func (l *recordLog) get(id string) (*record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Flushed first: a scan must see every line put.
	if err := l.flush(); err != nil {
		return nil, err
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	k, ok := parseLogID(id)
	if !ok {
		return nil, os.ErrNotExist
	}
	sp, ok := l.index[k]
	if !ok {
		return nil, os.ErrNotExist
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line := make([]byte, sp.n)
	if _, err := f.ReadAt(line, sp.off); err != nil {
		return nil, err
	}
	return parseRecordLine(line, id)
}

// put appends rec as the latest record of id. Errors are ignored by
// callers: a lost record only makes --explain say less.
func (l *recordLog) put(id string, rec *record) error {
	line := make([]byte, 0, len(id)+512)
	line = append(appendRecord(append(append(line, id...), ' '), rec), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writeErr != nil {
		return l.writeErr
	}
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		l.f, l.size = f, fi.Size()
		if err := l.dropTornLine(); err != nil {
			return err
		}
	}
	if len(l.pending) == 0 && len(line) >= flushAt {
		if _, err := l.f.Write(line); err != nil {
			l.writeErr = err
			return err
		}
	} else {
		l.pending = append(l.pending, line...)
		if len(l.pending) >= flushAt {
			if err := l.flush(); err != nil {
				return err
			}
		}
	}
	if k, ok := parseLogID(id); ok && l.loaded {
		if old, ok := l.index[k]; ok {
			l.live -= old.n
		}
		l.index[k] = span{l.size, int64(len(line))}
		l.live += int64(len(line))
	}
	l.size += int64(len(line))
	return nil
}

// flush writes the pending lines. On an error they are dropped, and the
// log is left alone for the rest of the build (writeErr). l.mu is held.
func (l *recordLog) flush() error {
	if l.writeErr != nil {
		return l.writeErr
	}
	if len(l.pending) == 0 {
		return nil
	}
	_, err := l.f.Write(l.pending)
	l.pending = l.pending[:0]
	l.writeErr = err
	return err
}

// dropTornLine truncates the log after its last complete line, so that
// what is appended next is not glued to a record a killed bld left half
// written. l.mu is held and l.f open.
func (l *recordLog) dropTornLine() error {
	r, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer r.Close()
	end := l.size
	buf := make([]byte, 4096)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := r.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == l.size {
		return nil
	}
	if err := l.f.Truncate(end); err != nil {
		return err
	}
	l.size = end
	if l.loaded {
		for id, sp := range l.index {
			if sp.off+sp.n > end {
				delete(l.index, id)
				l.live -= sp.n
			}
		}
	}
	return nil
}

// load scans the log into the index, once. l.mu is held.
func (l *recordLog) load() error {
	if l.loaded {
		return l.err
	}
	l.loaded = true
	l.index = map[logID]span{}
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		l.err = err
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A record longer than the buffer: gather it whole.
			whole := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				whole = append(whole, line...)
			}
			line = whole
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			id, _, ok := bytes.Cut(line, []byte(" "))
			if k, valid := parseLogID(id); ok && valid {
				n := int64(len(line))
				if old, ok := l.index[k]; ok {
					l.live -= old.n
				}
				l.index[k] = span{off, n}
				l.live += n
			}
		}
		off += int64(len(line))
		if err == io.EOF {
			break
		}
		if err != nil {
			l.err = err
			return err
		}
	}
	if l.f == nil {
		l.size = off
	}
	return nil
}

// close closes the log, first rewriting it with only its latest lines if
// it has grown past compactSlack times their size.
func (l *recordLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	appended := l.f != nil
	if appended {
		// A failed write is not reported, as put's are not.
		l.flush()
		errs = append(errs, l.f.Close())
		l.f = nil
		l.pending = nil
	}
	if l.writeErr != nil {
		return errors.Join(errs...)
	}
	if !l.loaded && !appended {
		// Not grown since the build that last appended, whose close
		// compacted it if it had to: a no-op build does not read a log
		// of 100,000 records to find that out again.
		return errors.Join(errs...)
	}
	if !l.loaded && l.size < l.unreadMax {
		if fi, err := os.Stat(l.path); err != nil || fi.Size() < l.unreadMax {
			return errors.Join(errs...)
		}
	}
	if err := l.load(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if l.size <= compactSlack*l.live+4096 {
		return errors.Join(errs...)
	}
	errs = append(errs, l.compact())
	return errors.Join(errs...)
}

// compact rewrites the log with the latest line of each ID, in file order,
// copying line by line so that memory does not grow with the log.
func (l *recordLog) compact() error {
	spans := make([]span, 0, len(l.index))
	for _, sp := range l.index {
		spans = append(spans, sp)
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	src, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer src.Close()
	return store.WriteFileFrom(l.path, l.tmp, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		var line []byte
		for _, sp := range spans {
			if int64(cap(line)) < sp.n {
				line = make([]byte, sp.n)
			}
			line = line[:sp.n]
			if _, err := src.ReadAt(line, sp.off); err != nil {
				return err
			}
			bw.Write(line)
		}
		return bw.Flush()
	})
}

// parseRecordLine parses "<id> <json>\n" whose id must be id.
func parseRecordLine(line []byte, id string) (*record, error) {
	got, data, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
	if !ok || string(got) != id {
		return nil, errors.New("explain record log: damaged line")
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
