// Package shell quotes words for POSIX shell commands: the one place that
// decides how bld quotes paths it puts into shell commands (genrule's cmd)
// and how it prints command lines.
package shell

import "strings"

// Quote returns s as one word of a POSIX shell command. A string made
// only of the characters [A-Za-z0-9_./+=:,@%-] is returned as it is, so
// that plain paths (and the command lines and cache keys built from them)
// do not change; any other string, and the empty string, is wrapped in single
// quotes, with each ' inside written as quote, backslash, quote, quote (it
// closes the quoted part, adds an escaped ', and opens another).
func Quote(s string) string {
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

// Join returns words, each quoted by Quote, separated by spaces.
func Join(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = Quote(w)
	}
	return strings.Join(quoted, " ")
}
