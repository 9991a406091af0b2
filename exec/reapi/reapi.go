// Package reapi is bld's one home for the Remote Execution API v2 data model
// (build.bazel.remote.execution.v2, remote_execution.proto): helpers that
// build the generated messages (package repb, from
// github.com/bazelbuild/remote-apis) the way bld's action cache keys on
// them, convert between bld's digest.Digest and the messages' Digest, and
// encode and decode them.
//
// # Canonical encoding
//
// Marshal encodes with deterministic marshaling, so that equal messages
// have equal bytes, and the digest of a Marshal result is the digest REAPI
// clients and servers compute for the same message: a remote cache can be
// addressed with the very keys the local cache uses. The ordering rules
// REAPI imposes on its messages (environment variables sorted by name,
// output paths sorted, platform properties sorted, directory entries sorted
// by name) are the caller's to keep, except where a constructor
// (NewCommand, NewPlatform, MerkleRoot) says it sorts.
//
// Strings in these messages must be valid UTF-8 (proto3's rule): Marshal
// fails on a message that has one that is not.
package reapi

import (
	"fmt"
	"slices"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"

	"bld/exec/digest"
)

// DigestToProto returns d as a REAPI Digest message.
func DigestToProto(d digest.Digest) *repb.Digest {
	return &repb.Digest{Hash: d.Hash, SizeBytes: d.Size}
}

// DigestFromProto returns the digest a REAPI Digest message holds; nil is
// the zero Digest. It does not validate the hash.
func DigestFromProto(d *repb.Digest) digest.Digest {
	return digest.Digest{Hash: d.GetHash(), Size: d.GetSizeBytes()}
}

// Marshal returns the deterministic encoding of m. It fails only when m
// has a string that is not valid UTF-8.
func Marshal(m proto.Message) ([]byte, error) {
	return MarshalAppend(nil, m)
}

// MarshalAppend appends the deterministic encoding of m to b, as Marshal.
func MarshalAppend(b []byte, m proto.Message) ([]byte, error) {
	out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
	if err != nil {
		return nil, fmt.Errorf("reapi: encoding %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return out, nil
}

// DigestOf returns the digest of m's deterministic encoding, and the
// encoding, which is the caller's.
func DigestOf(m proto.Message) (digest.Digest, []byte, error) {
	b, err := Marshal(m)
	if err != nil {
		return digest.Digest{}, nil, err
	}
	return digest.OfBytes(b), b, nil
}

// NewCommand returns the Command for argv, an environment of "KEY=value"
// entries (in any order; an entry without "=" is a name with an empty
// value) and output paths (in any order). It sorts the environment by
// name (stably: entries of one name keep their order) and the output paths,
// and sets the outputs both as output_paths (REAPI v2.1 and later; servers
// such as Buildbarn reject a Command without it) and as the deprecated
// output_files (for older servers). The working directory is the input
// root. argv is used, not copied; env and outputs are copied.
func NewCommand(argv, env, outputs []string) *repb.Command {
	c := &repb.Command{Arguments: argv}
	if len(env) > 0 {
		// One allocation for all the variables.
		vars := make([]repb.Command_EnvironmentVariable, len(env))
		c.EnvironmentVariables = make([]*repb.Command_EnvironmentVariable, len(env))
		for i, kv := range env {
			vars[i].Name, vars[i].Value, _ = strings.Cut(kv, "=")
			c.EnvironmentVariables[i] = &vars[i]
		}
		slices.SortStableFunc(c.EnvironmentVariables, func(a, b *repb.Command_EnvironmentVariable) int {
			return strings.Compare(a.Name, b.Name)
		})
	}
	if n := len(outputs); n > 0 {
		// One allocation for both lists, which do not share elements.
		both := make([]string, 2*n)
		copy(both, outputs)
		slices.Sort(both[:n])
		copy(both[n:], both[:n])
		c.OutputPaths, c.OutputFiles = both[:n:n], both[n:]
	}
	return c
}

// NewPlatform returns a Platform of props, sorted by name, then value, as
// REAPI requires; nil when there are none. props are not modified.
func NewPlatform(props []*repb.Platform_Property) *repb.Platform {
	if len(props) == 0 {
		return nil
	}
	sorted := slices.Clone(props)
	slices.SortFunc(sorted, func(a, b *repb.Platform_Property) int {
		if c := strings.Compare(a.GetName(), b.GetName()); c != 0 {
			return c
		}
		return strings.Compare(a.GetValue(), b.GetValue())
	})
	return &repb.Platform{Properties: sorted}
}

// PlatformOf returns the Platform of properties given by name, sorted as
// REAPI requires; nil when there are none.
func PlatformOf(props map[string]string) *repb.Platform {
	if len(props) == 0 {
		return nil
	}
	list := make([]*repb.Platform_Property, 0, len(props))
	for name, value := range props {
		list = append(list, &repb.Platform_Property{Name: name, Value: value})
	}
	return NewPlatform(list)
}

// UnmarshalActionResult decodes an ActionResult encoded by Marshal or by
// any protobuf library. Fields it does not know are kept as unknown fields.
func UnmarshalActionResult(b []byte) (*repb.ActionResult, error) {
	r := &repb.ActionResult{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("reapi: decoding an ActionResult: %w", err)
	}
	return r, nil
}
