// Package cache is bld's up-to-date checker: it decides whether an action
// must run, restores its outputs from the content-addressed store
// (package exec/store) when it need not, and stores the outputs of those
// that ran. It is the executor.Cache of a build. Keys follow the Remote
// Execution API's data model (package exec/reapi), so that a remote cache
// or remote execution can use the very same keys.
//
// # Keys
//
// An action's key is the SHA-256 digest of the deterministic encoding of
// its REAPI Action message: the digest of its Command (argv, environment
// without PATH, sorted by name, output paths sorted, as both output_paths
// and the deprecated output_files; see reapi.NewCommand), the digest of its input root
// (a REAPI Merkle tree of Directory messages over the workspace-relative
// input files it is keyed on, with content digests and executable bits),
// the action's ExecProperties as the Platform of both (none unless a target
// or the workspace gives some), and a salt
// (key.go) naming the content of the program argv[0] resolves to
// (program.Find), for a compiler driver the programs it runs with the
// action's toolchain-affecting arguments and environment, resolved in its
// PATH at each key (toolchains.go), and where the command runs (the sandbox's fixed path or
// not). PATH itself is left out: what it decides, which programs run, is in
// the salt by content. A file-writing action (no argv) is keyed by the
// digest of its content and executable bit, spelled as a Command
// "bld-write <digest> <mode>". Nothing in a key depends on where the
// workspace is. (An absolute path the action itself carries, in argv or
// env, is part of its key, as it may change its outputs.)
//
// An action with a depfile is keyed in two levels (readset.go): a first
// level on everything but its discoverable inputs, under which the store
// keeps the read sets the action has had, and a second level per read set,
// on the files it read by content; its result is stored under the second.
//
// An action opts out of caching with graph.Action.NoCache (a rule sets
// it, for actions whose outputs depend on something bld cannot hash, such
// as the time or the network): Check then always misses, with the Reason
// "action is marked no-cache", and Store stores nothing.
//
// # What is stored
//
// An action's result is a store entry under its key whose payload is the
// encoding of a REAPI ActionResult (output paths, digests and executable bits,
// and the digest of the command's output as its stdout), referring to the
// blobs of the outputs and of the output log. Restoring copies each blob
// to its output, verified (see package store); a result that cannot be
// restored whole (a blob missing or corrupt) is a miss.
//
// # The workspace's files
//
// Besides the shared store, a Cache keeps files of its own under
// ROOT/bld-out/.bld: the file-digest memo (filedigests, see memo.go), the
// action record (actions, see fast.go) and the explain records (explain/,
// see explain.go). The record lets Check decide an action whose inputs,
// outputs, tool and description have not changed since its outputs were
// last found, restored or stored, with a stat per file and without
// computing the key or reading the store; every other action takes the
// path described here. All of them are hints, verified against the file
// system at every use, written through a temporary file and a rename, and
// ignored when damaged.
//
// An explain record names the key and the outputs of its action's last
// run, so that an action whose outputs are still those of its key is up
// to date even when the store has no result for it (lastrun.go).
//
// # Faults
//
// The store is an optimization, never a reason to fail: a store.Fault
// makes a read a miss and a write store nothing, with one warning per
// build (fault.go). Store fails an action only for the action's faults.
//
// # Recency and size
//
// A hit marks its entry used (the store touches the blobs it restores);
// Close saves the workspace's files and records the build's hits, misses
// and stored bytes with the store, which trims itself when it outgrew its
// bound. A build that asked nothing of the store (every action up to date
// by the workspace's action record) and stored nothing is not recorded.
package cache

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"bld/exec/filestat"
	"bld/exec/graph"
	"bld/exec/remote"
	"bld/exec/store"
)

