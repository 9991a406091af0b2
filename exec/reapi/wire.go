package reapi

import (
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"bld/exec/digest"
)

// Field numbers of the messages, from remote_execution.proto,
// google/protobuf/duration.proto and google/rpc/status.proto.
const (
	fieldDigestHash = 1 // Digest.hash
	fieldDigestSize = 2 // Digest.size_bytes

	fieldCommandArguments   = 1 // Command.arguments
	fieldCommandEnvironment = 2 // Command.environment_variables
	fieldCommandOutputFiles = 3 // Command.output_files (deprecated)
	fieldCommandPlatform    = 5 // Command.platform (deprecated)
	fieldCommandOutputPaths = 7 // Command.output_paths
	fieldVariableName       = 1 // Command.EnvironmentVariable.name
	fieldVariableValue      = 2 // Command.EnvironmentVariable.value

	fieldPlatformProperties = 1 // Platform.properties
	fieldPropertyName       = 1 // Platform.Property.name
	fieldPropertyValue      = 2 // Platform.Property.value

	fieldActionCommandDigest   = 1  // Action.command_digest
	fieldActionInputRootDigest = 2  // Action.input_root_digest
	fieldActionTimeout         = 6  // Action.timeout
	fieldActionDoNotCache      = 7  // Action.do_not_cache
	fieldActionSalt            = 9  // Action.salt
	fieldActionPlatform        = 10 // Action.platform
	fieldDurationSeconds       = 1  // google.protobuf.Duration.seconds
	fieldDurationNanos         = 2  // google.protobuf.Duration.nanos

	fieldDirectoryFiles       = 1 // Directory.files
	fieldDirectoryDirectories = 2 // Directory.directories
	fieldNodeName             = 1 // FileNode.name, DirectoryNode.name
	fieldNodeDigest           = 2 // FileNode.digest, DirectoryNode.digest
	fieldFileNodeExecutable   = 4 // FileNode.is_executable

	fieldResultOutputFiles  = 2 // ActionResult.output_files
	fieldResultExitCode     = 4 // ActionResult.exit_code
	fieldResultStdoutRaw    = 5 // ActionResult.stdout_raw
	fieldResultStdoutDigest = 6 // ActionResult.stdout_digest
	fieldResultStderrRaw    = 7 // ActionResult.stderr_raw
	fieldResultStderrDigest = 8 // ActionResult.stderr_digest
	fieldFilePath           = 1 // OutputFile.path
	fieldFileDigest         = 2 // OutputFile.digest
	fieldFileExecutable     = 4 // OutputFile.is_executable
	fieldFileContents       = 5 // OutputFile.contents

	fieldResponseResult       = 1 // ExecuteResponse.result
	fieldResponseCachedResult = 2 // ExecuteResponse.cached_result
	fieldResponseStatus       = 3 // ExecuteResponse.status
	fieldResponseMessage      = 5 // ExecuteResponse.message
	fieldStatusCode           = 1 // google.rpc.Status.code
	fieldStatusMessage        = 2 // google.rpc.Status.message
)

// An encoder appends fields to b. The first string that is not valid
// UTF-8 sets err; what follows is appended regardless, and dropped.
type encoder struct {
	b   []byte
	err error
}

// done returns the encoding, or the error of a message named what.
func (e *encoder) done(what string) ([]byte, error) {
	if e.err != nil {
		return nil, fmt.Errorf("reapi: encoding %s: %w", what, e.err)
	}
	return e.b, nil
}

// header appends the tag and length of a sub-message of size bytes.
func (e *encoder) header(num fieldNum, size int) {
	e.b = appendTag(e.b, num, bytesType)
	e.b = appendVarint(e.b, uint64(size))
}

// str appends a string field, unless it is empty.
func (e *encoder) str(num fieldNum, s, field string) {
	if s != "" {
		e.elem(num, s, field)
	}
}

// elem appends an element of a repeated string field: even empty.
func (e *encoder) elem(num fieldNum, s, field string) {
	if e.err == nil && !utf8.ValidString(s) {
		e.err = fmt.Errorf("%s %q is not valid UTF-8", field, s)
	}
	e.b = appendTag(e.b, num, bytesType)
	e.b = appendString(e.b, s)
}

// bytes appends a bytes field, unless it is empty.
func (e *encoder) bytes(num fieldNum, v []byte) {
	if len(v) > 0 {
		e.b = appendTag(e.b, num, bytesType)
		e.b = appendBytes(e.b, v)
	}
}

