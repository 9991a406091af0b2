// Package snapshot saves what loading and analysis computed for a build (the
// action graph and the outputs the build must bring up to date) together
// with everything they read, so that the next build of the same targets can
// skip both when nothing they read has changed.
//
// What loading and analysis read is: the BUILD.star and .star files (by
// content), the results of globs and of package searches (//...), whether
// the source files that labels name exist, and the variables of bld's
// environment that actions inherit. The snapshot's key covers the rest: the
// bld binary (its built-in rules are in it), the target patterns, and the
// actions' base environment. If any of these differs, the snapshot does not
// apply and bld loads and analyzes as usual.
//
// A snapshot also has an Index saying which package each read, target and
// action belongs to. When what changed can be tied to packages (a
// BUILD.star or a .star file edited, a glob or a source file's existence
// changed), only the targets of those packages and the targets whose
// analysis read them, directly or not, are analyzed again; the other
// targets' actions are taken from the snapshot, in the order a complete
// analysis gives (Changes, Reassemble). A change that cannot be tied to packages (a
// package added or removed under a //... pattern, a variable of bld's
// environment) means loading and analyzing everything.
//
// A snapshot is one file in a compact binary encoding (codec.go: a string
// table, varints, a checksum), written to a temporary file and renamed into
// place, so a reader sees an old snapshot or a new one, never a mix. A file
// that cannot be decoded (truncated, damaged, of another format) is
// ignored: the build loads and analyzes as if there were none. An
// incremental analysis that changed targets without changing their shape
// writes the file it read again, as it was, with a patch after it (patch.go)
// rather than encoding every action again; it loads as the snapshot
// encoded whole would.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"

	"bld/exec/graph"
	"bld/exec/regfile"
	"bld/exec/store"
	"bld/starlark/workspace"
)

// formatVersion changes whenever the encoding or the meaning of a snapshot
// does; it is part of every key.
const formatVersion = "bld-snapshot-3"

// A Snapshot is the result of loading and analysis, and what it depends on.
type Snapshot struct {
	// Key identifies what was asked for, and by which bld (see Key).
	Key string
	// Reads are the answers the workspace gave.
	Reads *workspace.Reads
	// Env holds the variables of bld's environment that actions inherit.
	Env map[string]EnvValue
	// Actions is the action graph, in declaration order.
	Actions []*graph.Action
	// Goals are the outputs the build brings up to date.
	Goals []string
	// Index ties reads, actions and goals to packages and targets, for
	// incremental analysis; nil when the analysis could not be indexed.
	Index *Index
	// Links are the action graph of Actions and Goals as IDs, so that a
	// build that takes them from here looks up no path to link them; nil
	// when not saved (or a patch may have changed them).
	Links *Links
}

// Links are what the checked action graph of a snapshot's actions says of
// them: Edges is its graph.Graph.Edges (the producer of each input of
// each action, -1 for a source), Goals the IDs of the actions that
// produce Goals, each once, in the goals' order (build.Plan's Goals).
// They are derived from Actions and Goals alone, so that the same
// snapshot gives the same bytes.
type Links struct {
	Edges []int32
	Goals []int32
}

// EnvValue is the value of an environment variable, or its absence.
type EnvValue struct {
	Value string
	Set   bool
}

// Key returns the key of a snapshot for a build described by parts (the bld
// binary's identity, the patterns, the base environment of actions, ...).
func Key(parts ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", formatVersion)
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Load reads the snapshot at path, if there is one with the given key: it
// returns nil (and no error) when there is none, it has another key, or it
// cannot be decoded.
func Load(path, key string) (*Snapshot, error) {
	l, err := Open(path, key)
	if l == nil {
		return nil, err
	}
	return l.Snapshot, nil
}

// LoadAny reads the snapshot at path whatever its key (for tests and
// tools); nil if there is none or it cannot be decoded.
func LoadAny(path string) (*Snapshot, error) {
	data, err := readFile(path)
	if data == nil || err != nil {
		return nil, err
	}
	s, err := decode(data, true)
	if err != nil {
		return nil, nil
	}
	return s, nil
}

// readFile returns the bytes of the snapshot file path; nil and no error
// if there is none. Something else than a regular file there (a FIFO) is
// found without blocking and taken as none: the snapshot is bld's own
// cache of the analysis, and saving the next one replaces it.
func readFile(path string) ([]byte, error) {
	data, _, err := regfile.ReadFile(path, false)
	var notRegular *regfile.NotRegularError
	if errors.Is(err, fs.ErrNotExist) || errors.As(err, &notRegular) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the analysis snapshot: %w", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Stale re-reads what the snapshot depends on in the workspace at root, and
// with getenv for bld's environment, and says what changed, or "" if
// nothing did.
func (s *Snapshot) Stale(root string, getenv func(string) (string, bool)) string {
	for name, want := range s.Env {
		v, ok := getenv(name)
		if ok != want.Set || v != want.Value {
			return "$" + name + " changed"
		}
	}
	return s.Reads.Changed(root)
}

// Save writes s to path atomically.
func Save(path string, s *Snapshot) error {
	data, err := Encode(s)
	if err != nil {
		return err
	}
	return WriteFile(path, data)
}

// WriteFile writes data, a snapshot's bytes (Encode), to path atomically.
func WriteFile(path string, data []byte) error {
	if err := store.WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("saving the analysis snapshot: %w", err)
	}
	return nil
}
