package reapi

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"bld/exec/digest"
)

// The generated messages equivalent to this package's, as the code before
// this package encoded them: a Digest is always a message (absent only
// where the field says zero: absent).

func protoDigest(d digest.Digest) *repb.Digest {
	return &repb.Digest{Hash: d.Hash, SizeBytes: d.Size}
}

func fromProtoDigest(d *repb.Digest) digest.Digest {
	return digest.Digest{Hash: d.GetHash(), Size: d.GetSizeBytes()}
}

func optionalProtoDigest(d digest.Digest) *repb.Digest {
	if d.IsZero() {
		return nil
	}
	return protoDigest(d)
}

func protoPlatform(props []Property) *repb.Platform {
	if props == nil {
		return nil
	}
	p := &repb.Platform{}
	for _, q := range props {
		p.Properties = append(p.Properties, &repb.Platform_Property{Name: q.Name, Value: q.Value})
	}
	return p
}

func protoCommand(c *Command) *repb.Command {
	m := &repb.Command{Arguments: c.Arguments, OutputFiles: c.OutputFiles, OutputPaths: c.OutputPaths, Platform: protoPlatform(c.Platform)}
	for _, v := range c.EnvironmentVariables {
		m.EnvironmentVariables = append(m.EnvironmentVariables, &repb.Command_EnvironmentVariable{Name: v.Name, Value: v.Value})
	}
	return m
}

func protoAction(a *Action) *repb.Action {
	m := &repb.Action{
		CommandDigest:   protoDigest(a.CommandDigest),
		InputRootDigest: protoDigest(a.InputRootDigest),
		DoNotCache:      a.DoNotCache,
		Salt:            a.Salt,
		Platform:        protoPlatform(a.Platform),
	}
	if a.Timeout != 0 {
		m.Timeout = durationpb.New(a.Timeout)
	}
	return m
}

func protoResult(r *ActionResult) *repb.ActionResult {
	m := &repb.ActionResult{
		ExitCode:     r.ExitCode,
		StdoutRaw:    r.StdoutRaw,
		StdoutDigest: optionalProtoDigest(r.StdoutDigest),
		StderrRaw:    r.StderrRaw,
		StderrDigest: optionalProtoDigest(r.StderrDigest),
	}
	for _, f := range r.OutputFiles {
		m.OutputFiles = append(m.OutputFiles, &repb.OutputFile{Path: f.Path, Digest: protoDigest(f.Digest), IsExecutable: f.IsExecutable, Contents: f.Contents})
	}
	return m
}

func protoResponse(r *ExecuteResponse) *repb.ExecuteResponse {
	m := &repb.ExecuteResponse{CachedResult: r.CachedResult, Message: r.Message}
	if r.Result != nil {
		m.Result = protoResult(r.Result)
	}
	if r.Status != (Status{}) {
		m.Status = &status.Status{Code: r.Status.Code, Message: r.Status.Message}
	}
	return m
}

// fromProtoResult is what UnmarshalActionResult should make of the bytes
// of m.
func fromProtoResult(m *repb.ActionResult) *ActionResult {
	r := &ActionResult{
		ExitCode:     m.GetExitCode(),
		StdoutRaw:    m.GetStdoutRaw(),
		StdoutDigest: fromProtoDigest(m.GetStdoutDigest()),
		StderrRaw:    m.GetStderrRaw(),
		StderrDigest: fromProtoDigest(m.GetStderrDigest()),
	}
	for _, f := range m.GetOutputFiles() {
		r.OutputFiles = append(r.OutputFiles, OutputFile{Path: f.GetPath(), Digest: fromProtoDigest(f.GetDigest()), IsExecutable: f.GetIsExecutable(), Contents: f.GetContents()})
	}
	return r
}

// equateEmpty: a decoded empty list or bytes field may be nil or empty.
var equateEmpty = cmpopts.EquateEmpty()

