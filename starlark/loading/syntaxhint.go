package loading

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// syntaxHint returns what to do about a syntax error of go.starlark.net
// whose message is msg ("got X, want Y", "unexpected ')'") and whose
// offending token starts at line:col of src, or "" when there is nothing
// more to say than the message. The hints name the token before the offending one, and the
// bracket still open there, because that is usually where the fix goes.
func syntaxHint(msg string, src []byte, line, col int32) string {
	if closer, ok := strings.CutPrefix(msg, "unexpected "); ok && isCloser(closer) {
		// x = f(1)): the scanner's error for a bracket that closes nothing.
		return "it closes no open bracket: remove it"
	}
	rest, ok := strings.CutPrefix(msg, "got ")
	if !ok {
		return ""
	}
	got, want, ok := strings.Cut(rest, ", want ")
	if !ok {
		return ""
	}
	prev, havePrev := tokenBefore(src, line, col)
	switch {
	case isCloser(got) && (want == "','" || isCloser(want)):
		// f(1] : a closing bracket that does not match the open one.
		if l, c, open, ok := innermostUnclosed(src, line, col); ok {
			return fmt.Sprintf("the '%c' at %d:%d is closed by '%c', not %s", open, l, c, closing(open), got)
		}
	case want == "','" && havePrev:
		// genrule(name = "a" outs = []): a comma missing between arguments.
		return "add a ',' after " + prev.named()
	case isCloser(want) && havePrev:
		// [1 2]: a comma missing between items, or the bracket never closed.
		// After an open bracket or a comma, only the closing bracket fits.
		l, c, open, ok := innermostUnclosed(src, line, col)
		switch {
		case !ok:
			return ""
		case len(prev.text) == 1 && strings.Contains("([{,", prev.text):
			return fmt.Sprintf("add a %s to close the '%c' at %d:%d", want, open, l, c)
		}
		return fmt.Sprintf("add a ',' after %s, or a %s to close the '%c' at %d:%d", prev.named(), want, open, l, c)
	case want == "':'" && got == "newline":
		return fmt.Sprintf("add a ':' at the end of line %d", line)
	case want == "':'" && havePrev:
		return "add a ':' after " + prev.named()
	case want == "primary expression":
		return "a value is missing here"
	case want == "indent":
		return "indent the lines of the block, under the line that ends with ':'"
	case want == "newline" && got == "string literal" && havePrev && isStringToken(prev.text):
		// x = "a" "b": Python joins adjacent strings, Starlark does not.
		return "Starlark does not join adjacent strings: put a '+' between them"
	case want == "newline":
		return "a line holds one statement: start a new line here, or join the two with an operator"
	}
	return ""
}

// tokenBefore returns the last token of src, other than a newline, that
// starts before line:col.
func tokenBefore(src []byte, line, col int32) (token, bool) {
	var prev token
	found := false
	scanTokens(src, func(t token) bool {
		if t.startL > line || t.startL == line && t.startC >= col {
			return false
		}
		if t.text != "\n" {
			prev, found = t, true
		}
		return true
	})
	return prev, found
}

// isCloser reports whether a token as go.starlark.net's messages name it
// is a closing bracket: "')'", "']'" or "'}'".
func isCloser(s string) bool {
	return s == "')'" || s == "']'" || s == "'}'"
}

// isStringToken reports whether text is a string literal, with or without
// a prefix (r, b, rb, br).
func isStringToken(text string) bool {
	text = strings.TrimLeft(text, "rbRB")
	return strings.HasPrefix(text, "'") || strings.HasPrefix(text, `"`)
}

// named returns the token as a hint names it: its text (quoteToken) and
// where it starts, as "'1' (1:6)".
func (t token) named() string {
	return fmt.Sprintf("%s (%d:%d)", quoteToken(t.text), t.startL, t.startC)
}

// quoteToken returns text as a hint shows it: a string literal as it is
// written, anything else in single quotes, and either cut to 20 runes.
func quoteToken(text string) string {
	if utf8.RuneCountInString(text) > 20 {
		text = string([]rune(text)[:20]) + "…"
	}
	if isStringToken(text) {
		return text
	}
	return "'" + text + "'"
}
