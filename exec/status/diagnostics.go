package status

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Compiler diagnostics in the output of actions: what bld recognizes so that
// the same diagnostic printed by several actions (a warning in a header that
// every partition of a unit includes) is shown once, with a count, and so
// that a failure can be explained (two sources compiled as one that define
// the same name).
//
// The format is the one gcc, clang and rustc's short form share:
//
//	In file included from bld-out/p/_objs/lib/partition_0.c:2:     context
//	p/a.c: In function 'f':                                          context
//	p/a.c:3:7: warning: unused variable 'x' [-Wunused-variable]      diagnostic
//	    3 |   int x;                                                 continuation
//	      |       ^
//	p/a.c:1:5: note: declared here                                   note, part of it
//
// Everything else in an output (a tool's own messages) is kept as it is and
// never merged.

// The patterns are compiled on first use, not when bld starts: bld's
// sandbox helper is bld itself, started for every action, and runs every
// package's initialization each time.
var (
	diagnosticLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([^\s:][^:]*):(\d+)(?::(\d+))?: (warning|error|fatal error|note|remark): (.*)$`)
	})
	contextLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(In file included from |\s+from |[^\s:][^:]*: (In|At) ).*[:,]$`)
	})
)

// A unit is a run of lines of an action's output: a diagnostic with its
// context, source excerpt and notes, or one line of anything else.
type unit struct {
	text []byte
	// key identifies a diagnostic whatever action printed it: its lines
	// without the context (which names the including file, different in
	// each partition). Empty for lines that are not a diagnostic.
	key string
	// Parsed lines of the diagnostic and its notes, in order.
	diags []diagnostic
}

type diagnostic struct {
	file, line, severity, message string
}

// splitUnits splits out into units. Concatenating the texts gives out back.
func splitUnits(out []byte) []unit {
	var units []unit
	var cur *unit
	var context []byte
	var keyb strings.Builder
	flush := func() {
		if cur != nil {
			cur.key = keyb.String()
			units = append(units, *cur)
			cur = nil
			keyb.Reset()
		}
	}
	for len(out) > 0 {
		i := bytes.IndexByte(out, '\n')
		var line []byte
		if i < 0 {
			line, out = out, nil
		} else {
			line, out = out[:i+1], out[i+1:]
		}
		text := strings.TrimRight(string(line), "\r\n")
		if m := diagnosticLine().FindStringSubmatch(text); m != nil {
			// A file found through "-iquote ." is spelled ./dir/f.c.
			d := diagnostic{file: path.Clean(m[1]), line: m[2], severity: m[4], message: m[5]}
			if cur != nil && d.severity == "note" {
				// A note belongs to the diagnostic before it, with the
				// context that locates it.
				cur.text = append(append(cur.text, context...), line...)
				context = nil
				cur.diags = append(cur.diags, d)
				keyb.WriteString(text + "\n")
				continue
			}
			flush()
			cur = &unit{text: append(context, line...), diags: []diagnostic{d}}
			context = nil
			keyb.WriteString(text + "\n")
			continue
		}
		if cur != nil && len(context) == 0 && (strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t")) && !contextLine().MatchString(text) {
			// The source excerpt and caret under a diagnostic.
			cur.text = append(cur.text, line...)
			keyb.WriteString(text + "\n")
			continue
		}
		if contextLine().MatchString(text) {
			// Context of the next diagnostic, or of a note of the
			// current one: cur stays open.
			context = append(context, line...)
			continue
		}
		flush()
		if len(context) > 0 {
			// Context not followed by a diagnostic: plain text after all.
			units = append(units, unit{text: context})
			context = nil
		}
		units = append(units, unit{text: slices.Clone(line)})
	}
	flush()
	if len(context) > 0 {
		units = append(units, unit{text: context})
	}
	return units
}

// mergeOutputs returns the outputs, in order, with every diagnostic after
// its first appearance left out and a count after the first one that
// appeared in more than one output. what names the group ("the partitions
// of //p:lib").
func mergeOutputs(outputs [][]byte, what string) [][]byte {
	split := make([][]unit, len(outputs))
	count := map[string]int{}
	for i, out := range outputs {
		split[i] = splitUnits(out)
		inThis := map[string]bool{}
		for _, u := range split[i] {
			if u.key != "" && !inThis[u.key] {
				inThis[u.key] = true
				count[u.key]++
			}
		}
	}
	shown := map[string]bool{}
	merged := make([][]byte, len(outputs))
	for i, units := range split {
		var b bytes.Buffer
		for _, u := range units {
			if u.key == "" {
				b.Write(u.text)
				continue
			}
			if shown[u.key] {
				continue
			}
			shown[u.key] = true
			b.Write(u.text)
			if n := count[u.key]; n > 1 {
				if !bytes.HasSuffix(u.text, []byte("\n")) {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, "[bld: the %s above was printed by %d of %s; shown once]\n", u.diags[0].severity, n, what)
			}
		}
		merged[i] = b.Bytes()
	}
	return merged
}

// A clashPattern recognizes an error that two definitions of one name
// meet in one compile, with the note naming the other definition.
type clashPattern struct {
	err, note *regexp.Regexp
	what      string
}

var clashPatterns = sync.OnceValue(func() []clashPattern {
	return []clashPattern{
		{regexp.MustCompile(`^(?:redefinition of|conflicting types for|static declaration of) '([^']+)'`),
			regexp.MustCompile(`^previous (?:definition|declaration|implicit declaration) of '([^']+)'`), "%s is defined"},
		{regexp.MustCompile(`^'([^']+)' redeclared as different kind of symbol`),
			regexp.MustCompile(`^previous (?:definition|declaration) of '([^']+)'`), "%s is defined"},
		{regexp.MustCompile(`^"([^"]+)" redefined`),
			regexp.MustCompile(`^this is the location of the previous definition`), "macro %s is defined"},
	}
})

// clashes finds, in the output of an action that compiles several of
// sources as one, names defined in two different sources: each result says
// which name and which two files.
func clashes(out []byte, sources []string) []string {
	isSource := map[string]bool{}
	for _, s := range sources {
		isSource[s] = true
	}
	var found []string
	seen := map[string]bool{}
	for _, u := range splitUnits(out) {
		if len(u.diags) < 2 {
			continue
		}
		first := u.diags[0]
		for _, p := range clashPatterns() {
			m := p.err.FindStringSubmatch(first.message)
			if m == nil {
				continue
			}
			for _, note := range u.diags[1:] {
				if note.severity != "note" || !p.note.MatchString(note.message) {
					continue
				}
				if note.file == first.file || !isSource[note.file] || !isSource[first.file] {
					continue
				}
				msg := fmt.Sprintf(p.what+" in both %s and %s", "'"+m[1]+"'", note.file, first.file)
				if !seen[msg] {
					seen[msg] = true
					found = append(found, msg)
				}
				break
			}
		}
	}
	return found
}
