package reapi

// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
// the few primitives this package's encoders and decoders need: written
// here rather than imported from protobuf's protowire so that bld links no
// protobuf package at all (protowire's dependency internal/detrand reads
// the running binary at every start). The decoders refuse what protowire
// refuses, and the tests compare them with it.

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/bits"
)

// A fieldNum is a field's number. Valid ones are 1 to 2²⁹-1; decoding
// accepts up to 2³¹-1, as protowire.ConsumeTag does.
type fieldNum int32

// A wireType is the type of a field's encoding: the low 3 bits of its tag.
type wireType int8

// The wire types; 6 and 7 are reserved.
const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2 // length-delimited: strings, bytes, messages
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

// maxGroupDepth is how deeply groups may nest in a skipped field, as
// protowire.DefaultRecursionLimit.
const maxGroupDepth = 10000

// The errors of malformed input.
var (
	errTruncated   = io.ErrUnexpectedEOF
	errOverflow    = errors.New("variable length integer overflow")
	errFieldNumber = errors.New("invalid field number")
	errEndGroup    = errors.New("mismatching end group marker")
	errReserved    = errors.New("cannot parse reserved wire type")
	errGroupDepth  = errors.New("groups nested too deeply")
)

// appendVarint appends v as a varint (7 bits a byte, low bits first).
func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// appendTag appends the tag of a field numbered num of type typ.
func appendTag(b []byte, num fieldNum, typ wireType) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(typ&7))
}

// appendString appends s, length-delimited.
func appendString(b []byte, s string) []byte {
	return append(appendVarint(b, uint64(len(s))), s...)
}

// appendBytes appends v, length-delimited.
func appendBytes(b []byte, v []byte) []byte {
	return append(appendVarint(b, uint64(len(v))), v...)
}

// sizeVarint is the size of v's varint: 1 to 10 bytes.
func sizeVarint(v uint64) int { return 1 + (bits.Len64(v|1)-1)/7 }

// sizeTag is the size of the tag of a field numbered num.
func sizeTag(num fieldNum) int { return sizeVarint(uint64(num) << 3) }

// sizeBytes is the size of n bytes, length-delimited.
func sizeBytes(n int) int { return sizeVarint(uint64(n)) + n }

// consumeVarint returns the varint at the start of b and its size. A varint
// may be longer than needed (protobuf accepts that), but not longer than
// 10 bytes nor, in its 10th byte, hold more than the 64th bit.
func consumeVarint(b []byte) (v uint64, n int, err error) {
	v, n = binary.Uvarint(b)
	switch {
	case n > 0:
		return v, n, nil
	case n < 0, len(b) >= binary.MaxVarintLen64:
		// Uvarint says 0 (too short) of 10 bytes that all continue.
		return 0, 0, errOverflow
	default:
		return 0, 0, errTruncated
	}
}

// consumeTag returns the field number and wire type of the tag at the
// start of b, and its size. Field number 0 is an error.
func consumeTag(b []byte) (fieldNum, wireType, int, error) {
	v, n, err := consumeVarint(b)
	if err != nil {
		return 0, 0, 0, err
	}
	if num := v >> 3; num == 0 || num > math.MaxInt32 {
		return 0, 0, 0, errFieldNumber
	}
	return fieldNum(v >> 3), wireType(v & 7), n, nil
}

// consumeFixed32 returns the little-endian 32-bit value at the start of b.
func consumeFixed32(b []byte) (uint32, int, error) {
	if len(b) < 4 {
		return 0, 0, errTruncated
	}
	return binary.LittleEndian.Uint32(b), 4, nil
}

// consumeFixed64 returns the little-endian 64-bit value at the start of b.
func consumeFixed64(b []byte) (uint64, int, error) {
	if len(b) < 8 {
		return 0, 0, errTruncated
	}
	return binary.LittleEndian.Uint64(b), 8, nil
}

// consumeBytes returns the length-delimited value at the start of b (a
// slice of b) and its size, length included.
func consumeBytes(b []byte) ([]byte, int, error) {
	m, n, err := consumeVarint(b)
	if err != nil {
		return nil, 0, err
	}
	if m > uint64(len(b)-n) {
		return nil, 0, errTruncated
	}
	return b[n : n+int(m)], n + int(m), nil
}

// consumeValue returns the value of a field numbered num of type typ at
// the start of b (v for a length-delimited one, x for a varint or a fixed
// one; neither for a group, whose fields are skipped up to its end group
// marker, which must have the number num) and its size. An end group
// marker without its start and the reserved wire types are errors.
func consumeValue(num fieldNum, typ wireType, b []byte) (v []byte, x uint64, n int, err error) {
	switch typ {
	case varintType:
		x, n, err = consumeVarint(b)
	case fixed32Type:
		var x32 uint32
		x32, n, err = consumeFixed32(b)
		x = uint64(x32)
	case fixed64Type:
		x, n, err = consumeFixed64(b)
	case bytesType:
		v, n, err = consumeBytes(b)
	default:
		n, err = skipGroup(num, typ, b, maxGroupDepth)
	}
	return v, x, n, err
}

// skipGroup returns the size of the group numbered num at the start of b
// (its end group marker included), when typ starts a group; groups may
// nest depth more levels. Other types are errors: an end group marker
// without its start, or a reserved type.
func skipGroup(num fieldNum, typ wireType, b []byte, depth int) (int, error) {
	switch {
	case typ == endGroupType:
		return 0, errEndGroup
	case typ != startGroupType:
		return 0, errReserved
	case depth < 0:
		return 0, errGroupDepth
	}
	n := 0
	for {
		num2, typ2, m, err := consumeTag(b[n:])
		if err != nil {
			return 0, err
		}
		n += m
		if typ2 == endGroupType {
			if num2 != num {
				return 0, errEndGroup
			}
			return n, nil
		}
		if typ2 == startGroupType {
			m, err = skipGroup(num2, typ2, b[n:], depth-1)
		} else {
			_, _, m, err = consumeValue(num2, typ2, b[n:])
		}
		if err != nil {
			return 0, err
		}
		n += m
	}
}