// sameResult reports whether a and b have equal fields (nil and empty
// are equal), faster than cmp on large contents.
func sameResult(a, b *ActionResult) bool {
	if len(a.OutputFiles) != len(b.OutputFiles) || a.ExitCode != b.ExitCode ||
		!bytes.Equal(a.StdoutRaw, b.StdoutRaw) || a.StdoutDigest != b.StdoutDigest ||
		!bytes.Equal(a.StderrRaw, b.StderrRaw) || a.StderrDigest != b.StderrDigest {
		return false
	}
	for i, f := range a.OutputFiles {
		g := b.OutputFiles[i]
		if f.Path != g.Path || f.Digest != g.Digest || f.IsExecutable != g.IsExecutable || !bytes.Equal(f.Contents, g.Contents) {
			return false
		}
	}
	return true
}

// checkSame fails unless m encodes to the bytes protobuf's deterministic
// marshaling makes of want.
func checkSame(t *testing.T, what string, m Message, want proto.Message) {
	t.Helper()
	got, err := Marshal(m)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if w := protoMarshal(t, want); !bytes.Equal(got, w) {
		t.Fatalf("%s: encoding\n got % x\nwant % x", what, got, w)
	}
	// Appending to a prefix appends the same bytes.
	got2, err := m.AppendWire([]byte("prefix"))
	if err != nil || !bytes.Equal(got2, append([]byte("prefix"), got...)) {
		t.Fatalf("%s: AppendWire to a prefix = % x, %v", what, got2, err)
	}
}

var (
	hashA   = digest.OfBytes([]byte("a")).Hash
	long    = strings.Repeat("long/", 40) + "x" // a length of two bytes
	huge    = bytes.Repeat([]byte("h"), 70000)  // a length of three bytes
	nonASCI = "dé/ü€𝄞"
)

// TestEncodingIsProtobufs: each message, edge cases included, encodes to
// the bytes the generated types encode to.
func TestEncodingIsProtobufs(t *testing.T) {
	for i, c := range []*Command{
		{},
		{Arguments: []string{""}},
		{Arguments: []string{"a", "", nonASCI, long}, OutputFiles: []string{""}, OutputPaths: []string{"", "o"}},
		{EnvironmentVariables: []EnvironmentVariable{{}, {Name: "A"}, {Value: "v"}, {Name: nonASCI, Value: long}}},
		{Platform: []Property{}},
		{Platform: []Property{{}, {Name: "OSFamily", Value: "linux"}, {Name: "x"}}},
		NewCommand([]string{"gcc", "-c"}, []string{"B=2", "A=1"}, []string{"b.o", "a.o"}),
	} {
		checkSame(t, "Command "+string(rune('0'+i)), c, protoCommand(c))
	}
	for i, a := range []*Action{
		{},
		{CommandDigest: digest.Empty, InputRootDigest: digest.Digest{Size: 5}},
		{CommandDigest: digest.Digest{Hash: hashA, Size: 1 << 40}, InputRootDigest: digest.Digest{Hash: hashA, Size: -1}},
		{Timeout: time.Second},
		{Timeout: 1500 * time.Millisecond},
		{Timeout: time.Nanosecond},
		{Timeout: -1500 * time.Millisecond},
		{Timeout: math.MaxInt64},
		{DoNotCache: true, Salt: []byte{0}, Platform: []Property{}},
		{Salt: huge, Platform: []Property{{Name: "a", Value: nonASCI}}},
	} {
		checkSame(t, "Action "+string(rune('0'+i)), a, protoAction(a))
	}
	results := []*ActionResult{
		{},
		{ExitCode: -1},
		{ExitCode: math.MinInt32},
		{ExitCode: math.MaxInt32, StdoutRaw: []byte("o"), StderrRaw: []byte("e")},
		{OutputFiles: []OutputFile{{}}},
		{OutputFiles: []OutputFile{{Path: "a", Digest: digest.Empty}, {Path: nonASCI, Digest: digest.Digest{Hash: hashA, Size: 1}, IsExecutable: true, Contents: []byte("a")}}},
		{OutputFiles: []OutputFile{{Path: long, Digest: digest.OfBytes(huge), Contents: huge}}},
		{StdoutDigest: digest.Empty, StderrDigest: digest.Digest{Hash: hashA}},
		{StdoutDigest: digest.Digest{Size: 3}, StdoutRaw: []byte("abc"), StderrDigest: digest.OfBytes(huge)},
	}
	for i, r := range results {
		checkSame(t, "ActionResult "+string(rune('0'+i)), r, protoResult(r))
	}
	for i, r := range []*ExecuteResponse{
		{},
		{Result: &ActionResult{}},
		{Result: results[5], CachedResult: true, Status: Status{Code: 4, Message: "deadline " + nonASCI}, Message: "m"},
		{Status: Status{Code: -1}},
		{Status: Status{Message: "x"}},
	} {
		checkSame(t, "ExecuteResponse "+string(rune('0'+i)), r, protoResponse(r))
	}
}

