package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"bld/exec/digest"
	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/reapi"
	"bld/exec/toolchain"
)

// keyInfo is everything an action's key was computed from, kept for the
// action's explain record, its workspace record, and Store.
type keyInfo struct {
	key    string // hex SHA-256 of the REAPI Action's encoding
	action digest.Digest
	argv   []string
	env    []string // as keyed: the action's environment without PATH
	// outputs are the action's output paths, sorted.
	outputs []string
	// inputs are the workspace files keyed by content, sorted by path,
	// directories expanded: every input of an action without a depfile;
	// the mandatory inputs of one with a depfile, and in a second-level
	// key also the workspace files of its read set.
	inputs []reapi.InputFile
	// external are, in a second-level key, the read set's files outside
	// the workspace, by absolute path, sorted.
	external []reapi.InputFile
	// toolPath is argv[0] as resolved by program.Find (its Name), and
	// toolDigest its content's digest (zero if it was not found).
	toolPath   string
	toolDigest digest.Digest
	// prog is what program.Find found for argv[0], when it was found and
	// digested: the runner starts it (executor.Check.Program).
	prog *program.Program
	// toolchain are the programs a compiler driver runs (cc1, as, ld...),
	// by absolute path, and toolVersion what the driver says it is.
	toolchain   []reapi.InputFile
	toolVersion string
	// platform are the action's ExecProperties, the Platform of its
	// Command and Action.
	platform map[string]string
	// execRoot says where the command runs: at the sandbox's fixed path,
	// or somewhere that depends on the checkout.
	execRoot string
	// content and executable describe a file-writing action.
	content    digest.Digest
	executable bool
	isWrite    bool

	// discover is set for an action with a depfile. A second-level key
	// (level1 is then the first-level key) covers readSet, the files one
	// run reported reading, and shadows, the candidates that have the
	// base name of a file in readSet and so could be found instead of
	// it. byBase indexes the candidates by base name.
	// kept holds the digests of the files stamped as kept remote
	// (kept.go): they have no stamp on disk to compare.
	kept map[string]digest.Digest

	discover bool
	// sandboxed says the command sees only its inputs and candidates: a
	// read set naming another workspace file is then not its own.
	sandboxed bool
	byBase    map[string][]string
	readSet   []string
	shadows   []string
	level1    string

	// stamps are the stamps of the files the key was computed from (and,
	// after a miss, of the candidates), under their memo keys, when their
	// content was the one keyed; checked is when Check began. Store
	// compares them with the files after the run.
	stamps  map[string]stamp
	checked time.Time
}

const (
	// keyVersion starts every salt: change it when what a key covers, or
	// how it is encoded, changes, so that old cache entries become misses,
	// never wrong hits. (The key of a file-writing action has no salt: its
	// Command is "bld-write ...", whose encoding must change instead.)
	// 3: the Command sets output_files besides output_paths
	// (reapi.NewCommand), and the messages are the generated REAPI types,
	// encoded by the protobuf library (exec/reapi has since encoded them
	// itself, to the same bytes: the keys did not change).
	keyVersion = "bld-key 3"
	// execRootUnfixed is the execRoot of actions whose working directory
	// depends on the checkout (no sandbox, or a symlink forest).
	execRootUnfixed = "unfixed"
)

// computeKey hashes what a's outputs depend on and returns its key: for an
// action with a depfile, its first-level key (see readset.go).
func (c *Cache) computeKey(ctx context.Context, a *graph.Action) (*keyInfo, error) {
	ki := &keyInfo{argv: a.Argv, env: keyedEnv(a.Env), outputs: a.Outputs, platform: a.ExecProperties(), stamps: map[string]stamp{}, checked: c.now()}
	for _, o := range a.Outputs {
		if err := checkRel(o); err != nil {
			return nil, fmt.Errorf("output %w", err)
		}
	}
	if len(a.Argv) == 0 {
		ki.isWrite = true
		ki.content = digest.OfBytes(a.Content())
		ki.executable = a.Executable
		return c.finishKey(ki)
	}
	inputs := a.AllInputs()
	if a.Depfile() != "" {
		inputs = a.Inputs
		ki.discover = true
		ki.sandboxed = c.opts.Sandboxed && !a.NoSandbox
		ki.byBase = make(map[string][]string, len(a.Discoverable()))
		for _, p := range a.Discoverable() {
			b := path.Base(p)
			ki.byBase[b] = append(ki.byBase[b], p)
		}
	}
	if err := c.hashInputs(ki, inputs); err != nil {
		return nil, err
	}
	if err := c.hashTool(ctx, ki, a); err != nil {
		return nil, err
	}
	ki.execRoot = execRootUnfixed
	if c.opts.FixedExecRoot && !a.NoSandbox {
		ki.execRoot = graph.SandboxExecRoot
	}
	return c.finishKey(ki)
}