// Options configure a Cache.
type Options struct {
	// Stats are stats of workspace files taken earlier in this build:
	// the up-to-date check of an action of a graph (CheckIn) uses them
	// instead of stat'ing again the files that no action of the graph
	// writes; those it writes may be in it, and are stat'ed. Nil means
	// none.
	Stats *filestat.Set
	// Explain makes Check compare a missed action with its last run in
	// this workspace and say exactly what changed; without it, Reason is
	// brief.
	Explain bool
	// MemoFile is where the file-digest memo persists; "" means
	// ROOT/bld-out/.bld/filedigests.
	MemoFile string
	// ActionsFile is where the action record (the no-op fast path of
	// Check) persists; "" means ROOT/bld-out/.bld/actions.
	ActionsFile string
	// Preload, if not nil, is the action record read ahead of Open
	// (PreloadRecord).
	Preload *Preload
	// ExplainDir is where explain records are kept; "" means
	// ROOT/bld-out/.bld/explain.
	ExplainDir string
	// FixedExecRoot says that sandboxed actions run at the sandbox's fixed
	// path (graph.SandboxExecRoot), the same in every checkout; the keys
	// of actions that run elsewhere say so, since tools may record their
	// working directory.
	FixedExecRoot bool
	// Sandboxed says that actions (those without NoSandbox) run in a
	// sandbox that shows them only their inputs and candidates.
	Sandboxed bool
	// StagingDir is where the cache's own files in the workspace (memo,
	// action record, toolchains, explain records) are written before they
	// are renamed into place, on the file system of the outputs; "" means
	// ROOT/bld-out/.bld/staging. A build killed while writing leaves
	// temporary files there: the caller empties it when no build runs (bld
	// does, under the workspace lock). Restored outputs are written beside
	// themselves instead, with a marker here that says so: the caller
	// calls RemoveTemps first (materialize.go).
	StagingDir string
	// ToolchainsFile is where what compiler drivers said they run
	// persists; "" means ROOT/bld-out/.bld/toolchains.
	ToolchainsFile string
	// InlineMax is the size up to which an output is kept inside its
	// action's result rather than as a blob (result.go); 0 means 8 KiB,
	// and a negative value inlines nothing.
	InlineMax int64
	// Warn, if not nil, is told about results the cache declined to keep
	// (an action whose inputs changed while it ran); it may be called
	// from several goroutines at once.
	Warn func(msg string)
	// Rerun, if not nil, is asked about each action Check sees: a
	// non-empty answer makes Check report a miss with that reason even
	// when the action's result is in place or cached (--rerun-stage), so
	// the action runs again and its new result is stored under the same
	// key. The key itself does not change.
	Rerun func(a *graph.Action) string
	// Remote, if not nil, is a remote cache behind the store, with the
	// same keys (remote.go); RemoteUpload says whether the results of
	// actions that ran here are written to it. RemoteExecutes says that
	// the same client runs actions too, so that the one warning about the
	// service failing says they now run here.
	Remote         remote.Service
	RemoteUpload   bool
	RemoteExecutes bool
	// KeepRemote, with Remote, keeps the outputs of remote results in the
	// remote cache instead of downloading them, until an action that runs
	// here, or the caller, needs them (kept.go); the table of kept outputs
	// persists in KeptFile ("" means ROOT/bld-out/.bld/remote-outputs).
	// Without it, Open removes that table.
	KeepRemote bool
	KeptFile   string
}

// A Cache is the up-to-date checker of one workspace, on top of a shared
// store, for one build: from Open to Close, it takes the files the build
// does not write (the outputs of actions it found up to date, programs
// outside the workspace) to stay as it first found them. It is safe for
// concurrent use by many goroutines.
type Cache struct {
	store      *store.Store
	root       string
	rootDir    *rootDir // stats files relative to root
	opts       Options
	records    *recordLog
	stagingDir string
	memo       *memo
	fast       *fastRecord
	toolchains *toolchainMemo
	resolved   sync.Map // what resolvedPrograms found in this build
	tools      sync.Map // what findTool found in this build

	realRootOnce sync.Once // realRoot's
	realRootPath string
	realRootErr  error
	now          func() time.Time

	seenMu sync.Mutex
	seen   map[string]stamp // outputs of the actions fastCheck found up to date, with their stamps (Check's)
	// graph is what CheckIn knows of the graph it was last given.
	graph atomic.Pointer[graphState]

	mu       sync.Mutex
	pending  map[string]*keyInfo // by key: what Check computed for an action that must run, for Store
	hits     int
	misses   int
	fastHits int // Checks decided by the action record alone
	closed   bool

	faultOnce sync.Once // warns about the first store.Fault

	besideOnce sync.Once // outputTmpDir's
	beside     bool      // the marker is made: temporary files go beside outputs

	remote *remoteTier // nil without Options.Remote
	kept   *keptTable  // nil unless Options.KeepRemote and Remote
}

