// Package record is bld's local incremental record: it remembers which
// actions ran successfully, with which key and which output contents, so
// that a later build in the same workspace skips them. It implements
// executor.Cache; the shared content-addressed cache replaces it behind the
// same interface.
//
// An action is up to date iff it ran successfully before with the same key,
// and its outputs exist with the same content as when its result was stored.
// The key is the SHA-256 of the action's argv, environment, written content
// and executable bit (for file-writing actions), sorted outputs, and sorted
// inputs with the SHA-256 of each input's content. Keys hold workspace-
// relative paths only, never the absolute path of the checkout.
//
// A Record is meant to serve one build: Open it before, Close it after. It
// assumes that source files do not change while the build runs (it stats each
// input once per Record), and always looks afresh at an action's outputs.
package record

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"bld/exec/executor"
	"bld/exec/graph"
)

const (
	logName  = "results.log"
	memoName = "digests"
	// keyVersion changes whenever the key scheme does, so that records
	// written by an older bld never match.
	keyVersion = "bld-record-v1"
)

// Record is the local incremental record of one workspace. It is safe for
// concurrent use.
type Record struct {
	root string
	dir  string

	mu       sync.Mutex
	results  map[string]result // by actionID
	logLines int               // lines in the log, live or superseded
	log      *os.File          // nil once closed
	memo     *memo
}

var _ executor.Cache = (*Record)(nil)

// result is one line of the log: an action that ran successfully.
type result struct {
	Outputs []string `json:"outputs"` // sorted, as declared: identifies the action
	Key     string   `json:"key"`
	Digests []string `json:"digests"` // SHA-256 of each output's content, hex
}

// Open loads the record kept in dir (created if needed) for the workspace
// at root. The caller passes <root>/bld-out/.bld as dir.
func Open(root, dir string) (*Record, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("opening the build record: %w", err)
	}
	r := &Record{root: root, dir: dir, results: map[string]result{}}
	if err := r.loadLog(); err != nil {
		return nil, err
	}
	m, err := loadMemo(root, filepath.Join(dir, memoName))
	if err != nil {
		r.log.Close()
		return nil, err
	}
	r.memo = m
	return r, nil
}

// loadLog reads the result log, ignoring a torn last line (a crash while
// appending) and any other line that does not parse, then opens the log
// for appending after the last complete line.
func (r *Record) loadLog() error {
	path := filepath.Join(r.dir, logName)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the build record: %w", err)
	}
	complete := data[:bytes.LastIndexByte(data, '\n')+1]
	for line := range bytes.Lines(complete) {
		var res result
		if json.Unmarshal(line, &res) != nil || len(res.Outputs) == 0 || len(res.Digests) != len(res.Outputs) {
			continue
		}
		r.results[actionID(res.Outputs)] = res
		r.logLines++
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening the build record: %w", err)
	}
	if len(complete) < len(data) {
		if err := f.Truncate(int64(len(complete))); err != nil {
			f.Close()
			return fmt.Errorf("dropping the torn end of the build record: %w", err)
		}
	}
	if _, err := f.Seek(int64(len(complete)), 0); err != nil {
		f.Close()
		return fmt.Errorf("opening the build record: %w", err)
	}
	r.log = f
	return nil
}

// actionID identifies an action across builds by what it writes: no two
// actions of a graph declare the same output.
func actionID(outputs []string) string { return strings.Join(outputs, "\n") }

// Check computes a's key and reports whether a's stored result is still
// valid. The reasons for a miss are "no previous result", "command or
// inputs changed" and "output X missing or modified".
func (r *Record) Check(ctx context.Context, a *graph.Action) (executor.Check, error) {
	key, err := r.key(a)
	if err != nil {
		return executor.Check{}, err
	}
	c := executor.Check{Key: key}
	r.mu.Lock()
	prev, ok := r.results[actionID(a.Outputs)]
	r.mu.Unlock()
	switch {
	case !ok:
		c.Reason = "no previous result"
		return c, nil
	case prev.Key != key:
		c.Reason = "command or inputs changed"
		return c, nil
	}
	for i, out := range a.Outputs {
		d, err := r.memo.digest(out, true)
		if err != nil || d != prev.Digests[i] {
			c.Reason = "output " + out + " missing or modified"
			return c, nil
		}
	}
	c.UpToDate = true
	return c, nil
}

// Store records that a ran successfully with key, and the contents of its
// outputs as they are now on disk. It appends one line to the log.
func (r *Record) Store(ctx context.Context, a *graph.Action, key string) error {
	res := result{Outputs: a.Outputs, Key: key, Digests: make([]string, len(a.Outputs))}
	for i, out := range a.Outputs {
		d, err := r.memo.digest(out, true)
		if err != nil {
			return fmt.Errorf("recording output %s: %w", out, err)
		}
		res.Digests[i] = d
	}
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("recording %s: %w", a.Outputs[0], err)
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		return errors.New("recording a result: the build record is closed")
	}
	if _, err := r.log.Write(line); err != nil {
		return fmt.Errorf("appending to the build record: %w", err)
	}
	r.results[actionID(a.Outputs)] = res
	r.logLines++
	return nil
}

// Close compacts the log when it holds more than twice as many lines as
// live results, saves the digest memo, and releases the log. Both files are
// replaced atomically (temporary file, then rename).
func (r *Record) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log == nil {
		return nil
	}
	err := r.log.Close()
	r.log = nil
	if err != nil {
		return fmt.Errorf("closing the build record: %w", err)
	}
	if r.logLines > 2*len(r.results) {
		if err := r.compact(); err != nil {
			return err
		}
	}
	return r.memo.save(filepath.Join(r.dir, memoName))
}

// compact rewrites the log with one line per live result.
func (r *Record) compact() error {
	var buf bytes.Buffer
	for _, res := range r.results {
		line, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("compacting the build record: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := writeAtomic(filepath.Join(r.dir, logName), buf.Bytes()); err != nil {
		return fmt.Errorf("compacting the build record: %w", err)
	}
	r.logLines = len(r.results)
	return nil
}

// key is the SHA-256 of everything that can change a's outputs.
func (r *Record) key(a *graph.Action) (string, error) {
	h := sha256.New()
	put := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	list := func(tag string, l []string) {
		put(tag)
		put(fmt.Sprint(len(l)))
		for _, s := range l {
			put(s)
		}
	}
	put(keyVersion)
	list("argv", a.Argv)
	list("env", a.Env)
	if len(a.Argv) == 0 {
		put("content")
		put(string(a.Content))
		put(fmt.Sprint(a.Executable))
	}
	list("outputs", sorted(a.Outputs))
	inputs := sorted(a.Inputs)
	put("inputs")
	put(fmt.Sprint(len(inputs)))
	for _, in := range inputs {
		d, err := r.memo.digest(in, false)
		if err != nil {
			return "", fmt.Errorf("hashing input %s: %w", in, err)
		}
		put(in)
		put(d)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sorted(s []string) []string {
	if slices.IsSorted(s) {
		return s
	}
	return slices.Sorted(slices.Values(s))
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a part.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
