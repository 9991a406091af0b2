// Package reapi mirrors the parts of the Remote Execution API v2 data model
// (build.bazel.remote.execution.v2, remote_execution.proto) that bld's action
// cache keys on, as plain Go structs with a canonical binary encoding.
//
// # Mapping to the proto messages
//
// Every struct here has the name of its proto message and one Go field per
// proto field it carries, in the same order, with the proto field number in
// a comment. Fields bld does not set (Action.timeout, Command.platform and
// output_files, node_properties, symlinks, output directories, ...) are left
// out; a later REAPI client converts these structs 1:1 to the generated
// types, leaving the missing fields unset.
//
// # Canonical encoding
//
// Marshal produces exactly the bytes a protobuf library produces for the
// equivalent message with deterministic marshaling: fields in field-number
// order, proto3 default values (empty string, zero integer, false, absent
// message) omitted, repeated elements always emitted, in order. So the digest
// of a Marshal result is the digest REAPI clients and servers compute for
// the same message, and a remote cache can be addressed with the very keys
// the local cache uses. The ordering rules REAPI imposes on its messages
// (environment variables sorted by name, output paths sorted, platform
// properties sorted, directory entries sorted by name) are the caller's to
// keep, except where a constructor (NewCommand, MerkleRoot) says it sorts.
package reapi

import (
	"bld/exec/digest"
	"sort"
	"strings"
)

// Command is build.bazel.remote.execution.v2.Command.
type Command struct {
	Arguments            []string              // 1
	EnvironmentVariables []EnvironmentVariable // 2, sorted by Name
	OutputPaths          []string              // 7, sorted, relative to the input root
	WorkingDirectory     string                // 6, relative to the input root; "" is the root
}

// EnvironmentVariable is Command.EnvironmentVariable.
type EnvironmentVariable struct {
	Name  string // 1
	Value string // 2
}

// NewCommand returns the Command for argv, an environment of "KEY=value"
// entries (in any order; an entry without "=" is a name with an empty
// value) and output paths (in any order), sorting as REAPI requires.
func NewCommand(argv, env, outputs []string) *Command {
	c := &Command{Arguments: argv}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		c.EnvironmentVariables = append(c.EnvironmentVariables, EnvironmentVariable{k, v})
	}
	sort.SliceStable(c.EnvironmentVariables, func(i, j int) bool {
		return c.EnvironmentVariables[i].Name < c.EnvironmentVariables[j].Name
	})
	c.OutputPaths = append([]string(nil), outputs...)
	sort.Strings(c.OutputPaths)
	return c
}

// Marshal returns the canonical encoding of c.
func (c *Command) Marshal() []byte {
	var b []byte
	for _, a := range c.Arguments {
		b = appendString(b, 1, a, true)
	}
	for _, e := range c.EnvironmentVariables {
		var m []byte
		m = appendString(m, 1, e.Name, false)
		m = appendString(m, 2, e.Value, false)
		b = appendMessage(b, 2, m)
	}
	b = appendString(b, 6, c.WorkingDirectory, false)
	for _, p := range c.OutputPaths {
		b = appendString(b, 7, p, true)
	}
	return b
}

// Platform is build.bazel.remote.execution.v2.Platform.
type Platform struct {
	Properties []Property // 1, sorted by Name, then Value
}

// Property is Platform.Property.
type Property struct {
	Name  string // 1
	Value string // 2
}

func (p *Platform) marshal() []byte {
	var b []byte
	for _, pr := range p.Properties {
		var m []byte
		m = appendString(m, 1, pr.Name, false)
		m = appendString(m, 2, pr.Value, false)
		b = appendMessage(b, 1, m)
	}
	return b
}

// Action is build.bazel.remote.execution.v2.Action. Its digest is the key
// of the action cache.
type Action struct {
	CommandDigest   digest.Digest // 1
	InputRootDigest digest.Digest // 2
	DoNotCache      bool          // 7
	Salt            []byte        // 9
	Platform        *Platform     // 10; nil is absent
}

// Marshal returns the canonical encoding of a.
func (a *Action) Marshal() []byte {
	var b []byte
	b = appendMessage(b, 1, marshalDigest(a.CommandDigest))
	b = appendMessage(b, 2, marshalDigest(a.InputRootDigest))
	b = appendBool(b, 7, a.DoNotCache)
	b = appendBytes(b, 9, a.Salt, false)
	if a.Platform != nil {
		b = appendMessage(b, 10, a.Platform.marshal())
	}
	return b
}

// Directory is build.bazel.remote.execution.v2.Directory: one level of an
// input tree, entries sorted by name.
type Directory struct {
	Files       []FileNode      // 1
	Directories []DirectoryNode // 2
}