// secondLevel returns the key of the action of the first-level key ki as
// it ran when it read the files of set: ki's inputs plus those files, each
// by content. It fails when a file of set cannot be read (it is gone: the
// set does not apply).
func (c *Cache) secondLevel(ki *keyInfo, set []string) (*keyInfo, error) {
	k2 := *ki
	k2.level1, k2.readSet = ki.key, set
	k2.inputs = append([]reapi.InputFile(nil), ki.inputs...)
	k2.external, k2.shadows = nil, nil
	k2.stamps = make(map[string]stamp, len(ki.stamps)+len(set))
	for p, st := range ki.stamps {
		k2.stamps[p] = st
	}
	k2.kept = maps.Clone(ki.kept)
	for _, p := range set {
		abs := p
		if !path.IsAbs(p) {
			abs = c.abs(p)
			if ki.sandboxed && !slices.Contains(ki.byBase[path.Base(p)], p) {
				return nil, fmt.Errorf("%s is not a discoverable input any more", p)
			}
		}
		d, st, err := c.fileDigest(p, abs)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		k2.stamp(p, st, d)
		f := reapi.InputFile{Path: p, Digest: d, IsExecutable: st.exec}
		if path.IsAbs(p) {
			k2.external = append(k2.external, f)
		} else {
			k2.inputs = append(k2.inputs, f)
		}
		for _, cand := range ki.byBase[path.Base(p)] {
			if cand != p {
				k2.shadows = append(k2.shadows, cand)
			}
		}
	}
	sort.Strings(k2.shadows)
	k2.shadows = slices.Compact(k2.shadows)
	sort.Slice(k2.inputs, func(i, j int) bool { return k2.inputs[i].Path < k2.inputs[j].Path })
	return c.finishKey(&k2)
}

// finishKey computes ki.key from the rest of ki: the digest of the
// deterministic encoding of its REAPI Action (see the package comment).
func (c *Cache) finishKey(ki *keyInfo) (*keyInfo, error) {
	var cmd *reapi.Command
	act := &reapi.Action{}
	if ki.isWrite {
		mode := "0644"
		if ki.executable {
			mode = "0755"
		}
		cmd = reapi.NewCommand([]string{"bld-write", ki.content.String(), mode}, nil, ki.outputs)
	} else {
		cmd = reapi.NewCommand(ki.argv, ki.env, ki.outputs)
		act.Salt = ki.salt()
		act.Platform = reapi.PlatformOf(ki.platform)
		cmd.Platform = act.Platform
	}
	root, err := reapi.MerkleRoot(ki.inputs, nil)
	if err != nil {
		return nil, err
	}
	cmdDigest, _, err := reapi.DigestOf(cmd)
	if err != nil {
		return nil, fmt.Errorf("the action's command cannot be keyed: %w", err)
	}
	act.CommandDigest, act.InputRootDigest = cmdDigest, root
	if ki.action, _, err = reapi.DigestOf(act); err != nil {
		return nil, fmt.Errorf("the action cannot be keyed: %w", err)
	}
	ki.key = ki.action.Hash
	return ki, nil
}

// salt is what a key covers beyond the Command and the input root, one
// fact per line: the tool's content, the compiler driver's version and
// programs, where the command runs, and for a depfile action at the second
// level the files outside the workspace it read and the candidates that
// could shadow a file it read. (The first level does not cover the
// candidate list, so that adding a header to a unit does not rerun every
// compile that may include it: only those that read a file of its name.) REAPI servers reject platform properties they do not
// know, so these go in the salt.
func (ki *keyInfo) salt() []byte {
	var b strings.Builder
	b.WriteString(keyVersion + "\n")
	if ki.toolDigest.IsZero() {
		b.WriteString("tool none\n")
	} else {
		fmt.Fprintf(&b, "tool %s\n", ki.toolDigest)
	}
	if ki.toolVersion != "" {
		fmt.Fprintf(&b, "toolchain-version %s\n", ki.toolVersion)
	}
	for _, p := range ki.toolchain {
		// The program's name, not its directory: the content decides.
		fmt.Fprintf(&b, "toolchain %s %s\n", path.Base(p.Path), p.Digest)
	}
	fmt.Fprintf(&b, "execroot %s\n", ki.execRoot)
	switch {
	case ki.discover && ki.level1 == "":
		b.WriteString("discoverable\n")
	case ki.discover:
		b.WriteString("discovered\n")
		for _, f := range ki.external {
			fmt.Fprintf(&b, "external %q %s\n", f.Path, f.Digest)
		}
		for _, p := range ki.shadows {
			fmt.Fprintf(&b, "shadow %q\n", p)
		}
	}
	return []byte(b.String())
}

// keyedEnv is env without PATH: what PATH changes is which programs run,
// and the key holds those by content (tool, toolchain) instead, so that
// checkouts with different PATHs share results and a PATH change reruns
// only the actions whose programs it changes.
func keyedEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}