// varint appends a varint field (int32 and int64 as their 64-bit two's
// complement, bool as 1), unless it is 0.
func (e *encoder) varint(num fieldNum, v uint64) {
	if v != 0 {
		e.b = appendTag(e.b, num, varintType)
		e.b = appendVarint(e.b, v)
	}
}

// digest appends a Digest sub-message: present even when d is zero.
func (e *encoder) digest(num fieldNum, d digest.Digest) {
	e.header(num, digestSize(d))
	e.str(fieldDigestHash, d.Hash, "digest hash")
	e.varint(fieldDigestSize, uint64(d.Size))
}

// platform appends a Platform sub-message of props, unless props is nil.
func (e *encoder) platform(num fieldNum, props []Property) {
	if props == nil {
		return
	}
	e.header(num, platformSize(props))
	for _, p := range props {
		e.header(fieldPlatformProperties, p.size())
		e.str(fieldPropertyName, p.Name, "platform property name")
		e.str(fieldPropertyValue, p.Value, "platform property value")
	}
}

// strSize is the size of a string (or bytes) field of n bytes, 0 when
// it is empty.
func strSize(num fieldNum, s string) int { return bytesSize(num, len(s)) }

// bytesSize is the size of a bytes field of n bytes, 0 when empty.
func bytesSize(num fieldNum, n int) int {
	if n == 0 {
		return 0
	}
	return elemSize(num, n)
}

// elemSize is the size of a length-delimited field of n bytes, even 0.
func elemSize(num fieldNum, n int) int {
	return sizeTag(num) + sizeBytes(n)
}

// varintSize is the size of a varint field, 0 when v is.
func varintSize(num fieldNum, v uint64) int {
	if v == 0 {
		return 0
	}
	return sizeTag(num) + sizeVarint(v)
}

// digestSize is the size of the fields of a Digest message.
func digestSize(d digest.Digest) int {
	return strSize(fieldDigestHash, d.Hash) + varintSize(fieldDigestSize, uint64(d.Size))
}

// platformSize is the size of the fields of a Platform message.
func platformSize(props []Property) int {
	n := 0
	for _, p := range props {
		n += elemSize(fieldPlatformProperties, p.size())
	}
	return n
}

// size is the size of the fields of p's message.
func (p Property) size() int {
	return strSize(fieldPropertyName, p.Name) + strSize(fieldPropertyValue, p.Value)
}

// size is the size of c's encoding.
func (c *Command) size() int {
	n := 0
	for _, a := range c.Arguments {
		n += elemSize(fieldCommandArguments, len(a))
	}
	for _, v := range c.EnvironmentVariables {
		n += elemSize(fieldCommandEnvironment, v.size())
	}
	for _, o := range c.OutputFiles {
		n += elemSize(fieldCommandOutputFiles, len(o))
	}
	if c.Platform != nil {
		n += elemSize(fieldCommandPlatform, platformSize(c.Platform))
	}
	for _, o := range c.OutputPaths {
		n += elemSize(fieldCommandOutputPaths, len(o))
	}
	return n
}

func (v EnvironmentVariable) size() int {
	return strSize(fieldVariableName, v.Name) + strSize(fieldVariableValue, v.Value)
}

// AppendWire appends the canonical encoding of c to b.
func (c *Command) AppendWire(b []byte) ([]byte, error) {
	e := encoder{b: slices.Grow(b, c.size())}
	for _, a := range c.Arguments {
		e.elem(fieldCommandArguments, a, "argument")
	}
	for _, v := range c.EnvironmentVariables {
		e.header(fieldCommandEnvironment, v.size())
		e.str(fieldVariableName, v.Name, "environment variable name")
		e.str(fieldVariableValue, v.Value, "environment variable value")
	}
	for _, o := range c.OutputFiles {
		e.elem(fieldCommandOutputFiles, o, "output file")
	}
	e.platform(fieldCommandPlatform, c.Platform)
	for _, o := range c.OutputPaths {
		e.elem(fieldCommandOutputPaths, o, "output path")
	}
	return e.done("a Command")
}

// duration returns the seconds and nanoseconds of a
// google.protobuf.Duration of d, as durationpb.New does, and the size of
// the message's fields.
func duration(d time.Duration) (seconds int64, nanos int32, size int) {
	seconds, nanos = int64(d/time.Second), int32(d%time.Second)
	return seconds, nanos, varintSize(fieldDurationSeconds, uint64(seconds)) + varintSize(fieldDurationNanos, uint64(nanos))
}