// FileNode is build.bazel.remote.execution.v2.FileNode.
type FileNode struct {
	Name         string        // 1
	Digest       digest.Digest // 2
	IsExecutable bool          // 4
}

// DirectoryNode is build.bazel.remote.execution.v2.DirectoryNode.
type DirectoryNode struct {
	Name   string        // 1
	Digest digest.Digest // 2, of the child's Directory encoding
}

// Marshal returns the canonical encoding of d.
func (d *Directory) Marshal() []byte {
	var b []byte
	for _, f := range d.Files {
		var m []byte
		m = appendString(m, 1, f.Name, false)
		m = appendMessage(m, 2, marshalDigest(f.Digest))
		m = appendBool(m, 4, f.IsExecutable)
		b = appendMessage(b, 1, m)
	}
	for _, sub := range d.Directories {
		var m []byte
		m = appendString(m, 1, sub.Name, false)
		m = appendMessage(m, 2, marshalDigest(sub.Digest))
		b = appendMessage(b, 2, m)
	}
	return b
}

// ActionResult is build.bazel.remote.execution.v2.ActionResult: what the
// action cache maps an Action digest to.
type ActionResult struct {
	OutputFiles  []OutputFile  // 2, sorted by Path
	ExitCode     int32         // 4
	StdoutDigest digest.Digest // 6; zero is absent
	StderrDigest digest.Digest // 8; zero is absent
}

// OutputFile is build.bazel.remote.execution.v2.OutputFile.
type OutputFile struct {
	Path         string        // 1
	Digest       digest.Digest // 2
	IsExecutable bool          // 4
	// Contents is the file's content when it is inlined in the result
	// (5), as REAPI allows for small files; nil when it is a blob of the
	// CAS.
	Contents []byte // 5
}

// Marshal returns the canonical encoding of r.
func (r *ActionResult) Marshal() []byte {
	var b []byte
	for _, f := range r.OutputFiles {
		var m []byte
		m = appendString(m, 1, f.Path, false)
		m = appendMessage(m, 2, marshalDigest(f.Digest))
		m = appendBool(m, 4, f.IsExecutable)
		if len(f.Contents) > 0 {
			m = appendMessage(m, 5, f.Contents)
		}
		b = appendMessage(b, 2, m)
	}
	b = appendVarintField(b, 4, uint64(int64(r.ExitCode)))
	if !r.StdoutDigest.IsZero() {
		b = appendMessage(b, 6, marshalDigest(r.StdoutDigest))
	}
	if !r.StderrDigest.IsZero() {
		b = appendMessage(b, 8, marshalDigest(r.StderrDigest))
	}
	return b
}

// UnmarshalActionResult decodes an ActionResult encoded by Marshal or by any
// protobuf library. Fields this package does not model are skipped.
func UnmarshalActionResult(b []byte) (*ActionResult, error) {
	r := &ActionResult{}
	err := parseFields(b, func(num int, wt int, v uint64, data []byte) error {
		switch {
		case num == 2 && wt == wireBytes:
			var f OutputFile
			err := parseFields(data, func(num int, wt int, v uint64, data []byte) error {
				switch {
				case num == 1 && wt == wireBytes:
					f.Path = string(data)
				case num == 2 && wt == wireBytes:
					d, err := unmarshalDigest(data)
					if err != nil {
						return err
					}
					f.Digest = d
				case num == 4 && wt == wireVarint:
					f.IsExecutable = v != 0
				case num == 5 && wt == wireBytes:
					f.Contents = append([]byte(nil), data...)
				}
				return nil
			})
			if err != nil {
				return err
			}
			r.OutputFiles = append(r.OutputFiles, f)
		case num == 4 && wt == wireVarint:
			r.ExitCode = int32(v)
		case (num == 6 || num == 8) && wt == wireBytes:
			d, err := unmarshalDigest(data)
			if err != nil {
				return err
			}
			if num == 6 {
				r.StdoutDigest = d
			} else {
				r.StderrDigest = d
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func marshalDigest(d digest.Digest) []byte {
	var b []byte
	b = appendString(b, 1, d.Hash, false)
	b = appendVarintField(b, 2, uint64(d.Size))
	return b
}

func unmarshalDigest(b []byte) (digest.Digest, error) {
	var d digest.Digest
	err := parseFields(b, func(num int, wt int, v uint64, data []byte) error {
		switch {
		case num == 1 && wt == wireBytes:
			d.Hash = string(data)
		case num == 2 && wt == wireVarint:
			d.Size = int64(v)
		}
		return nil
	})
	return d, err
}