// randomString returns one of the edge cases of strings, or random text.
func randomString(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return ""
	case 1:
		return nonASCI
	case 2:
		return long[:rng.IntN(len(long))]
	}
	b := make([]byte, rng.IntN(20))
	for i := range b {
		b[i] = byte(' ' + rng.IntN(95))
	}
	return string(b)
}

func randomStrings(rng *rand.Rand) []string {
	if rng.IntN(4) == 0 {
		return nil
	}
	s := make([]string, rng.IntN(5))
	for i := range s {
		s[i] = randomString(rng)
	}
	return s
}

func randomBytes(rng *rand.Rand) []byte {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return huge[:rng.IntN(len(huge))]
	}
	return []byte(randomString(rng))
}

func randomDigest(rng *rand.Rand) digest.Digest {
	sizes := []int64{0, 1, 127, 128, 16383, 16384, 1 << 40, -1, math.MaxInt64}
	d := digest.Digest{Size: sizes[rng.IntN(len(sizes))]}
	if rng.IntN(4) > 0 {
		d.Hash = hashA
	}
	if rng.IntN(4) == 0 {
		d.Hash = randomString(rng)
	}
	return d
}

func randomPlatform(rng *rand.Rand) []Property {
	if rng.IntN(3) == 0 {
		return nil
	}
	p := make([]Property, rng.IntN(4))
	for i := range p {
		p[i] = Property{randomString(rng), randomString(rng)}
	}
	return p
}

func randomResult(rng *rand.Rand) *ActionResult {
	r := &ActionResult{StdoutRaw: randomBytes(rng), StderrRaw: randomBytes(rng)}
	for range rng.IntN(4) {
		r.OutputFiles = append(r.OutputFiles, OutputFile{Path: randomString(rng), Digest: randomDigest(rng), IsExecutable: rng.IntN(2) == 0, Contents: randomBytes(rng)})
	}
	codes := []int32{0, 1, -1, 127, 128, math.MaxInt32, math.MinInt32}
	r.ExitCode = codes[rng.IntN(len(codes))]
	if rng.IntN(2) == 0 {
		r.StdoutDigest = randomDigest(rng)
	}
	if rng.IntN(2) == 0 {
		r.StderrDigest = randomDigest(rng)
	}
	return r
}

