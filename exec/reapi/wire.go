package reapi

import (
	"errors"
	"fmt"
)

// The protobuf wire format, as much of it as the messages here need.

const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5
)

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, num, wt int) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(wt))
}

// appendVarintField appends a varint field, omitted when v is 0 (proto3).
func appendVarintField(b []byte, num int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendVarint(appendTag(b, num, wireVarint), v)
}

func appendBool(b []byte, num int, v bool) []byte {
	if !v {
		return b
	}
	return appendVarintField(b, num, 1)
}

// appendBytes appends a length-delimited field; an empty one is omitted
// unless repeated (elements of repeated fields are always present).
func appendBytes(b []byte, num int, v []byte, repeated bool) []byte {
	if len(v) == 0 && !repeated {
		return b
	}
	b = appendTag(b, num, wireBytes)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, num int, s string, repeated bool) []byte {
	if len(s) == 0 && !repeated {
		return b
	}
	b = appendTag(b, num, wireBytes)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendMessage appends an embedded message, which is present even when
// its encoding is empty.
func appendMessage(b []byte, num int, m []byte) []byte {
	return appendBytes(b, num, m, true)
}

var errTruncated = errors.New("reapi: truncated message")

func readVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errTruncated
}

// parseFields calls f for each field of the message b: for varints with
// the value, for length-delimited fields with the data. Fixed-size fields
// are skipped; groups are an error.
func parseFields(b []byte, f func(num, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n, err := readVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		num, wt := int(tag>>3), int(tag&7)
		if num == 0 {
			return fmt.Errorf("reapi: field number 0")
		}
		var v uint64
		var data []byte
		switch wt {
		case wireVarint:
			v, n, err = readVarint(b)
			if err != nil {
				return err
			}
			b = b[n:]
		case wireBytes:
			l, n, err := readVarint(b)
			if err != nil {
				return err
			}
			b = b[n:]
			if uint64(len(b)) < l {
				return errTruncated
			}
			data, b = b[:l], b[l:]
		case wire64:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
			continue
		case wire32:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
			continue
		default:
			return fmt.Errorf("reapi: unsupported wire type %d", wt)
		}
		if err := f(num, wt, v, data); err != nil {
			return err
		}
	}
	return nil
}
