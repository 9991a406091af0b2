// Package depfile reads and writes Make-syntax dependency files, as gcc and
// clang write them (-MD -MF, -MP) and rustc writes them (--emit=dep-info).
//
// The syntax understood is the subset those tools produce:
//
//	target1 target2: prereq1 prereq2 \
//	  prereq3
//	prereq1:
//
// A rule is one logical line: a backslash before a newline continues it.
// Targets end at a colon followed by white space or the end of the line.
// Inside a name, "\ " is a space (2N+1 backslashes before a space are N
// backslashes and a space; 2N backslashes before a space are 2N backslashes
// and the name ends, as ninja reads them; likewise 2N+1 backslashes before
// "#" are N backslashes and "#"), "$$" is "$"; a backslash that ends the
// file continues the line into nothing; any
// other backslash is itself. An unescaped "#" at the start of a line or
// after a blank starts a comment that runs to the end of the line (rustc
// writes "# env-dep:" lines); a "#" inside a name is part of it, because
// rustc writes names with "#" unescaped ("src/d#1.txt"; gcc writes "\#").
// So a name cannot begin with an unescaped "#". Empty lines and rules
// without prerequisites (gcc -MP, rustc) are allowed.
package depfile

import (
	"bytes"
	"fmt"
	"strings"
)

// A Rule is one "targets: prerequisites" line.
type Rule struct {
	Targets []string
	Prereqs []string
}

// Parse reads a dependency file. It fails on a line that has names but no
// colon after its first name(s).
func Parse(data []byte) ([]Rule, error) {
	var rules []Rule
	for i, line := range logicalLines(data) {
		r, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("depfile: rule %d: %w", i+1, err)
		}
		if len(r.Targets) > 0 {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// Prerequisites returns the prerequisites of every rule, each once, in the
// order they first appear: the files the depfile says were read.
func Prerequisites(rules []Rule) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rules {
		for _, p := range r.Prereqs {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Format writes rules canonically: one rule per paragraph, the targets on
// the first line and each prerequisite on a continued line of its own, names
// escaped so that Parse reads them back unchanged. A name that ends with a
// backslash, or holds a carriage return or a newline, cannot be written in
// Make syntax (the backslash would escape the separator or the newline
// after it); it comes back changed.
func Format(rules []Rule) []byte {
	var b bytes.Buffer
	for i, r := range rules {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, t := range r.Targets {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(escape(t))
		}
		b.WriteByte(':')
		for _, p := range r.Prereqs {
			b.WriteString(" \\\n  ")
			b.WriteString(escape(p))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// logicalLines splits data into lines, joining backslash-continued ones
// (the backslash and newline become a space) and dropping comments.
func logicalLines(data []byte) []string {
	var lines []string
	var cur strings.Builder
	s := string(data)
	// blank: what precedes s[i] on its line is nothing or an unescaped
	// blank, so a "#" there starts a comment, not a name.
	blank := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		afterBlank := blank
		blank = c == ' ' || c == '\t' || c == '\n' || c == '\r'
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			cur.WriteByte(' ')
			blank = true
			i++
		case c == '\\' && i+2 < len(s) && s[i+1] == '\r' && s[i+2] == '\n':
			cur.WriteByte(' ')
			blank = true
			i += 2
		case c == '\\' && i+1 == len(s):
			// A backslash that ends the file continues the line into
			// nothing, as one before a newline would.
			cur.WriteByte(' ')
		case c == '\\' && i+1 < len(s):
			// Keep the escape for parseLine, and skip the escaped
			// byte so that "\#" does not start a comment (nor does
			// a "#" after an escaped space: it is inside a name).
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '#' && afterBlank:
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == '\n':
			lines = append(lines, cur.String())
			cur.Reset()
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// parseLine parses one logical line into a rule (no targets if it is blank).
func parseLine(line string) (Rule, error) {
	var r Rule
	inTargets := true
	var name strings.Builder
	named := false // name holds a name being read
	end := func() {
		if !named {
			return
		}
		if inTargets {
			r.Targets = append(r.Targets, name.String())
		} else {
			r.Prereqs = append(r.Prereqs, name.String())
		}
		name.Reset()
		named = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			end()
		case c == '\\':
			n := 0
			for i+n < len(line) && line[i+n] == '\\' {
				n++
			}
			next := byte(0)
			if i+n < len(line) {
				next = line[i+n]
			}
			switch {
			case next == ' ' && n%2 == 1:
				name.WriteString(strings.Repeat(`\`, n/2))
				name.WriteByte(' ')
				i += n
			case next == '#' && n%2 == 1:
				name.WriteString(strings.Repeat(`\`, n/2))
				name.WriteByte('#')
				i += n
			default:
				name.WriteString(strings.Repeat(`\`, n))
				i += n - 1
			}
			named = true
		case c == '$' && i+1 < len(line) && line[i+1] == '$':
			name.WriteByte('$')
			named = true
			i++
		case c == ':' && inTargets && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'):
			end()
			inTargets = false
		default:
			name.WriteByte(c)
			named = true
		}
	}
	end()
	if inTargets && len(r.Targets) > 0 {
		return Rule{}, fmt.Errorf("no colon after %q", strings.Join(r.Targets, " "))
	}
	if !inTargets && len(r.Targets) == 0 {
		return Rule{}, fmt.Errorf("no target before the colon")
	}
	return r, nil
}

// escape writes name so that parseLine reads it back.
func escape(name string) string {
	var b strings.Builder
	bs := 0 // backslashes just written
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case ' ':
			b.WriteString(strings.Repeat(`\`, bs)) // double the run
			b.WriteString(`\ `)
		case '#':
			b.WriteString(strings.Repeat(`\`, bs)) // double the run
			b.WriteString(`\#`)
		case '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
		if c == '\\' {
			bs++
		} else {
			bs = 0
		}
	}
	return b.String()
}
