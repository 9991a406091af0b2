package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"bld/exec/digest"
	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/reapi"
)

// keyInfo is everything an action's key was computed from, kept for the
// action's explain record.
type keyInfo struct {
	key     string // hex SHA-256 of the reapi.Action encoding
	action  digest.Digest
	argv    []string
	env     []string
	outputs []string
	inputs  []reapi.InputFile // sorted by path, directories expanded
	// tool is argv[0] as resolved in the action's PATH, and its digest
	// (zero if it was not found).
	toolPath   string
	toolDigest digest.Digest
	// content and executable describe a file-writing action.
	content    digest.Digest
	executable bool
	isWrite    bool
}

// computeKey hashes what a's outputs depend on and returns its key.
func (c *Cache) computeKey(a *graph.Action) (*keyInfo, error) {
	ki := &keyInfo{argv: a.Argv, env: a.Env, outputs: a.Outputs}
	for _, o := range a.Outputs {
		if err := checkRel(o); err != nil {
			return nil, fmt.Errorf("output %w", err)
		}
	}
	var cmd *reapi.Command
	var act reapi.Action
	if len(a.Argv) == 0 {
		ki.isWrite = true
		ki.content = digest.OfBytes(a.Content)
		ki.executable = a.Executable
		mode := "0644"
		if a.Executable {
			mode = "0755"
		}
		cmd = reapi.NewCommand([]string{"bld-write", ki.content.String(), mode}, nil, a.Outputs)
		root, _ := reapi.MerkleRoot(nil, nil)
		act.InputRootDigest = root
	} else {
		cmd = reapi.NewCommand(a.Argv, a.Env, a.Outputs)
		if err := c.hashInputs(ki, a.Inputs); err != nil {
			return nil, err
		}
		root, err := reapi.MerkleRoot(ki.inputs, nil)
		if err != nil {
			return nil, err
		}
		act.InputRootDigest = root
		if err := c.hashTool(ki); err != nil {
			return nil, err
		}
		salt := "bld-tool=none"
		if !ki.toolDigest.IsZero() {
			salt = "bld-tool=" + ki.toolDigest.String()
		}
		act.Salt = []byte(salt)
	}
	act.CommandDigest = digest.OfBytes(cmd.Marshal())
	if len(c.opts.Platform) > 0 {
		props := append([]reapi.Property(nil), c.opts.Platform...)
		sort.Slice(props, func(i, j int) bool {
			if props[i].Name != props[j].Name {
				return props[i].Name < props[j].Name
			}
			return props[i].Value < props[j].Value
		})
		act.Platform = &reapi.Platform{Properties: props}
	}
	ki.action = digest.OfBytes(act.Marshal())
	ki.key = ki.action.Hash
	return ki, nil
}

// checkRel reports whether p is a clean slash-separated path inside the
// workspace.
func checkRel(p string) error {
	if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%q is not a clean path relative to the workspace root", p)
	}
	return nil
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
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("input %s: %w", in, err)
		}
		if !fi.IsDir() {
			d, exec, err := c.memo.fileDigest(in, abs)
			if err != nil {
				return fmt.Errorf("input %s: %w", in, err)
			}
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: in, Digest: d, IsExecutable: exec})
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
			d, exec, err := c.memo.fileDigest(rel, p)
			if err != nil {
				return err
			}
			ki.inputs = append(ki.inputs, reapi.InputFile{Path: rel, Digest: d, IsExecutable: exec})
			return nil
		})
		if err != nil {
			return fmt.Errorf("input %s: %w", in, err)
		}
	}
	sort.Slice(ki.inputs, func(i, j int) bool { return ki.inputs[i].Path < ki.inputs[j].Path })
	return nil
}

// hashTool resolves argv[0] as the runner will (in the action's PATH,
// relative entries and relative paths taken from the workspace root) and
// digests the file it names. A tool that is not found has no digest: the
// action will fail when it runs.
func (c *Cache) hashTool(ki *keyInfo) error {
	abs, key, _ := c.resolveTool(ki.argv[0], ki.env)
	if abs == "" {
		return nil
	}
	d, _, err := c.memo.fileDigest(key, abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("tool %s: %w", ki.argv[0], err)
	}
	ki.toolPath, ki.toolDigest = key, d
	return nil
}

// resolveTool returns the absolute path of the tool name, the memo key
// for it (workspace-relative when named relative to the workspace) and
// what stat said of it, or "", "", nil when there is none.
func (c *Cache) resolveTool(name string, env []string) (string, string, os.FileInfo) {
	p, err := program.Find(c.root, name, env)
	if err != nil {
		return "", "", nil
	}
	return p.Path, p.Name, p.Info
}
