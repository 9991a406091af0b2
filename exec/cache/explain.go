package cache

import (
	"fmt"
	"sort"
	"strings"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// An explain record is what an action looked like the last time it ran
// (or was restored from the cache) in this workspace, filed under the
// digest of its sorted output list, which stays the same when its inputs,
// argv or environment change, in the workspace's record log
// (recordlog.go: Options.ExplainDir/records). On a miss, Check compares the action with its record
// to say exactly what changed since this workspace's last run (another
// checkout's runs do not count). `bld clean` removes them with bld-out/.

// A record also lists the outputs the run left, which lets Check find an
// action up to date when the store has no result for its key (see
// lastrun.go).

// record is the JSON form of an explain record.
type record struct {
	Key        string        `json:"key"`
	Argv       []string      `json:"argv,omitempty"`
	Env        []string      `json:"env,omitempty"`
	Tool       string        `json:"tool,omitempty"` // resolved argv[0]
	ToolDigest string        `json:"tool_digest,omitempty"`
	Content    string        `json:"content,omitempty"` // write actions
	Executable bool          `json:"executable,omitempty"`
	Inputs     []recordInput `json:"inputs,omitempty"`
	Outputs    []recordInput `json:"outputs,omitempty"`
	// An action with a depfile: the read set of the run (whose files
	// are among Inputs), and the candidates that could shadow them.
	ReadSet []string `json:"read_set,omitempty"`
	Shadows []string `json:"shadows,omitempty"`
}

type recordInput struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Exec   bool   `json:"exec,omitempty"`
}

// maxDifferences bounds how many differences a Reason lists.
const maxDifferences = 10

func outputsID(outputs []string) string {
	s := append([]string(nil), outputs...)
	sort.Strings(s)
	return digest.OfBytes([]byte(strings.Join(s, "\x00"))).Hash
}

// recordOf returns the record of a run with ki; outs are the outputs it
// left, if known.
func recordOf(ki *keyInfo, outs []outputFile) *record {
	r := &record{Key: ki.key, Argv: ki.argv, Env: ki.env, Tool: ki.toolPath}
	if !ki.toolDigest.IsZero() {
		r.ToolDigest = ki.toolDigest.String()
	}
	if ki.isWrite {
		r.Content = ki.content.String()
		r.Executable = ki.executable
	}
	// Files outside the workspace (read headers, a compiler's programs)
	// are listed with the inputs, by absolute path.
	for _, list := range [][]reapi.InputFile{ki.inputs, ki.external, ki.toolchain} {
		for _, in := range list {
			r.Inputs = append(r.Inputs, recordInput{Path: in.Path, Digest: in.Digest.String(), Exec: in.IsExecutable})
		}
	}
	if ki.discover {
		r.ReadSet, r.Shadows = ki.readSet, ki.shadows
	}
	for _, of := range outs {
		r.Outputs = append(r.Outputs, recordInput{Path: of.Path, Digest: of.Digest.String(), Exec: of.IsExecutable})
	}
	return r
}

// writeRecord files ki, which left the outputs outs, as its action's last
// run. Failures are ignored: a missing record only makes --explain say
// less, and Check rely on the store alone.
func (c *Cache) writeRecord(ki *keyInfo, outs []outputFile) {
	c.records.put(outputsID(ki.outputs), recordOf(ki, outs))
}

// lastRecord returns the explain record of the action with outputs.
func (c *Cache) lastRecord(outputs []string) (*record, error) {
	return c.records.get(outputsID(outputs))
}

// missReason says why ki has no cached result.
func (c *Cache) missReason(ki *keyInfo) string {
	if !c.opts.Explain {
		return "no cached result"
	}
	old, err := c.lastRecord(ki.outputs)
	if err != nil {
		return "no previous entry"
	}
	if ki.discover && ki.level1 == "" {
		// Compare with the action as it would read what it read last
		// time.
		k2, err := c.secondLevel(ki, old.ReadSet)
		if err != nil {
			return "a file it read last time is gone: " + err.Error()
		}
		ki = k2
	}
	diffs := explainDiff(old, recordOf(ki, nil))
	if len(diffs) == 0 {
		if old.Key == ki.key {
			return "the cached result is gone from the cache (trimmed, or removed as corrupt)"
		}
		return "the key changed, but argv, environment, tool and inputs did not (platform or cache version changed)"
	}
	if len(diffs) > maxDifferences {
		diffs = append(diffs[:maxDifferences], fmt.Sprintf("and %d more differences", len(diffs)-maxDifferences))
	}
	return strings.Join(diffs, "; ")
}

// explainDiff lists what differs between the records old and new: the
// content of a write action, the argv elements deleted and inserted,
// environment variables by name, the file argv[0] resolves to (its path,
// or its content), and input files by path, each with old and new value.
func explainDiff(old, new *record) []string {
	var d []string
	if old.Content != new.Content {
		d = append(d, fmt.Sprintf("content changed: %s -> %s", short(old.Content), short(new.Content)))
	}
	if old.Executable != new.Executable {
		d = append(d, fmt.Sprintf("executable bit changed: %v -> %v", old.Executable, new.Executable))
	}
	d = append(d, diffArgv(old.Argv, new.Argv)...)
	oldEnv, newEnv := envMap(old.Env), envMap(new.Env)
	for _, k := range unionKeys(oldEnv, newEnv) {
		o, inOld := oldEnv[k]
		n, inNew := newEnv[k]
		switch {
		case !inOld:
			d = append(d, fmt.Sprintf("env %s added: %q", k, n))
		case !inNew:
			d = append(d, fmt.Sprintf("env %s removed (was %q)", k, o))
		case o != n:
			d = append(d, fmt.Sprintf("env %s changed: %q -> %q", k, o, n))
		}
	}
	switch {
	case old.Tool != new.Tool && old.Tool != "" && new.Tool != "":
		d = append(d, fmt.Sprintf("tool path changed %s -> %s", old.Tool, new.Tool))
	case old.ToolDigest != new.ToolDigest:
		d = append(d, fmt.Sprintf("tool %s changed: %s -> %s", orNone(new.Tool), short(old.ToolDigest), short(new.ToolDigest)))
	}
	oldIn, newIn := map[string]recordInput{}, map[string]recordInput{}
	for _, in := range old.Inputs {
		oldIn[in.Path] = in
	}
	for _, in := range new.Inputs {
		newIn[in.Path] = in
	}
	for _, p := range unionKeys(oldIn, newIn) {
		o, inOld := oldIn[p]
		n, inNew := newIn[p]
		switch {
		case !inOld:
			d = append(d, fmt.Sprintf("input %s added", p))
		case !inNew:
			d = append(d, fmt.Sprintf("input %s removed", p))
		case o.Digest != n.Digest:
			d = append(d, fmt.Sprintf("input %s changed: %s -> %s", p, short(o.Digest), short(n.Digest)))
		case o.Exec != n.Exec:
			d = append(d, fmt.Sprintf("input %s executable bit changed: %v -> %v", p, o.Exec, n.Exec))
		}
	}
	oldShadows := map[string]bool{}
	for _, p := range old.Shadows {
		oldShadows[p] = true
	}
	for _, p := range new.Shadows {
		if !oldShadows[p] {
			d = append(d, fmt.Sprintf("%s appeared, with the name of a file it read", p))
		}
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// short abbreviates a "hash/size" digest for people; "" is "none".
func short(s string) string {
	if s == "" {
		return "none"
	}
	if d, err := digest.Parse(s); err == nil {
		return d.Short()
	}
	return s
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
