package reapi

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// errText is err's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkErr fails unless err is what protowire's error code n means: no
// error for n >= 0, else protowire's error (its text, without "proto:"
// and the space after it, which protobuf varies; a group nested too
// deeply is protowire's "parse error", errGroupDepth here).
func checkErr(t *testing.T, what string, b []byte, err error, n int) {
	t.Helper()
	want := strings.TrimSpace(strings.TrimPrefix(errText(protowire.ParseError(n)), "proto:"))
	if err == errGroupDepth && n < 0 {
		return
	}
	if got := errText(err); got != want {
		t.Errorf("%s(% x): error %q, protowire %q", what, b, got, want)
	}
}

// compareDecoding compares each decoder with protowire's on b.
func compareDecoding(t *testing.T, b []byte) {
	t.Helper()
	v, n, err := consumeVarint(b)
	wv, wn := protowire.ConsumeVarint(b)
	checkErr(t, "consumeVarint", b, err, wn)
	if err == nil && (v != wv || n != wn) {
		t.Errorf("consumeVarint(% x) = %d, %d; protowire %d, %d", b, v, n, wv, wn)
	}

	num, typ, n, err := consumeTag(b)
	wnum, wtyp, wn := protowire.ConsumeTag(b)
	checkErr(t, "consumeTag", b, err, wn)
	if err == nil && (int32(num) != int32(wnum) || int8(typ) != int8(wtyp) || n != wn) {
		t.Errorf("consumeTag(% x) = %d, %d, %d; protowire %d, %d, %d", b, num, typ, n, wnum, wtyp, wn)
	}

	x32, n, err := consumeFixed32(b)
	wx32, wn := protowire.ConsumeFixed32(b)
	checkErr(t, "consumeFixed32", b, err, wn)
	if err == nil && (x32 != wx32 || n != wn) {
		t.Errorf("consumeFixed32(% x) = %d, %d; protowire %d, %d", b, x32, n, wx32, wn)
	}

	x64, n, err := consumeFixed64(b)
	wx64, wn := protowire.ConsumeFixed64(b)
	checkErr(t, "consumeFixed64", b, err, wn)
	if err == nil && (x64 != wx64 || n != wn) {
		t.Errorf("consumeFixed64(% x) = %d, %d; protowire %d, %d", b, x64, n, wx64, wn)
	}

	val, n, err := consumeBytes(b)
	wval, wn := protowire.ConsumeBytes(b)
	checkErr(t, "consumeBytes", b, err, wn)
	if err == nil && (!bytes.Equal(val, wval) || n != wn) {
		t.Errorf("consumeBytes(% x) = %x, %d; protowire %x, %d", b, val, n, wval, wn)
	}

	// A whole field, tag and value, skipped (as decodeFields does).
	wnum, wtyp, wn = protowire.ConsumeField(b)
	num, typ, n, err = consumeTag(b)
	if err == nil {
		var m int
		_, _, m, err = consumeValue(num, typ, b[n:])
		n += m
	}
	checkErr(t, "field", b, err, wn)
	if err == nil && (int32(num) != int32(wnum) || int8(typ) != int8(wtyp) || n != wn) {
		t.Errorf("field(% x) = %d, %d, size %d; protowire %d, %d, %d", b, num, typ, n, wnum, wtyp, wn)
	}
}

// compareEncoding compares the encoders and sizes with protowire's for v
// (as a varint, a field number and a length).
func compareEncoding(t *testing.T, v uint64) {
	t.Helper()
	if got, want := appendVarint([]byte{7}, v), protowire.AppendVarint([]byte{7}, v); !bytes.Equal(got, want) {
		t.Errorf("appendVarint(%d) = % x, protowire % x", v, got, want)
	}
	if got, want := sizeVarint(v), protowire.SizeVarint(v); got != want {
		t.Errorf("sizeVarint(%d) = %d, protowire %d", v, got, want)
	}
	num := fieldNum(v % (uint64(protowire.MaxValidNumber) + 1))
	for typ := varintType; typ <= fixed32Type; typ++ {
		if got, want := appendTag(nil, num, typ), protowire.AppendTag(nil, protowire.Number(num), protowire.Type(typ)); !bytes.Equal(got, want) {
			t.Errorf("appendTag(%d, %d) = % x, protowire % x", num, typ, got, want)
		}
	}
	if got, want := sizeTag(num), protowire.SizeTag(protowire.Number(num)); got != want {
		t.Errorf("sizeTag(%d) = %d, protowire %d", num, got, want)
	}
	n := int(v % (1 << 20))
	if got, want := sizeBytes(n), protowire.SizeBytes(n); got != want {
		t.Errorf("sizeBytes(%d) = %d, protowire %d", n, got, want)
	}
	s := bytes.Repeat([]byte{'s'}, int(v%300))
	if got, want := appendBytes([]byte{7}, s), protowire.AppendBytes([]byte{7}, s); !bytes.Equal(got, want) {
		t.Errorf("appendBytes(%d bytes) = % x, protowire % x", len(s), got, want)
	}
	if got, want := appendString([]byte{7}, string(s)), protowire.AppendString([]byte{7}, string(s)); !bytes.Equal(got, want) {
		t.Errorf("appendString(%d bytes) = % x, protowire % x", len(s), got, want)
	}
}

