package cache

import (
	"encoding/json"
	"strconv"
)

// appendRecord appends the JSON encoding of r to dst: the very bytes
// json.Marshal(r) makes (the test says so), without its reflection, which
// was most of the cost of filing a record, once per action run.
func appendRecord(dst []byte, r *record) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, r.Key)
	dst = appendStrings(dst, `,"argv":`, r.Argv)
	dst = appendStrings(dst, `,"env":`, r.Env)
	if r.Tool != "" {
		dst = appendJSONString(append(dst, `,"tool":`...), r.Tool)
	}
	if r.ToolDigest != "" {
		dst = appendJSONString(append(dst, `,"tool_digest":`...), r.ToolDigest)
	}
	if r.Content != "" {
		dst = appendJSONString(append(dst, `,"content":`...), r.Content)
	}
	if r.Executable {
		dst = append(dst, `,"executable":true`...)
	}
	dst = appendInputs(dst, `,"inputs":`, r.Inputs)
	dst = appendInputs(dst, `,"outputs":`, r.Outputs)
	dst = appendStrings(dst, `,"read_set":`, r.ReadSet)
	dst = appendStrings(dst, `,"shadows":`, r.Shadows)
	return append(dst, '}')
}

// appendStrings appends the field name (with its comma and colon) and ss
// as a JSON array, unless ss is empty (omitempty).
func appendStrings(dst []byte, name string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	dst = append(dst, name...)
	for i, s := range ss {
		if i == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendInputs is appendStrings of recordInputs.
func appendInputs(dst []byte, name string, ins []recordInput) []byte {
	if len(ins) == 0 {
		return dst
	}
	dst = append(dst, name...)
	for i, in := range ins {
		if i == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		dst = appendJSONString(append(dst, `{"path":`...), in.Path)
		dst = appendJSONString(append(dst, `,"digest":`...), in.Digest)
		if in.Exec {
			dst = append(dst, `,"exec":true`...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendJSONString appends s as json.Marshal encodes a string (HTML
// characters escaped too): ASCII here, a string with other bytes by
// json.Marshal itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			b, err := json.Marshal(s)
			if err != nil { // never, for a string
				return strconv.AppendQuote(dst, s)
			}
			return append(dst, b...)
		}
	}
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
