// Package cache is bld's content-addressed action cache: a directory shared
// by every checkout of a user (and by concurrent bld processes), whose keys
// follow the Remote Execution API's data model (package reapi), so that a
// remote cache or remote execution can use the very same keys.
//
// # Keys
//
// An action's key is the SHA-256 digest of the canonical encoding of its
// reapi.Action: the digest of its reapi.Command (argv, environment sorted
// by name, output paths sorted), the digest of its input root (a REAPI
// Merkle tree of Directory messages over the action's workspace-relative
// input paths, with content digests and executable bits), no platform
// properties unless Options.Platform gives some, and a salt naming the
// content digest of the tool argv[0] resolves to (REAPI servers reject
// platform properties they do not know, so the tool goes in the salt). A
// file-writing action (no argv) is keyed by the digest of its content and
// executable bit, spelled as a Command "bld-write <digest> <mode>".
// Nothing in a key depends on where the workspace is: inputs and outputs
// are workspace-relative, and the workspace root is used only to find
// files. (An absolute path the action itself carries, in argv or env, is
// part of its key, as it may change its outputs.)
//
// An action opts out of caching with graph.Action.NoCache (a rule sets
// it, for actions whose outputs depend on something bld cannot hash, such
// as the time or the network): Check then always misses, with the Reason
// "action is marked no-cache", and Store stores nothing.
//
// # Layout
//
// The cache directory holds:
//
//	cas/XX/HASH      content blobs, named by the SHA-256 HASH of their
//	                 bytes, XX its first two hex digits; mode 0444.
//	ac/XX/HASH       action results, named by the action key: a header
//	                 line "bld-ac-1 SHA256\n" (the digest of the rest)
//	                 then the reapi.ActionResult encoding.
//	explain/XX/HASH  the last run of an action, named by the digest of its
//	                 sorted output list (stable across changes of its
//	                 inputs), as JSON: what --explain compares to.
//	stats.json       sizes and hit counts of recent builds; stats.lock
//	                 serializes its updates and automatic trims.
//
// Every file is written to a temporary file ".tmp-*" in its final
// directory, then renamed into place, so a reader sees either no file or a
// complete one, whatever process crashes or is killed when. Blobs are named
// by their content, so two processes writing one blob write the same bytes
// and the last rename wins harmlessly. Files are not fsynced: a power
// failure may leave a file with garbage, which verification catches.
//
// # Verification
//
// Nothing read from the cache is trusted. A restored output is copied from
// its blob into a temporary file beside its destination, and the copy is
// hashed before it is renamed into place: a blob whose copy does not match
// its name is removed, and the action is a miss. An action result whose
// header digest does not match is removed, and is a miss. A blob that
// vanishes (trimmed by another process) while being restored is a miss;
// one removed after it was opened is still read whole (POSIX unlink
// semantics), so trimming never makes a restore produce a wrong output.
//
// # The workspace's action record
//
// Besides the shared directory, a Cache opened for a workspace keeps two
// files of its own under ROOT/bld-out/.bld: the file-digest memo
// (filedigests, see memo.go) and the action record (actions, see fast.go).
// The record lets Check decide an action whose inputs, outputs, tool and
// description have not changed since its outputs were last found, restored
// or stored, with a stat per file and without computing the key or reading
// the cache; every other action takes the path described here. Both files
// are hints, verified against the file system at every use, written at
// Close through a temporary file and a rename, and ignored when damaged.
//
// # Materialization
//
// Outputs are copied out of the cache, never hard-linked: a hard link
// shares the blob's inode, so a user (or a tool re-running the action)
// who writes the file in bld-out/ would change the blob, and a read-only
// blob would make tools that rewrite their outputs in place fail. The copy
// uses io.Copy between files, which lets the kernel use copy_file_range
// (a reflink on filesystems that share extents, such as btrfs and XFS).
//
// # Recency and size
//
// A hit touches (sets the modification time of) its action result and
// blobs, at most once per hour per file; Trim removes the least recently
// used action results, records and unreferenced blobs until the cache fits
// the bound. Close adds what the build stored to the size in stats.json
// and trims to 90% of Options.MaxSize when the cache exceeds it.
package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"bld/exec/cache/reapi"
)

// DefaultMaxSize is the size bound when Options.MaxSize is 0.
const DefaultMaxSize = 10 << 30

// Options configure a Cache.
type Options struct {
	// MaxSize bounds the cache directory's size in bytes, enforced at
	// Close; 0 means DefaultMaxSize, negative means no bound.
	MaxSize int64
	// Explain makes Check compare a missed action with its last run and
	// say exactly what changed; without it, Reason is brief.
	Explain bool
	// MemoFile is where the file-digest memo persists; "" means
	// ROOT/bld-out/.bld/filedigests. Unused without a root.
	MemoFile string
	// ActionsFile is where the action record (the no-op fast path of
	// Check) persists; "" means ROOT/bld-out/.bld/actions. Unused without
	// a root.
	ActionsFile string
	// Platform properties, added to every Action (REAPI Platform). Give
	// only properties a remote executor would understand.
	Platform []reapi.Property
	// Warn, if not nil, is told about results the cache declined to keep
	// (an action whose inputs changed while it ran); it may be called
	// from several goroutines at once.
	Warn func(msg string)
}

// A Cache is an open cache directory, the executor.Cache of a build. It is
// safe for concurrent use by many goroutines, and many processes may open
// one directory at once.
type Cache struct {
	dir  string
	root string
	opts Options
	memo *memo
	fast *fastRecord
	now  func() time.Time

	mu       sync.Mutex
	pending  map[string]*keyInfo // by key: what Check computed, for Store
	hits     int
	misses   int
	added    int64 // bytes this process added to the cache
	entries  int   // action results this process wrote
	fastHits int   // Checks decided by the action record alone
	closed   bool
}

// Open opens (creating if needed) the cache in directory dir, for the
// workspace whose absolute root is root. root may be "" for a cache used
// only for maintenance (Stats, Trim, Verify).
func Open(dir, root string, opts Options) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache: no cache directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"cas", "ac", "explain"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o777); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultMaxSize
	}
	c := &Cache{dir: dir, root: root, opts: opts, now: time.Now, pending: map[string]*keyInfo{}}
	if root != "" {
		if !filepath.IsAbs(root) {
			return nil, fmt.Errorf("cache: workspace root %s is not absolute", root)
		}
		mf := opts.MemoFile
		if mf == "" {
			mf = filepath.Join(root, "bld-out", ".bld", "filedigests")
		}
		c.memo = loadMemo(mf)
		af := opts.ActionsFile
		if af == "" {
			af = filepath.Join(root, "bld-out", ".bld", "actions")
		}
		c.fast = loadFastRecord(af)
	}
	return c, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Close saves the file-digest memo and the action record, adds this
// build's hits, misses and stored bytes to stats.json, and trims the cache
// when it exceeds Options.MaxSize. Calls after the first do nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return nil
	}
	var errs []error
	if c.memo != nil {
		if err := c.memo.save(); err != nil {
			errs = append(errs, fmt.Errorf("cache: saving file digests: %w", err))
		}
	}
	if c.fast != nil {
		if err := c.fast.save(); err != nil {
			errs = append(errs, fmt.Errorf("cache: saving the action record: %w", err))
		}
	}
	if err := c.recordBuild(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DefaultDir returns the cache directory for the environment environ
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