// size is the size of a's encoding.
func (a *Action) size() int {
	n := elemSize(fieldActionCommandDigest, digestSize(a.CommandDigest)) +
		elemSize(fieldActionInputRootDigest, digestSize(a.InputRootDigest))
	if a.Timeout != 0 {
		_, _, size := duration(a.Timeout)
		n += elemSize(fieldActionTimeout, size)
	}
	if a.DoNotCache {
		n += varintSize(fieldActionDoNotCache, 1)
	}
	n += bytesSize(fieldActionSalt, len(a.Salt))
	if a.Platform != nil {
		n += elemSize(fieldActionPlatform, platformSize(a.Platform))
	}
	return n
}

// AppendWire appends the canonical encoding of a to b.
func (a *Action) AppendWire(b []byte) ([]byte, error) {
	e := encoder{b: slices.Grow(b, a.size())}
	e.digest(fieldActionCommandDigest, a.CommandDigest)
	e.digest(fieldActionInputRootDigest, a.InputRootDigest)
	if a.Timeout != 0 {
		s, ns, size := duration(a.Timeout)
		e.header(fieldActionTimeout, size)
		e.varint(fieldDurationSeconds, uint64(s))
		e.varint(fieldDurationNanos, uint64(ns))
	}
	if a.DoNotCache {
		e.varint(fieldActionDoNotCache, 1)
	}
	e.bytes(fieldActionSalt, a.Salt)
	e.platform(fieldActionPlatform, a.Platform)
	return e.done("an Action")
}

// size is the size of the fields of f's message.
func (f *OutputFile) size() int {
	n := strSize(fieldFilePath, f.Path) + elemSize(fieldFileDigest, digestSize(f.Digest)) +
		bytesSize(fieldFileContents, len(f.Contents))
	if f.IsExecutable {
		n += varintSize(fieldFileExecutable, 1)
	}
	return n
}

// optionalDigestSize is the size of a Digest field that is absent when
// zero.
func optionalDigestSize(num fieldNum, d digest.Digest) int {
	if d.IsZero() {
		return 0
	}
	return elemSize(num, digestSize(d))
}

// size is the size of r's encoding.
func (r *ActionResult) size() int {
	n := 0
	for i := range r.OutputFiles {
		n += elemSize(fieldResultOutputFiles, r.OutputFiles[i].size())
	}
	return n + varintSize(fieldResultExitCode, uint64(r.ExitCode)) +
		bytesSize(fieldResultStdoutRaw, len(r.StdoutRaw)) + optionalDigestSize(fieldResultStdoutDigest, r.StdoutDigest) +
		bytesSize(fieldResultStderrRaw, len(r.StderrRaw)) + optionalDigestSize(fieldResultStderrDigest, r.StderrDigest)
}

// AppendWire appends the canonical encoding of r to b.
func (r *ActionResult) AppendWire(b []byte) ([]byte, error) {
	e := encoder{b: slices.Grow(b, r.size())}
	r.encode(&e)
	return e.done("an ActionResult")
}

// encode appends the fields of r to e.
func (r *ActionResult) encode(e *encoder) {
	for i := range r.OutputFiles {
		f := &r.OutputFiles[i]
		e.header(fieldResultOutputFiles, f.size())
		e.str(fieldFilePath, f.Path, "output file path")
		e.digest(fieldFileDigest, f.Digest)
		if f.IsExecutable {
			e.varint(fieldFileExecutable, 1)
		}
		e.bytes(fieldFileContents, f.Contents)
	}
	e.varint(fieldResultExitCode, uint64(r.ExitCode)) // int32: sign-extended
	e.bytes(fieldResultStdoutRaw, r.StdoutRaw)
	if !r.StdoutDigest.IsZero() {
		e.digest(fieldResultStdoutDigest, r.StdoutDigest)
	}
	e.bytes(fieldResultStderrRaw, r.StderrRaw)
	if !r.StderrDigest.IsZero() {
		e.digest(fieldResultStderrDigest, r.StderrDigest)
	}
}

// size is the size of the fields of s's message.
func (s *Status) size() int {
	return varintSize(fieldStatusCode, uint64(s.Code)) + strSize(fieldStatusMessage, s.Message)
}

// AppendWire appends the canonical encoding of r to b.
func (r *ExecuteResponse) AppendWire(b []byte) ([]byte, error) {
	n := strSize(fieldResponseMessage, r.Message)
	if r.Result != nil {
		n += elemSize(fieldResponseResult, r.Result.size())
	}
	if r.CachedResult {
		n += varintSize(fieldResponseCachedResult, 1)
	}
	if r.Status != (Status{}) {
		n += elemSize(fieldResponseStatus, r.Status.size())
	}
	e := encoder{b: slices.Grow(b, n)}
	if r.Result != nil {
		e.header(fieldResponseResult, r.Result.size())
		r.Result.encode(&e)
	}
	if r.CachedResult {
		e.varint(fieldResponseCachedResult, 1)
	}
	if r.Status != (Status{}) {
		e.header(fieldResponseStatus, r.Status.size())
		e.varint(fieldStatusCode, uint64(r.Status.Code))
		e.str(fieldStatusMessage, r.Status.Message, "status message")
	}
	e.str(fieldResponseMessage, r.Message, "message")
	return e.done("an ExecuteResponse")
}