// TestEncodingIsProtobufsRandomized compares the encodings of random
// messages with the generated types', and decodes the results back.
func TestEncodingIsProtobufsRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		c := &Command{Arguments: randomStrings(rng), OutputFiles: randomStrings(rng), OutputPaths: randomStrings(rng), Platform: randomPlatform(rng)}
		for range rng.IntN(4) {
			c.EnvironmentVariables = append(c.EnvironmentVariables, EnvironmentVariable{randomString(rng), randomString(rng)})
		}
		checkSame(t, "random Command", c, protoCommand(c))

		timeouts := []time.Duration{0, 1, time.Second, -time.Second, 90 * time.Minute, time.Duration(rng.Int64()), -time.Duration(rng.Int64())}
		a := &Action{
			CommandDigest:   randomDigest(rng),
			InputRootDigest: randomDigest(rng),
			Timeout:         timeouts[rng.IntN(len(timeouts))],
			DoNotCache:      rng.IntN(2) == 0,
			Salt:            randomBytes(rng),
			Platform:        randomPlatform(rng),
		}
		checkSame(t, "random Action", a, protoAction(a))

		r := randomResult(rng)
		checkSame(t, "random ActionResult", r, protoResult(r))
		b, _ := Marshal(r)
		got, err := UnmarshalActionResult(b)
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		if !sameResult(r, got) {
			t.Fatalf("result %d: round trip (-want +got):\n%s", i, cmp.Diff(r, got, equateEmpty))
		}

		resp := &ExecuteResponse{CachedResult: rng.IntN(2) == 0, Message: randomString(rng), Status: Status{int32(rng.IntN(17)) - 1, randomString(rng)}}
		if rng.IntN(4) > 0 {
			resp.Result = randomResult(rng)
		}
		checkSame(t, "random ExecuteResponse", resp, protoResponse(resp))
		b, _ = Marshal(resp)
		gotResp, err := UnmarshalExecuteResponse(b)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.CachedResult != gotResp.CachedResult || resp.Message != gotResp.Message || resp.Status != gotResp.Status ||
			(resp.Result == nil) != (gotResp.Result == nil) || resp.Result != nil && !sameResult(resp.Result, gotResp.Result) {
			t.Fatalf("response %d: round trip (-want +got):\n%s", i, cmp.Diff(resp, gotResp, equateEmpty))
		}
	}
}

// TestInvalidUTF8Refused: every string field refuses what is not UTF-8,
// as protobuf does, with an error that names the field.
func TestInvalidUTF8Refused(t *testing.T) {
	const bad = "a\xff"
	d := digest.Digest{Hash: bad}
	for _, m := range []Message{
		&Command{Arguments: []string{bad}},
		&Command{EnvironmentVariables: []EnvironmentVariable{{Name: bad}}},
		&Command{EnvironmentVariables: []EnvironmentVariable{{Value: bad}}},
		&Command{OutputFiles: []string{bad}},
		&Command{OutputPaths: []string{"ok", bad}},
		&Command{Platform: []Property{{Name: bad}}},
		&Action{CommandDigest: d},
		&Action{InputRootDigest: d},
		&Action{Platform: []Property{{Value: bad}}},
		&ActionResult{OutputFiles: []OutputFile{{Path: bad}}},
		&ActionResult{OutputFiles: []OutputFile{{Digest: d}}},
		&ActionResult{StdoutDigest: d},
		&ActionResult{StderrDigest: d},
		&ExecuteResponse{Message: bad},
		&ExecuteResponse{Status: Status{Message: bad}},
		&ExecuteResponse{Result: &ActionResult{StdoutDigest: d}},
	} {
		b, err := Marshal(m)
		if err == nil || b != nil || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("Marshal(%+v) = %x, %v; want an error", m, b, err)
		}
		if _, _, err := DigestOf(m); err == nil {
			t.Errorf("DigestOf(%+v) succeeded", m)
		}
	}
	// Bytes fields take any bytes.
	if _, err := Marshal(&Action{Salt: []byte(bad)}); err != nil {
		t.Errorf("a salt that is not UTF-8: %v", err)
	}
	// Decoding refuses them too.
	b := protoMarshal(t, &repb.ActionResult{OutputFiles: []*repb.OutputFile{{Path: "p"}}})
	b = bytes.Replace(b, []byte("p"), []byte{0xff}, 1)
	if _, err := UnmarshalActionResult(b); err == nil {
		t.Errorf("an output path that is not UTF-8 decoded")
	}
}

