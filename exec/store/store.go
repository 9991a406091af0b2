// Package store is bld's content-addressed store: a directory shared by
// every checkout of a user and by concurrent bld processes, holding blobs
// (file contents, named by their SHA-256) and entries (opaque payloads
// under a key, such as encoded action results), with verification on
// every read, recency, size accounting and trimming. It knows nothing of
// actions, workspaces or what an entry means: the up-to-date checker
// (package exec/cache) builds on it. It imports nothing of bld but the
// leaf package exec/digest.
//
// # Layout
//
//	cas/XX/HASH   blobs, named by the SHA-256 HASH of their bytes, XX its
//	              first two hex digits; mode 0444, never written in place.
//	packs/NAME.pack  small entries (at most Options.PackMax bytes: action
//	              results with their small outputs inlined), appended as
//	              records to one pack per writing Store, NAME being
//	              "PID-RANDOM" of the process that created it; each record
//	              holds its key, its use time and the entry, with its own
//	              SHA-256 (format in pack.go).
//	packs/NAME.idx   the index of a pack that no longer grows (sealed):
//	              key, offset, length and use time of the most recent
//	              record of each key, sorted by key, with a checksum and
//	              the pack's size.
//	ac/XX/KEY     entries too large for a pack (and those of older bld
//	              versions, or of a Store with PackMax < 0), named by their
//	              key (64 lowercase hex digits): a line "bld-entry-1 SUM\n",
//	              SUM the hex SHA-256 of all that follows; a line with the
//	              number of blobs the entry refers to; one line per such
//	              blob, "HASH/SIZE"; then the payload. Entries of another
//	              format are misses.
//	stats.json    the size of the store and the use of recent builds;
//	stats.lock    serializes updates of stats.json, trims and merges (flock).
//	put.lock      held shared by a writer while it checks that the blobs an
//	              entry refers to are there and writes the entry, and
//	              exclusively by a trim (flock; see putlock.go).
//	tmp/PID/      temporary files of the writing process PID.
//
// Other files and directories (such as explain/, which older versions
// kept here) are ignored.
//
// # Packs
//
// A Store appends the small entries it stores to its own pack, created on
// its first such entry and sealed (its index written, its lock released)
// by RecordBuild, Trim, Verify or Close, after which a new pack takes
// later entries: a build stores its results in one file, not one per
// action. The pack's writer holds an exclusive flock on it for as long as
// it may append; each record is appended with one write(2), so a reader
// sees whole records followed by at most one incomplete one, which it
// ignores (being written, or torn by a crash). A failed append (a full
// disk) is cut off again.
//
// A Store opens the packs on its first lookup. A pack with a valid index
// (sealed) is looked up in its index file, whose checksum is verified
// once, when it is opened: by a binary search in its entries, held in
// memory for an index of at most 1 MiB (a build's pack, some 20,000
// records), and otherwise in the file, of which the Store keeps one key
// in 32 (a byte per record) and reads the one block of 32 entries that
// may hold the key. Its memory thus grows with the records of small
// packs only, and opening a million-record pack costs one sequential read
// of its index, not a map of its records. The other packs (being written,
// abandoned, or with an index it cannot use) and its own are scanned into
// an index in memory. On a miss it reads what the packs being written
// have appended since, and the packs added since (it lists packs/ again
// when its modification time changed), and looks again only if it found
// any. It keeps the packs and large indexes it opened open, so that a pack
// merged or trimmed away meanwhile still reads. An index entry is only
// where to look: the record it points to is verified against the key (a
// wrong entry, in an index changed after it was opened, is a miss or
// ErrCorrupt, never wrong content). When a key has several records
// (stored again, or marked used; in several packs), the most recent use
// time wins. A lookup looks in the packs first, then for an entry file.
//
// Maintenance works under stats.lock on idle packs only (their lock can be
// taken: sealed, or their writer is gone): RecordBuild writes the index of
// abandoned packs (a killed build's; a torn record at the end is then
// never read again) and, past 16 idle packs, merges them into one (the
// newest record of each key); Trim and Verify rewrite the idle packs
// without the records they drop. A pack being written is never changed
// but by its writer. A rewritten pack gets a new name (index first, then
// the pack, through a temporary file and a rename) and the old ones are
// removed.
//
// # Atomicity
//
// Directories are created as files are written into them. Every file but
// a pack is written to a temporary file ".tmp-*", in this process's
// tmp/PID/ or in its final directory, then renamed into place
// (WriteFileAtomic), so a reader sees no file or a complete one,
// whichever process crashes or is killed when; a pack is created in
// tmp/PID/, locked and given its header, then renamed into packs/.
// Two processes writing one blob write the same bytes, and the last rename
// wins harmlessly; two writing one entry write equivalent ones. Files are
// not fsynced: a power failure may leave garbage, which verification
// catches. Temporary files abandoned by killed processes are removed by
// the next writer (tmp/PID/ of processes that are gone) or the next scan
// (Stats, Trim, Verify, and the daily size scan) once they are an hour
// old.
//
// # Verification
//
// Nothing read is trusted. ReadBlob hashes what it read; Restore copies a
// blob into a temporary file beside its destination and hashes the copy
// before renaming it into place. A blob that does not match its name, and
// an entry whose checksum does not match, is removed and reported as
// ErrCorrupt; a packed record that does not verify (its checksum, its key)
// is ErrCorrupt and forgotten by the Store (packs are not written in
// place: the Store's RecordBuild rewrites the idle packs without it, as
// Verify, merges and trims do). A damaged index is
// ignored (the pack is scanned). A blob trimmed by another process while
// being read is either ErrMissing or read whole (POSIX unlink semantics):
// trimming never makes a reader see wrong content.
//
// # Recency and size
//
// Restoring a blob touches it (sets its modification time), and MarkUsed
// touches an entry file, or appends a packed entry again with the new use
// time, each at most once per TouchInterval. Trim removes entries (files,
// and packed records by their own use time; older records of a key first)
// and the blobs no entry refers to, least recently used first (a blob
// goes with the last entry that refers to it), until the store fits a
// bound; records of packs being written keep their blobs and are not
// trimmed. RecordBuild, called once per build, adds the build's use to
// stats.json and trims to 90% of Options.MaxSize when the store outgrew
// it.
//
// # Faults
//
// The store is an optimization for its callers, never a reason for them
// to fail. An error of the directory itself (read-only, full, a broken
// disk, a directory where a blob or entry should be; a pack that cannot
// be created or appended to) is a *Fault, which a
// caller takes as a miss or as nothing stored; errors of the caller's own
// files (what PutFile reads, where Restore writes) are not Faults. Verify
// removes what cannot be read, directories in place of files included.
package store

