// Package reapi is bld's one home for the Remote Execution API v2 data model
// (build.bazel.remote.execution.v2, remote_execution.proto): plain Go types
// for the messages bld builds and reads (Command, Action, the input root's
// Directory, ActionResult, ExecuteResponse), with bld's digest.Digest for
// their Digests, and their encoding and decoding, written here on the
// wire format's primitives (wireformat.go) with no generated code: the
// local path (the cache's keys and results) links neither the generated
// REAPI package nor gRPC nor any protobuf package. The gRPC side (exec/remote)
// converts at its boundary.
//
// # Canonical encoding
//
// Marshal encodes exactly as protobuf's deterministic marshaling encodes
// the equivalent generated message (fields in number order, proto3's zero
// values and empty strings, bytes and lists left out; the tests compare
// with the generated types), so that equal messages have equal bytes, and
// the digest of a Marshal result is the digest REAPI clients and servers
// compute for the same message: a remote cache can be addressed with the
// very keys the local cache uses. Digest sub-messages are always present
// (an empty message for the zero Digest), except where a field says
// "zero: absent". The ordering rules REAPI imposes on its messages
// (environment variables sorted by name, output paths sorted, platform
// properties sorted, directory entries sorted by name) are the caller's to
// keep, except where a constructor (NewCommand, PlatformOf, MerkleRoot)
// says it sorts.
//
// Strings in these messages must be valid UTF-8 (proto3's rule): Marshal
// fails on a message that has one that is not, and the decoders refuse
// one in the fields they read.
package reapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"bld/exec/digest"
)

// A Property is a Platform.Property: a name and a value.
type Property struct{ Name, Value string }

// An EnvironmentVariable is a Command.EnvironmentVariable.
type EnvironmentVariable struct{ Name, Value string }

// A Command is REAPI's Command message: what runs, in the input root.
type Command struct {
	Arguments            []string
	EnvironmentVariables []EnvironmentVariable
	// OutputFiles is the deprecated output_files (3), which NewCommand
	// sets as well as OutputPaths, for older servers.
	OutputFiles []string
	// OutputPaths is output_paths (7).
	OutputPaths []string
	// Platform is the deprecated Command.platform (5); nil: absent, empty
	// but not nil: an empty Platform message.
	Platform []Property
}

// An Action is REAPI's Action message: a Command on an input root.
type Action struct {
	CommandDigest, InputRootDigest digest.Digest // always present
	// Timeout is the execution timeout; 0: absent. It is encoded as a
	// google.protobuf.Duration (seconds and nanoseconds of one sign).
	Timeout    time.Duration
	DoNotCache bool
	Salt       []byte
	// Platform is the action's platform; nil: absent, empty but not nil:
	// an empty Platform message.
	Platform []Property
}

// An OutputFile is an ActionResult's OutputFile.
type OutputFile struct {
	Path         string
	Digest       digest.Digest // always present
	IsExecutable bool
	// Contents is the file's content when it is inlined in the result;
	// empty when it is a blob of the CAS (or the file is empty).
	Contents []byte
}

// An ActionResult is REAPI's ActionResult message, the fields bld reads
// and writes (output directories, symbolic links and execution metadata
// are skipped when decoding).
type ActionResult struct {
	OutputFiles  []OutputFile
	ExitCode     int32
	StdoutRaw    []byte
	StdoutDigest digest.Digest // zero: absent
	StderrRaw    []byte
	StderrDigest digest.Digest // zero: absent
}

// An ExecuteResponse is REAPI's ExecuteResponse message, but its server
// logs.
type ExecuteResponse struct {
	Result       *ActionResult // nil: absent
	CachedResult bool
	Status       Status // zero (OK, no message): absent
	Message      string
}

// A Status is a google.rpc.Status: its code and message (details are
// skipped when decoding).
type Status struct {
	Code    int32
	Message string
}

// A Message can be encoded canonically. AppendWire appends the encoding
// to b; it fails only on a string that is not valid UTF-8.
type Message interface {
	AppendWire(b []byte) ([]byte, error)
}

// Marshal returns the canonical encoding of m (see the package comment).
// It fails only when m has a string that is not valid UTF-8.
func Marshal(m Message) ([]byte, error) {
	return m.AppendWire(nil)
}

// DigestOf returns the digest of m's canonical encoding, and the
// encoding, which is the caller's.
func DigestOf(m Message) (digest.Digest, []byte, error) {
	b, err := m.AppendWire(nil)
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
// root; the platform is absent. argv is used, not copied; env and outputs
// are copied.
func NewCommand(argv, env, outputs []string) *Command {
	c := &Command{Arguments: argv}
	if len(env) > 0 {
		c.EnvironmentVariables = make([]EnvironmentVariable, len(env))
		for i, kv := range env {
			v := &c.EnvironmentVariables[i]
			v.Name, v.Value, _ = strings.Cut(kv, "=")
		}
		slices.SortStableFunc(c.EnvironmentVariables, func(a, b EnvironmentVariable) int {
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

// PlatformOf returns the platform properties given by name, sorted by
// name as REAPI requires; nil when there are none.
func PlatformOf(props map[string]string) []Property {
	if len(props) == 0 {
		return nil
	}
	list := make([]Property, 0, len(props))
	for name, value := range props {
		list = append(list, Property{Name: name, Value: value})
	}
	slices.SortFunc(list, func(a, b Property) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Value, b.Value))
	})
	return list
}

// UnmarshalActionResult decodes an ActionResult encoded by Marshal or by
// any protobuf library. Fields it does not know, or does not read (output
// directories, symbolic links, execution metadata), are skipped, unread.
func UnmarshalActionResult(b []byte) (*ActionResult, error) {
	r := &ActionResult{}
	if err := r.decode(b); err != nil {
		return nil, fmt.Errorf("reapi: decoding an ActionResult: %w", err)
	}
	return r, nil
}

// UnmarshalExecuteResponse decodes an ExecuteResponse encoded by any
// protobuf library, as UnmarshalActionResult (the server logs and the
// status's details are skipped).
func UnmarshalExecuteResponse(b []byte) (*ExecuteResponse, error) {
	r := &ExecuteResponse{}
	if err := r.decode(b); err != nil {
		return nil, fmt.Errorf("reapi: decoding an ExecuteResponse: %w", err)
	}
	return r, nil
}
