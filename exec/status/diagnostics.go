package status

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
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
//	b.cc:2:20:   required from here                                  context (C++ templates)
//
// Everything else in an output (a tool's own messages) is kept as it is and
// never merged, except an indented line right after a diagnostic, which is
// taken for its source excerpt.

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
	// gcc's instantiation context: "b.cc:2:20:   required from here",
	// "   required from 'T'", "   in 'constexpr' expansion of ...".
	instantiationLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[^\s:][^:]*:\d+(?::\d+)?:   \S`)
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
	file, severity, message string
}

// splitUnits splits out into units. Concatenating the texts gives out back;
// a text may share out's memory.
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
			line, out = out[:i+1:i+1], out[i+1:]
		}
		text := bytes.TrimRight(line, "\r\n")
		if m := matchDiagnostic(text); m != nil {
			// A file found through "-iquote ." is spelled ./dir/f.c.
			d := diagnostic{file: path.Clean(string(m[1])), severity: severity(m[4]), message: string(m[5])}
			if cur != nil && d.severity == "note" {
				// A note belongs to the diagnostic before it, with the
				// context that locates it.
				cur.text = append(append(cur.text, context...), line...)
				context = nil
				cur.diags = append(cur.diags, d)
				keyb.Write(text)
				keyb.WriteByte('\n')
				continue
			}
			flush()
			cur = &unit{text: append(context, line...), diags: []diagnostic{d}}
			context = nil
			keyb.Write(text)
			keyb.WriteByte('\n')
			continue
		}
		if cur != nil && len(context) == 0 && (bytes.HasPrefix(text, []byte(" ")) || bytes.HasPrefix(text, []byte("\t"))) && !isContext(text) {
			// The source excerpt and caret under a diagnostic.
			cur.text = append(cur.text, line...)
			keyb.Write(text)
			keyb.WriteByte('\n')
			continue
		}
		if isContext(text) {
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
		units = append(units, unit{text: line})
	}
	flush()
	if len(context) > 0 {
		units = append(units, unit{text: context})
	}
	return units
}

// severities are the words diagnosticLine accepts after "file:line: ",
// each followed by ": ".
var severities = [...]string{"warning", "error", "fatal error", "note", "remark"}

// matchDiagnostic is diagnosticLine's submatches in text, or nil. Most
// lines of most outputs are not diagnostics: the pattern runs only on a
// line that mayHoldDiagnostic.
func matchDiagnostic(text []byte) [][]byte {
	if !mayHoldDiagnostic(text) {
		return nil
	}
	return diagnosticLine().FindSubmatch(text)
}

// mayHoldDiagnostic says whether b holds ": " followed by a severity and
// ": ", which every diagnostic line does: an output without it has none.
func mayHoldDiagnostic(b []byte) bool {
	for rest := b; ; {
		i := bytes.Index(rest, []byte(": "))
		if i < 0 {
			return false
		}
		rest = rest[i+2:]
		for _, sev := range severities {
			if len(rest) >= len(sev)+2 && string(rest[:len(sev)]) == sev && string(rest[len(sev):len(sev)+2]) == ": " {
				return true
			}
		}
	}
}

// severity is b, one of severities, as a string without copying it.
func severity(b []byte) string {
	for _, sev := range severities {
		if string(b) == sev {
			return sev
		}
	}
	return string(b)
}

// isContext says whether text is context of a diagnostic: contextLine
// (such a line ends with ':' or ',', which is checked first) or
// instantiationLine (which holds ":   ").
func isContext(text []byte) bool {
	if len(text) == 0 {
		return false
	}
	if last := text[len(text)-1]; (last == ':' || last == ',') && contextLine().Match(text) {
		return true
	}
	return bytes.Contains(text, []byte(":   ")) && instantiationLine().Match(text)
}

// isError says whether u is an error diagnostic (error or fatal error),
// what a failing action's block always keeps.
func (u *unit) isError() bool {
	return len(u.diags) > 0 && (u.diags[0].severity == "error" || u.diags[0].severity == "fatal error")
}

// shownDiagnostics is what a Display remembers of the diagnostics it has
// printed during a build, so that each is printed once whichever actions
// print it, and the build ends with a list of those that were repeated.
// A diagnostic is remembered by a digest of its key, not the key itself (a
// source excerpt and notes: hundreds of bytes), and its first line only once
// it repeats, so that a build whose 10,000 compiles print 20 distinct
// warnings each keeps under 100 bytes per warning. The zero value is ready to use.
type shownDiagnostics struct {
	byKey    map[diagnosticKey]*shownDiagnostic
	repeated []*shownDiagnostic // those held by more than one action, in no order (seq orders them)
	outputs  int                // the outputs merged so far
}

// diagnosticKey is a digest of a unit's key: 128 bits of SHA-256, so that two
// different diagnostics never share one in practice.
type diagnosticKey [16]byte

func keyOf(u unit) diagnosticKey {
	sum := sha256.Sum256([]byte(u.key))
	return diagnosticKey(sum[:16])
}

// shownDiagnostic is one diagnostic a Display printed.
type shownDiagnostic struct {
	seq int // the order in which it was first printed
	// line is its first line, set once another action holds it: "p/a.h:3:7:
	// warning: unused variable 'x' [-Wunused-variable]".
	line string
	// actions counts the actions whose output held it: the one that
	// printed it, and those from whose output it was left out.
	actions int
	// noted is how many of those a note printed in place (under a group's
	// first copy) counted already.
	noted int
	// in is the number of the output (shownDiagnostics.outputs) that
	// held it last, to count an output that holds it twice once.
	in int
}

// merge returns the outputs, in order, with every diagnostic printed before
// (earlier in this call or by an earlier call) left out, and a note under
// the first copy of a diagnostic when several of these outputs held it;
// what names the outputs ("3 actions of //lib:lib partitions"). Errors in
// an output for which failed[i] is true (failed may be nil) are never left
// out, nor counted as repeated: a failing action's block keeps its own
// errors. Text that is not a diagnostic is never left out. An output from
// which nothing is left out is returned as it is, not copied; one without a
// diagnostic costs a scan for ": ". The result may be outputs itself.
func (s *shownDiagnostics) merge(outputs [][]byte, failed []bool, what string) [][]byte {
	if !slices.ContainsFunc(outputs, mayHoldDiagnostic) {
		return outputs // most outputs hold no diagnostic: nothing to merge
	}
	if s.byKey == nil {
		s.byKey = map[diagnosticKey]*shownDiagnostic{}
	}
	// First decide, in order, which copies are printed, counting the
	// outputs that held each diagnostic; then write, with each note
	// under the first copy.
	split := make([][]unit, len(outputs))
	drop := make([][]bool, len(outputs))
	var firstHere map[*shownDiagnostic]bool // first printed by this call
	first := func(k diagnosticKey) *shownDiagnostic {
		sd := &shownDiagnostic{seq: len(s.byKey), actions: 1}
		s.byKey[k] = sd
		if firstHere == nil {
			firstHere = map[*shownDiagnostic]bool{}
		}
		firstHere[sd] = true
		return sd
	}
	keys := make([][]diagnosticKey, len(outputs))
	for i, out := range outputs {
		if !mayHoldDiagnostic(out) {
			continue // kept as it is, below
		}
		split[i] = splitUnits(out)
		keys[i] = make([]diagnosticKey, len(split[i]))
		s.outputs++
		for j, u := range split[i] {
			if u.key == "" {
				continue
			}
			k := keyOf(u)
			keys[i][j] = k
			sd := s.byKey[k]
			if sd != nil && !firstHere[sd] && failed != nil && failed[i] && u.isError() {
				// A failing action's block keeps its own errors, even
				// those an earlier block printed; within one call (a
				// group) an error is printed once, with the note.
				continue
			}
			switch {
			case sd == nil:
				sd = first(k)
			case sd.in == s.outputs: // twice in one output: left out, counted once
				mark(drop, i, j, len(split[i]))
			default:
				sd.actions++
				if sd.line == "" {
					sd.line, _, _ = strings.Cut(u.key, "\n")
					s.repeated = append(s.repeated, sd)
				}
				mark(drop, i, j, len(split[i]))
			}
			sd.in = s.outputs
		}
	}
	merged := make([][]byte, len(outputs))
	for i, units := range split {
		if drop[i] == nil && !hasNote(units, keys[i], s, firstHere) {
			merged[i] = outputs[i]
			continue
		}
		var b []byte // nil when nothing is left
		for j, u := range units {
			if drop[i] != nil && drop[i][j] {
				continue
			}
			b = append(b, u.text...)
			if u.key == "" {
				continue
			}
			if sd := s.byKey[keys[i][j]]; firstHere[sd] && sd.actions > 1 && sd.noted == 0 {
				if !bytes.HasSuffix(u.text, []byte("\n")) {
					b = append(b, '\n')
				}
				b = fmt.Appendf(b, "[bld: the %s above was printed by %d of %s; shown once]\n", u.diags[0].severity, sd.actions, what)
				sd.noted = sd.actions
			}
		}
		merged[i] = b
	}
	return merged
}

// mark records that unit j of output i, which has n units, is left out.
func mark(drop [][]bool, i, j, n int) {
	if drop[i] == nil {
		drop[i] = make([]bool, n)
	}
	drop[i][j] = true
}

// hasNote says whether a note is due under one of units (whose digests are
// keys): a diagnostic first printed by this call that other outputs of the
// call held too.
func hasNote(units []unit, keys []diagnosticKey, s *shownDiagnostics, firstHere map[*shownDiagnostic]bool) bool {
	for j, u := range units {
		if u.key != "" {
			if sd := s.byKey[keys[j]]; firstHere[sd] && sd.actions > 1 && sd.noted == 0 {
				return true
			}
		}
	}
	return false
}

// maxRepeatedListed bounds the list of repeated diagnostics at the end of
// a build: a build with hundreds of them says how many more there were.
const maxRepeatedListed = 10

// writeRepeated writes, at the end of a build, the diagnostics that were
// printed once but held by several actions, each with the number of
// actions, in the order they were printed; those an in-place note counted
// in full are not listed again. It writes nothing when there are none.
//
//	bld: 1 diagnostic printed once, repeated by other actions:
//	  p/a.h:3:7: warning: unused variable 'x' [-Wunused-variable] (30 actions)
func (s *shownDiagnostics) writeRepeated(w io.Writer) {
	var list []*shownDiagnostic
	for _, sd := range s.repeated {
		if sd.actions > sd.noted {
			list = append(list, sd)
		}
	}
	slices.SortFunc(list, func(a, b *shownDiagnostic) int { return a.seq - b.seq })
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(w, "bld: %s printed once, repeated by other actions:\n", Plural(len(list), "diagnostic"))
	for i, sd := range list {
		if i == maxRepeatedListed {
			fmt.Fprintf(w, "  ... and %d more\n", len(list)-i)
			break
		}
		fmt.Fprintf(w, "  %s (%d actions)\n", sd.line, sd.actions)
	}
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