import (
	"bld/exec/digest"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxSize is the size bound when Options.MaxSize is 0.
const DefaultMaxSize = 10 << 30

// TouchInterval is how stale a file's use time may get before a use
// refreshes it, so that a busy store is not rewritten on every hit.
const TouchInterval = time.Hour

var (
	// ErrMissing is returned for a blob or entry that is not in the store.
	ErrMissing = errors.New("not in the cache")
	// ErrCorrupt is returned for a blob or entry that failed verification;
	// it has been removed.
	ErrCorrupt = errors.New("corrupt")
)

// Options configure a Store.
type Options struct {
	// MaxSize bounds the store's size in bytes, enforced by RecordBuild;
	// 0 means DefaultMaxSize, negative means no bound.
	MaxSize int64
	// PackMax is the size up to which an entry is appended to this
	// Store's pack rather than written as a file of its own; 0 means
	// DefaultPackMax, negative means every entry is a file.
	PackMax int64
}

// A Store is an open store directory. It is safe for concurrent use by
// many goroutines, and many processes may open one directory at once.
type Store struct {
	dir  string
	opts Options
	now  func() time.Time

	mu    sync.Mutex
	added int64     // bytes this Store added to the directory
	packs packState // the packs' index and this Store's own pack (pack.go)
	put   putLock   // this Store's hold on put.lock (putlock.go)

	tmpOnce sync.Once
	tmp     string // this process's directory of temporary files (tempDir)
}

// Open opens the store in directory dir. It does not touch the directory:
// a directory that is missing is created by the first write, and one that
// cannot be read or written makes the operations fail with Faults, so
// that a build can go on without its cache.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("cache: no cache directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultMaxSize
	}
	return &Store{dir: dir, opts: opts, now: time.Now}, nil
}

// Dir returns the store's directory, absolute.
func (s *Store) Dir() string { return s.dir }

const (
	casDir = "cas"
	acDir  = "ac"
)

func (s *Store) shard(kind, hash string) string {
	return filepath.Join(s.dir, kind, hash[:2], hash)
}

func (s *Store) blobPath(hash string) string { return s.shard(casDir, hash) }

// BlobPath returns the file that holds blob d, for a reader that streams
// it (an upload to a remote cache). The file may be missing (never
// stored, or trimmed since); while it exists, its content is d's and never
// changes: blobs are renamed into place whole and never written again. A
// reader must still verify what it read.
func (s *Store) BlobPath(d digest.Digest) string { return s.blobPath(d.Hash) }
func (s *Store) entryPath(key string) string     { return s.shard(acDir, key) }

// tmpRoot holds one directory per process writing to the store, named by
// its pid, for the temporary files of its writes: a process killed while
// it writes leaves its temporary files there, and the next process that
// writes removes the directories of processes that are gone. (Temporary
// files in the shards would stay until a scan an hour later.)
const tmpRoot = "tmp"

// tempDir returns this process's directory for temporary files, creating
// it on first use and removing those of processes that no longer run. If
// it cannot be made, the shard directories serve ("" is returned).
func (s *Store) tempDir() string {
	s.tmpOnce.Do(func() {
		root := filepath.Join(s.dir, tmpRoot)
		self := os.Getpid()
		if entries, err := os.ReadDir(root); err == nil {
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil || pid == self || pid <= 0 {
					continue
				}
				if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
					os.RemoveAll(filepath.Join(root, e.Name()))
				}
			}
		}
		dir := filepath.Join(root, strconv.Itoa(self))
		if os.MkdirAll(dir, 0o755) == nil {
			s.tmp = dir
		}
	})
	return s.tmp
}

// addBytes counts n bytes this Store added to the directory.
func (s *Store) addBytes(n int64) {
	s.mu.Lock()
	s.added += n
	s.mu.Unlock()
}

// DefaultDir returns the store directory for the environment environ
// ("KEY=value" entries, as os.Environ returns): $BLD_CACHE_DIR if set,
// else $XDG_CACHE_HOME/bld if XDG_CACHE_HOME is an absolute path, else
// $HOME/.cache/bld. (A command-line flag, which overrides all of these, is
// the caller's.)
func DefaultDir(environ []string) (string, error) {
	get := func(k string) string {
		for _, kv := range environ {
			if name, val, ok := strings.Cut(kv, "="); ok && name == k {
				return val // the first one wins, as in os.Getenv
			}
		}
		return ""
	}
	if d := get("BLD_CACHE_DIR"); d != "" {
		return d, nil
	}
	if d := get("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bld"), nil
	}
	if h := get("HOME"); h != "" {
		return filepath.Join(h, ".cache", "bld"), nil
	}
	return "", errors.New("cache: no cache directory: set BLD_CACHE_DIR, XDG_CACHE_HOME or HOME")
}
