package loading

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"go.starlark.net/syntax"
)

// syntaxError returns err with the position of a syntax error moved to the
// start of the token it complains about. go.starlark.net's parser reports
// most errors about the current token ("got int literal, want newline")
// at the scanner's position, which is just past that token: in "x = 3 3"
// it names column 8, past the second 3. Errors reported at the token's
// start (want primary expression) and scanner errors are left as they are,
// as is any error whose position is not the end of a token of src.
//
// A file that ends inside brackets ("got end of file, want ')'") is
// reported at the bracket that is never closed, which is where the user
// has to look, with what to add. Other errors of the parser get a hint of
// what to do (syntaxHint).
func syntaxError(err error, src []byte) error {
	var se syntax.Error
	if !errors.As(err, &se) {
		return err
	}
	if closer, ok := strings.CutPrefix(se.Msg, "got end of file, want "); ok {
		if line, col, open, ok := innermostUnclosed(src, maxPos, maxPos); ok && closer == "'"+string(closing(open))+"'" {
			se.Pos.Line, se.Pos.Col = line, col
			se.Msg = fmt.Sprintf("'%c' is never closed (the file ends first); add the missing %s", open, closer)
			return se
		}
	}
	if reportedAtTokenEnd(se.Msg) {
		line, col, ok := tokenStartBefore(src, se.Pos.Line, se.Pos.Col)
		if !ok {
			return err
		}
		se.Pos.Line, se.Pos.Col = line, col
	}
	if hint := syntaxHint(se.Msg, src, se.Pos.Line, se.Pos.Col); hint != "" {
		se.Msg += "; " + hint
	}
	return se
}

// reportedAtTokenEnd reports whether go.starlark.net's parser reports the
// message at the end of the current token (p.in.pos) rather than at its
// start (p.tokval.pos).
func reportedAtTokenEnd(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "got ") && !strings.HasSuffix(msg, "want primary expression"):
		return true
	case strings.HasPrefix(msg, "keyword argument must have form"),
		strings.Contains(msg, "does not associate with"),
		strings.HasPrefix(msg, "first operand of load statement"),
		strings.HasPrefix(msg, "load operand must be"),
		strings.HasPrefix(msg, "original name of loaded symbol"),
		msg == "not an identifier",
		msg == "invalid syntax":
		return true
	}
	return false
}

// tokenStartBefore finds the token of src that ends just before line:col
// (1-based; columns count runes, as go.starlark.net's do) and returns where
// it starts.
func tokenStartBefore(src []byte, line, col int32) (int32, int32, bool) {
	var foundL, foundC int32
	found := false
	scanTokens(src, func(t token) bool {
		if t.endL > line || (t.endL == line && t.endC > col) {
			return false // passed the position without a token ending there
		}
		if t.endL == line && t.endC == col {
			foundL, foundC, found = t.startL, t.startC, true
			return false
		}
		return true
	})
	return foundL, foundC, found
}

// maxPos is a line or column past the end of any file.
const maxPos = math.MaxInt32

// innermostUnclosed returns where the innermost bracket of src that is
// still open at line:col starts, and the bracket, if there is one. Only
// tokens that start before line:col count.
func innermostUnclosed(src []byte, line, col int32) (openL, openC int32, open byte, ok bool) {
	type bracket struct {
		ch   byte
		l, c int32
	}
	var stack []bracket
	scanTokens(src, func(t token) bool {
		if t.startL > line || t.startL == line && t.startC >= col {
			return false
		}
		switch t.text[0] {
		case '(', '[', '{':
			stack = append(stack, bracket{t.text[0], t.startL, t.startC})
		case ')', ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		return true
	})
	if len(stack) == 0 {
		return 0, 0, 0, false
	}
	b := stack[len(stack)-1]
	return b.l, b.c, b.ch, true
}

// closing returns the bracket that closes open.
func closing(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	}
	return '}'
}

// A token is one token of a Starlark file: its text and where it starts
// and ends (1-based lines and columns; the end is just past the token).
type token struct {
	text                       string
	startL, startC, endL, endC int32
}

// scanTokens calls visit with each token of src in order, until visit
// returns false. It knows Starlark's tokens well enough to find their
// boundaries: comments, strings (prefixed, triple-quoted, with escapes),
// names and numbers, operators, and newlines outside brackets.
func scanTokens(src []byte, visit func(token) bool) {
	s := string(src)
	i := 0
	l, c := int32(1), int32(1)
	depth := 0
	// advance moves past n bytes of s, counting lines and runes.
	advance := func(n int) {
		for end := i + n; i < end && i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if r == '\n' {
				l, c = l+1, 1
			} else {
				c++
			}
		}
	}
	for i < len(s) {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r':
			advance(1)
			continue
		case ch == '\\' && strings.HasPrefix(s[i:], "\\\n"):
			advance(2)
			continue
		case ch == '#':
			n := strings.IndexByte(s[i:], '\n')
			if n < 0 {
				n = len(s) - i
			}
			advance(n)
			continue
		case ch == '\n' && depth > 0:
			advance(1)
			continue
		}
		startI, startL, startC := i, l, c
		advance(tokenLen(s[i:]))
		switch ch {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
		if !visit(token{s[startI:i], startL, startC, l, c}) {
			return
		}
	}
}

// tokenLen returns the length in bytes of the token at the start of s,
// which is not a space or a comment.
func tokenLen(s string) int {
	isName := func(b byte) bool {
		return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= utf8.RuneSelf
	}
	if s[0] == '\'' || s[0] == '"' {
		return stringLen(s)
	}
	if isName(s[0]) || s[0] == '.' && len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		n := 0
		number := s[0] >= '0' && s[0] <= '9' || s[0] == '.'
		for n < len(s) {
			b := s[n]
			switch {
			case isName(b):
				n++
			case number && b == '.':
				n++
			case number && (b == '+' || b == '-') && (s[n-1] == 'e' || s[n-1] == 'E') && !strings.HasPrefix(strings.ToLower(s), "0x"):
				n++
			default:
				goto done
			}
		}
	done:
		// A string prefix (r, b, rb, br) followed by a quote is one token.
		if n < len(s) && n <= 2 && (s[n] == '\'' || s[n] == '"') {
			switch strings.ToLower(s[:n]) {
			case "r", "b", "rb", "br":
				return n + stringLen(s[n:])
			}
		}
		return n
	}
	for _, op := range []string{"**=", "//=", "<<=", ">>=", "==", "!=", "<=", ">=", "**", "//", "<<", ">>",
		"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "->"} {
		if strings.HasPrefix(s, op) {
			return len(op)
		}
	}
	_, size := utf8.DecodeRuneInString(s)
	return size
}

// stringLen returns the length of the string literal at the start of s,
// from its opening quote to its closing one, or to the end of the line
// (the end of s for a triple-quoted string) if it is not closed.
func stringLen(s string) int {
	q := s[:1]
	if strings.HasPrefix(s, q+q+q) {
		q = q + q + q
	}
	for n := len(q); n < len(s); {
		switch {
		case s[n] == '\\':
			n += 2
		case strings.HasPrefix(s[n:], q):
			return n + len(q)
		case s[n] == '\n' && len(q) == 1:
			return n
		default:
			n++
		}
	}
	return len(s)
}