// group returns the fields of a group numbered num nested depth deep,
// with body inside the innermost.
func group(num protowire.Number, depth int, body []byte) []byte {
	var b []byte
	for range depth {
		b = protowire.AppendTag(b, num, protowire.StartGroupType)
	}
	b = append(b, body...)
	for range depth {
		b = protowire.AppendTag(b, num, protowire.EndGroupType)
	}
	return b
}

// wireCases are encodings at the edges of the wire format, valid and not.
var wireCases = [][]byte{
	{},
	{0x00},       // varint 0; tag of field 0
	{0x7f},       // 127
	{0x80, 0x01}, // 128
	{0x80},       // truncated
	{0x80, 0x00}, // 0, longer than needed: accepted
	{0xff, 0xff, 0xff, 0xff, 0x0f},
	{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},       // 2⁶³
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},       // max uint64
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},       // 65 bits
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80},       // 10 bytes, continued
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00}, // 11 bytes
	{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},       // 0 in 10 bytes
	{0xff, 0xff, 0xff},                   // truncated
	{0x08, 0x96, 0x01},                   // field 1 varint 150
	{0x07},                               // field 0
	{0x0e, 0x00},                         // reserved type 6
	{0x0f, 0x00},                         // reserved type 7
	{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00}, // field 2²⁹-1 (max valid)
	{0x80, 0x80, 0x80, 0x80, 0x10, 0x00}, // field 2²⁹: above max valid, accepted by ConsumeTag
	{0xf8, 0xff, 0xff, 0xff, 0x3f, 0x00}, // field 2³¹-1
	{0x80, 0x80, 0x80, 0x80, 0x40, 0x00}, // field 2³¹: invalid
	{0x0d, 1, 2, 3, 4},                   // fixed32
	{0x0d, 1, 2, 3},                      // fixed32, truncated
	{0x09, 1, 2, 3, 4, 5, 6, 7, 8},       // fixed64
	{0x09, 1, 2, 3, 4, 5, 6, 7},          // fixed64, truncated
	{0x0a, 0x00},                         // empty bytes
	{0x0a, 0x03, 'a', 'b', 'c'},
	{0x0a, 0x04, 'a', 'b', 'c'}, // length past the end
	{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a'}, // length max uint64
	{0x0b, 0x0c},                   // empty group
	{0x0b, 0x08, 0x01, 0x0c},       // group with a varint
	{0x0b, 0x13, 0x14, 0x0c},       // nested group
	{0x0b, 0x14},                   // mismatched end
	{0x0b, 0x08, 0x01},             // unterminated group
	{0x0b, 0x0e, 0x00, 0x0c},       // reserved type inside a group
	{0x0b, 0x00, 0x0c},             // field 0 inside a group
	{0x0b, 0x12, 0x05, 0x01, 0x0c}, // bytes past the group's end
	{0x0c},                         // end group without start
	group(1, 10001, nil),           // as deep as protowire allows
	group(1, 10002, nil),           // deeper
}

// TestWireFormatIsProtowires: the decoders return what protowire's do,
// values, sizes and errors, on edge cases; the encoders and sizes agree
// at the varint's edges.
func TestWireFormatIsProtowires(t *testing.T) {
	for _, b := range wireCases {
		compareDecoding(t, b)
	}
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28,
		1<<29 - 1, 1 << 29, 1<<35 - 1, 1 << 35, 1<<56 - 1, 1 << 56, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		compareEncoding(t, v)
	}
}

// TestWireFormatErrors: the errors that malformed input must give.
func TestWireFormatErrors(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want error
	}{
		{[]byte{0x80}, errTruncated},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00}, errOverflow},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, errOverflow},
		{[]byte{0x02, 0x00}, errFieldNumber},
		{[]byte{0x0a, 0x02, 'a'}, errTruncated},
		{[]byte{0x0e}, errReserved},
		{[]byte{0x0c}, errEndGroup},
		{[]byte{0x0b, 0x14}, errEndGroup},
		{group(1, maxGroupDepth+2, nil), errGroupDepth},
	} {
		_, err := UnmarshalActionResult(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("UnmarshalActionResult(% .20x): %v, want %v", c.b, err, c.want)
		}
	}
	// The deepest group protowire skips is skipped.
	if _, err := UnmarshalActionResult(group(1, maxGroupDepth+1, nil)); err != nil {
		t.Errorf("groups %d deep: %v", maxGroupDepth+1, err)
	}
}

// FuzzWireFormat: on any input, the decoders return what protowire's do,
// and the encoders agree with protowire's on any value. Seeded with the
// edge cases and FuzzUnmarshalActionResult's seeds.
func FuzzWireFormat(f *testing.F) {
	for _, b := range wireCases {
		if len(b) < 100 {
			f.Add(b, uint64(len(b)))
		}
	}
	f.Add([]byte{0x4a, 2, 0x0a, 0, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 0}, uint64(math.MaxUint64))
	f.Add([]byte("\x12\x0f\n\tbld-out/a\x12\x02\n\x00*\x01a"), uint64(1)<<63)
	f.Fuzz(func(t *testing.T, b []byte, v uint64) {
		compareDecoding(t, b)
		compareEncoding(t, v)
	})
}
