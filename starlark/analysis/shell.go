package analysis

import "strings"

// ShellQuote returns s as one word of a POSIX shell command. A string made
// only of the characters [A-Za-z0-9_./+=:,@%-] is returned as it is, so
// that plain paths (and the command lines and cache keys built from them)
// do not change; any other string, and the empty string, is wrapped in single
// quotes, with each ' inside written as quote, backslash, quote, quote (it
// closes the quoted part, adds an escaped ', and opens another). It is the
// one place that decides how bld quotes paths in shell commands (genrule's
// cmd, expand_make_variables).
func ShellQuote(s string) string {
	if s != "" && isPlainWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isPlainWord reports whether every byte of s is one the shell gives no
// meaning to in a word: [A-Za-z0-9_./+=:,@%-].
func isPlainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_./+=:,@%-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// shellJoin returns the words of paths, each quoted by ShellQuote, separated
// by spaces.
func shellJoin(paths []string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = ShellQuote(p)
	}
	return strings.Join(quoted, " ")
}