// TestDecodeSkipsOtherFields decodes what servers send: results with the
// fields bld does not read, fields no version knows, and fields repeated.
func TestDecodeSkipsOtherFields(t *testing.T) {
	full := &repb.ActionResult{
		OutputFiles: []*repb.OutputFile{
			{Path: "bld-out/a", Digest: protoDigest(digest.OfBytes([]byte("a"))), IsExecutable: true, Contents: []byte("a"),
				NodeProperties: &repb.NodeProperties{Properties: []*repb.NodeProperty{{Name: "n", Value: "v"}}}},
			{Path: "bld-out/b"}, // no digest: the zero Digest
		},
		OutputDirectories: []*repb.OutputDirectory{{Path: "d", TreeDigest: protoDigest(digest.Empty)}},
		OutputSymlinks:    []*repb.OutputSymlink{{Path: "l", Target: "a"}},
		ExitCode:          -7,
		StdoutRaw:         []byte("out"),
		StdoutDigest:      protoDigest(digest.OfBytes([]byte("out"))),
		StderrDigest:      protoDigest(digest.Digest{Hash: hashA, Size: 9000}),
		ExecutionMetadata: &repb.ExecutedActionMetadata{Worker: "w", AuxiliaryMetadata: []*anypb.Any{{TypeUrl: "x", Value: []byte{1}}}},
	}
	b := protoMarshal(t, full)
	// Fields no version knows: 15 as a fixed64, 16 as a fixed32, 17 as a
	// group, 18 a varint; the exit code as bytes (a wrong wire type is an
	// unknown field, as protobuf has it).
	b = append(b, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x85, 0x01, 1, 2, 3, 4, 0x8b, 0x01, 0x08, 1, 0x8c, 0x01, 0x90, 0x01, 0x05, 0x22, 0)
	got, err := UnmarshalActionResult(b)
	if err != nil {
		t.Fatal(err)
	}
	want := fromProtoResult(full)
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	var ref repb.ActionResult
	if err := proto.Unmarshal(b, &ref); err != nil || ref.GetExitCode() != -7 {
		t.Fatalf("protobuf decodes it otherwise: %v, exit code %d", err, ref.GetExitCode())
	}
	// A field seen twice: the last scalar wins; messages merge.
	twice := append(protoMarshal(t, &repb.ActionResult{ExitCode: 1, StdoutDigest: &repb.Digest{Hash: "h", SizeBytes: 5}}),
		protoMarshal(t, &repb.ActionResult{ExitCode: 2, StdoutDigest: &repb.Digest{Hash: "i"}})...)
	got, err = UnmarshalActionResult(twice)
	if err != nil || got.ExitCode != 2 || got.StdoutDigest != (digest.Digest{Hash: "i", Size: 5}) {
		t.Errorf("fields twice: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{
		b[:len(b)-3],       // truncated
		{0x12, 5, 0x0a, 1}, // a sub-message longer than its message
		{0x12, 2, 0x12, 5}, // a digest longer than its file
		{0x00, 1},          // field number 0
		{0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // a varint too long
		{0x8c, 0x01}, // an end of group without its start
	} {
		if r, err := UnmarshalActionResult(bad); err == nil {
			t.Errorf("UnmarshalActionResult(% x) = %+v, want an error", bad, r)
		}
		if proto.Unmarshal(bad, &repb.ActionResult{}) == nil {
			t.Errorf("protobuf decodes % x", bad)
		}
	}
}

// TestDecodeExecuteResponse decodes a response as a server makes it:
// status details and server logs skipped.
func TestDecodeExecuteResponse(t *testing.T) {
	m := &repb.ExecuteResponse{
		Result:       &repb.ActionResult{ExitCode: 3, StdoutRaw: []byte("x"), StdoutDigest: protoDigest(digest.OfBytes([]byte("x")))},
		CachedResult: true,
		Status:       &status.Status{Code: 9, Message: "missing", Details: []*anypb.Any{{TypeUrl: "type.googleapis.com/google.rpc.PreconditionFailure", Value: []byte{0x0a, 0}}}},
		ServerLogs:   map[string]*repb.LogFile{"log": {Digest: protoDigest(digest.Empty), HumanReadable: true}},
		Message:      "done",
	}
	got, err := UnmarshalExecuteResponse(protoMarshal(t, m))
	if err != nil {
		t.Fatal(err)
	}
	want := &ExecuteResponse{Result: fromProtoResult(m.Result), CachedResult: true, Status: Status{Code: 9, Message: "missing"}, Message: "done"}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	got, err = UnmarshalExecuteResponse(nil)
	if err != nil || got.Result != nil || got.Status != (Status{}) {
		t.Errorf("empty response: %+v, %v", got, err)
	}
	if _, err := UnmarshalExecuteResponse([]byte{0x0a, 3, 0x20}); err == nil {
		t.Errorf("a truncated result decoded")
	}
}
