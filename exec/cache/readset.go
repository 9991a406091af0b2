package cache

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"bld/exec/depfile"
	"bld/exec/graph"
)

// A read set is what an action with a depfile reported reading, beyond its
// mandatory inputs: candidates of its Discoverable list, other files of the
// workspace (read by an action run without a sandbox), and files outside the
// workspace (system headers), as a sorted list of unique paths, workspace
// files relative to the root and files outside it absolute.
//
// The key of such an action has two levels, as ccache's direct mode does.
// The first level covers everything but the discoverable files' contents
// (argv, environment, tool, mandatory inputs by content, and the list of
// candidate paths, so that a new header that could shadow another changes
// it); under it the cache keeps a manifest: the read sets the action has
// had, newest first. The second level is the key of the action as it ran:
// its mandatory inputs plus the files of one read set, each by content.

// maxReadSets bounds how many read sets a manifest keeps.
const maxReadSets = 8

// readSetOf returns the read set of action a from its depfile's content
// data. root is the absolute workspace root. Paths are cleaned; those under
// the sandbox's fixed exec root or the workspace root become relative; the
// action's mandatory inputs and its outputs are left out (they are keyed
// already, or are not read); a relative path that is not a candidate is kept
// only if exists(path) says the workspace has such a file (a file the
// action created and removed is not an input).
func readSetOf(root string, a *graph.Action, data []byte, exists func(rel string) bool) ([]string, error) {
	rules, err := depfile.Parse(data)
	if err != nil {
		return nil, err
	}
	skip := make(map[string]bool, len(a.Inputs)+len(a.Outputs))
	for _, p := range a.Inputs {
		skip[p] = true
	}
	for _, p := range a.Outputs {
		skip[p] = true
	}
	seen := map[string]bool{}
	var set []string
	for _, p := range depfile.Prerequisites(rules) {
		p = normalizeRead(root, p)
		if p == "" || skip[p] || seen[p] {
			continue
		}
		seen[p] = true
		if !path.IsAbs(p) && !isCandidate(a, p) && !exists(p) {
			continue
		}
		set = append(set, p)
	}
	sort.Strings(set)
	return set, nil
}

// normalizeRead maps a path from a depfile to the read-set form: relative
// to the workspace root when it is under the root or the sandbox's exec
// root, else absolute (outside the workspace). It returns "" for a path
// that names nothing usable.
func normalizeRead(root, p string) string {
	if p == "" {
		return ""
	}
	p = depfile.Relative(p, []string{graph.SandboxExecRoot, root})
	switch {
	case p == ".":
		return ""
	case p == ".." || strings.HasPrefix(p, "../"):
		return filepath.ToSlash(filepath.Join(root, p)) // outside the workspace
	}
	return p
}

func isCandidate(a *graph.Action, p string) bool {
	_, found := sort.Find(len(a.Discoverable()), func(i int) int { return strings.Compare(p, a.Discoverable()[i]) })
	return found
}

// A manifest lists the read sets an action has had, newest first.
type manifest struct {
	sets [][]string
}

const manifestHeader = "bld-readsets 1\n"

var errBadManifest = errors.New("bad read-set manifest")

// marshal encodes m: the header, then each set as its paths one per line,
// sets separated by an empty line. Paths never contain newlines (readSetOf's
// callers do not record actions whose paths do).
func (m *manifest) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, set := range m.sets {
		for _, p := range set {
			b.WriteString(p)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func parseManifest(data []byte) (*manifest, error) {
	body, ok := bytes.CutPrefix(data, []byte(manifestHeader))
	if !ok {
		return nil, errBadManifest
	}
	m := &manifest{}
	var cur []string
	for len(body) > 0 {
		line, rest, found := bytes.Cut(body, []byte("\n"))
		if !found {
			return nil, errBadManifest
		}
		body = rest
		if len(line) == 0 {
			m.sets = append(m.sets, cur)
			cur = nil
			continue
		}
		cur = append(cur, string(line))
	}
	if cur != nil {
		return nil, errBadManifest
	}
	return m, nil
}

// add puts set first in m, removing an equal older one, and keeps at most
// maxReadSets sets.
func (m *manifest) add(set []string) {
	sets := [][]string{set}
	for _, s := range m.sets {
		if !slices.Equal(s, set) && len(sets) < maxReadSets {
			sets = append(sets, s)
		}
	}
	m.sets = sets
}

// recordablePaths reports whether every path can be written in a manifest.
func recordablePaths(paths []string) error {
	for _, p := range paths {
		if p == "" || strings.ContainsAny(p, "\n\r") {
			return fmt.Errorf("path %q cannot be recorded", p)
		}
	}
	return nil
}