// Decoding.

var errInvalidUTF8 = errors.New("a string is not valid UTF-8")

// decodeFields calls f with each field of the message b: its number,
// wire type, and value (v for a length-delimited field, x for a varint
// or fixed-size one; a group is skipped). f ignores the fields it does not
// read, and fields of an unexpected wire type, as protobuf does.
func decodeFields(b []byte, f func(num fieldNum, typ wireType, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n, err := consumeTag(b)
		if err != nil {
			return err
		}
		b = b[n:]
		v, x, n, err := consumeValue(num, typ, b)
		if err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
	}
	return nil
}

// decodeString returns v as a string, which must be valid UTF-8.
func decodeString(v []byte) (string, error) {
	if !utf8.Valid(v) {
		return "", errInvalidUTF8
	}
	return string(v), nil
}

// decodeBytes returns a copy of v; nil when it is empty.
func decodeBytes(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	return slices.Clone(v)
}

// decodeDigest decodes the Digest message b into d: the fields b has
// replace d's, as protobuf merges a message field seen twice.
func decodeDigest(b []byte, d *digest.Digest) error {
	return decodeFields(b, func(num fieldNum, typ wireType, v []byte, x uint64) error {
		var err error
		switch {
		case num == fieldDigestHash && typ == bytesType:
			d.Hash, err = decodeString(v)
		case num == fieldDigestSize && typ == varintType:
			d.Size = int64(x)
		}
		return err
	})
}

// decode decodes the OutputFile message b into f.
func (f *OutputFile) decode(b []byte) error {
	return decodeFields(b, func(num fieldNum, typ wireType, v []byte, x uint64) error {
		var err error
		switch {
		case num == fieldFilePath && typ == bytesType:
			f.Path, err = decodeString(v)
		case num == fieldFileDigest && typ == bytesType:
			err = decodeDigest(v, &f.Digest)
		case num == fieldFileExecutable && typ == varintType:
			f.IsExecutable = x != 0
		case num == fieldFileContents && typ == bytesType:
			f.Contents = decodeBytes(v)
		}
		return err
	})
}

// decode decodes the ActionResult message b into r.
func (r *ActionResult) decode(b []byte) error {
	return decodeFields(b, func(num fieldNum, typ wireType, v []byte, x uint64) error {
		var err error
		switch {
		case typ == varintType:
			if num == fieldResultExitCode {
				r.ExitCode = int32(x)
			}
		case typ != bytesType:
		case num == fieldResultOutputFiles:
			var f OutputFile
			err = f.decode(v)
			r.OutputFiles = append(r.OutputFiles, f)
		case num == fieldResultStdoutRaw:
			r.StdoutRaw = decodeBytes(v)
		case num == fieldResultStdoutDigest:
			err = decodeDigest(v, &r.StdoutDigest)
		case num == fieldResultStderrRaw:
			r.StderrRaw = decodeBytes(v)
		case num == fieldResultStderrDigest:
			err = decodeDigest(v, &r.StderrDigest)
		}
		return err
	})
}

// decode decodes the google.rpc.Status message b into s.
func (s *Status) decode(b []byte) error {
	return decodeFields(b, func(num fieldNum, typ wireType, v []byte, x uint64) error {
		var err error
		switch {
		case num == fieldStatusCode && typ == varintType:
			s.Code = int32(x)
		case num == fieldStatusMessage && typ == bytesType:
			s.Message, err = decodeString(v)
		}
		return err
	})
}

// decode decodes the ExecuteResponse message b into r.
func (r *ExecuteResponse) decode(b []byte) error {
	return decodeFields(b, func(num fieldNum, typ wireType, v []byte, x uint64) error {
		var err error
		switch {
		case num == fieldResponseCachedResult && typ == varintType:
			r.CachedResult = x != 0
		case typ != bytesType:
		case num == fieldResponseResult:
			if r.Result == nil {
				r.Result = &ActionResult{}
			}
			err = r.Result.decode(v)
		case num == fieldResponseStatus:
			err = r.Status.decode(v)
		case num == fieldResponseMessage:
			r.Message, err = decodeString(v)
		}
		return err
	})
}