// Open returns the checker of the workspace whose absolute root is root,
// restoring from and storing into st.
func Open(st *store.Store, root string, opts Options) (*Cache, error) {
	if st == nil {
		return nil, errors.New("cache: no store")
	}
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("cache: workspace root %q is not absolute", root)
	}
	state := filepath.Join(root, "bld-out", ".bld")
	orDefault := func(p, name string) string {
		if p == "" {
			return filepath.Join(state, name)
		}
		return p
	}
	c := &Cache{store: st, root: root, opts: opts, now: time.Now, pending: map[string]*keyInfo{}}
	c.rootDir = openRootDir(root)
	c.toolchains = newToolchainMemo(orDefault(opts.ToolchainsFile, "toolchains"))
	c.memo = loadMemo(orDefault(opts.MemoFile, "filedigests"))
	c.fast = opts.Preload.record(orDefault(opts.ActionsFile, "actions"))
	c.records = newRecordLog(filepath.Join(orDefault(opts.ExplainDir, "explain"), "records"))
	c.stagingDir = orDefault(opts.StagingDir, "staging")
	c.records.tmp = c.stagingDir
	c.toolchains.tmp, c.memo.tmp, c.fast.tmp = c.stagingDir, c.stagingDir, c.stagingDir
	if opts.Remote != nil {
		c.remote = newRemoteTier(opts.Remote, opts.RemoteUpload, opts.RemoteExecutes, opts.Warn)
	}
	keptFile := orDefault(opts.KeptFile, "remote-outputs")
	if opts.KeepRemote && opts.Remote != nil {
		c.kept = loadKept(keptFile)
		c.kept.tmp = c.stagingDir
	} else if err := removeKeptTable(keptFile); err != nil {
		return nil, err
	}
	return c, nil
}

// Close settles what it can of the action record (fast.go), saves the
// file-digest memo and the action record, and records
// this build's hits, misses and stored bytes with the store (which may
// trim it), unless every Check was answered by the action record and
// nothing was stored. Calls after the first do nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	hits, misses := c.hits, c.misses
	if hits == c.fastHits && misses == 0 {
		// Every Check was answered by the workspace's action record: the
		// build asked nothing of the store, so its stats have nothing to
		// count (what it stored, if anything, is still recorded). A no-op
		// then neither locks nor rewrites the shared store's stats.json.
		hits = 0
	}
	c.mu.Unlock()
	if closed {
		return nil
	}
	c.remote.close()
	c.settleRecord()
	defer c.rootDir.close()
	var errs []error
	if err := c.memo.save(); err != nil {
		errs = append(errs, fmt.Errorf("cache: saving file digests: %w", err))
	}
	var order []string
	if gs := c.graph.Load(); gs != nil {
		order = make([]string, len(gs.g.Actions))
		for i, a := range gs.g.Actions {
			order[i] = actionID(a.Outputs)
		}
	}
	if err := c.fast.save(order); err != nil {
		errs = append(errs, fmt.Errorf("cache: saving the action record: %w", err))
	}
	if err := c.records.close(); err != nil {
		errs = append(errs, fmt.Errorf("cache: saving explain records: %w", err))
	}
	if c.kept != nil {
		if err := c.kept.save(); err != nil {
			errs = append(errs, fmt.Errorf("cache: saving the table of outputs kept remote: %w", err))
		}
	}
	if err := c.toolchains.save(); err != nil {
		errs = append(errs, fmt.Errorf("cache: saving what compilers run: %w", err))
	}
	if err := c.removeTempMarker(); err != nil {
		errs = append(errs, fmt.Errorf("cache: %w", err))
	}
	if err := c.store.RecordBuild(hits, misses); err != nil && !c.storeFault(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// forgetFiles forgets what the cache learned of files for the build (see
// Cache), as if a new build began: for tests, which run several builds on
// one Cache.
func (c *Cache) forgetFiles() {
	c.seenMu.Lock()
	c.seen = nil
	c.seenMu.Unlock()
	c.graph.Store(nil)
	c.tools.Clear()
}