// checkRel reports whether p is a clean slash-separated path inside the
// workspace.
func checkRel(p string) error {
	if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%q is not a clean path relative to the workspace root", p)
	}
	return nil
}

// stamp records the stamp of the file p, whose digest is d.
func (ki *keyInfo) stamp(p string, st stamp, d digest.Digest) {
	ki.stamps[p] = st
	if st.size == keptStampSize {
		if ki.kept == nil {
			ki.kept = map[string]digest.Digest{}
		}
		ki.kept[p] = d
	}
}

func (c *Cache) abs(rel string) string {
	return filepath.Join(c.root, filepath.FromSlash(rel))
}

// hashInputs digests every input file; an input that is a directory
// stands for every regular file below it (symbolic links to files are
// followed, those to directories are not).
func (c *Cache) hashInputs(ki *keyInfo, inputs []string) error {
	for _, in := range inputs {
		if err := checkRel(in); err != nil {
			return fmt.Errorf("input %w", err)
		}
		abs := c.abs(in)
		// A file the memo knows nothing of (every input, in a new
		// workspace) is read at once: the fstat of the opened file says
		// all a stat before would.
		if d, st, ok := c.memo.digestUnknown(in, abs); ok {
			ki.stamp(in, st, d)
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: in, Digest: d, IsExecutable: st.exec})
			continue
		}
		// One stat says whether the input is a regular file, for the
		// memo, and which it is; only something else is stat'ed again.
		st, regular, err := statStamp(abs)
		if err != nil && !c.isKeptFile(in) {
			return fmt.Errorf("input %s: %w", in, err)
		}
		if err == nil && regular {
			d, st, err := c.memo.stampedDigest(in, abs, st)
			if err != nil {
				return fmt.Errorf("input %s: %w", in, err)
			}
			ki.stamp(in, st, d)
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: in, Digest: d, IsExecutable: st.exec})
			continue
		}
		var fi fs.FileInfo
		if err == nil {
			fi, err = os.Stat(abs)
		}
		if err != nil || !fi.IsDir() {
			d, st, err := c.fileDigest(in, abs)
			if err != nil {
				return fmt.Errorf("input %s: %w", in, err)
			}
			ki.stamp(in, st, d)
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: in, Digest: d, IsExecutable: st.exec})
			continue
		}
		err = filepath.WalkDir(abs, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				return nil
			}
			if de.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
					return nil
				}
			} else if !de.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(c.root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			d, st, err := c.memo.fileDigest(rel, p)
			if err != nil {
				return err
			}
			ki.stamps[rel] = st
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: rel, Digest: d, IsExecutable: st.exec})
			return nil
		})
		if err != nil {
			return fmt.Errorf("input %s: %w", in, err)
		}
	}
	sort.Slice(ki.inputs, func(i, j int) bool { return ki.inputs[i].Path < ki.inputs[j].Path })
	return nil
}

// hashTool resolves argv[0] as the runner will (program.Find, through
// findTool: a tool outside the workspace is looked up once per build, as
// for the no-op's check) and digests the file it names, and, for a
// compiler driver, the programs it runs with the action's
// toolchain-affecting arguments and environment: the driver's answers come
// from the toolchain memo, and are resolved in the action's PATH here, at
// each key. A tool that is not found has no digest: the action will fail
// when it runs. The tool's stamp is in the key's stamps, so a tool that
// changed since it was looked up fails Store's check (changedSince) and
// the result is not kept.
func (c *Cache) hashTool(ctx context.Context, ki *keyInfo, a *graph.Action) error {
	prog, found, ok := c.findTool(a)
	if !ok {
		return nil
	}
	// findTool stat'ed the program: a regular file, with that stamp.
	d, st, err := c.memo.stampedDigest(prog.Name, prog.Path, found)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("tool %s: %w", a.Argv[0], err)
	}
	ki.toolPath, ki.toolDigest, ki.prog = prog.Name, d, &prog
	ki.stamps[prog.Name] = st
	if !toolchain.IsDriver(a.Argv[0]) {
		return nil
	}
	id, err := c.toolchains.identity(ctx, c.root, prog, toolchain.Flags(a.Argv), a.Env, ki.checked)
	if err != nil {
		return fmt.Errorf("asking the compiler %s what it runs: %w", prog.Path, err)
	}
	ki.toolVersion = id.Version
	for _, p := range c.resolvedPrograms(id, a.Env) {
		d, st, err := c.memo.fileDigest(p, p)
		if err != nil {
			return fmt.Errorf("compiler %s: %w", prog.Path, err)
		}
		ki.stamps[p] = st
		ki.toolchain = append(ki.toolchain, reapi.InputFile{Path: p, Digest: d, IsExecutable: st.exec})
	}
	return nil
}
