package loading

import (
	"strconv"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A declarative BUILD.star is one made only of load statements followed
// by top-level calls of rules with keyword arguments that are literals:
// strings without escapes, decimal integers, True, False, None, and lists
// and dicts of them, with comments and blank lines. Most BUILD files are
// (all of a generated workspace's, and those that load custom rules), and
// for them parsing, resolving and compiling the file into a Starlark
// program that runs once is most of loading's CPU and garbage.
//
// declarativeCalls reads such a file directly into the loads and calls it
// makes. It accepts only text that Starlark reads as the same loads and
// calls of the same values (anything else, even valid Starlark, gives ok
// false: the caller evaluates the file with Starlark, which also reports
// every error), and each call's position is the one Starlark gives it (its
// open parenthesis).
//
// A load statement, load("module", "name", local = "name", ...), is taken
// only before the first call, with string literals without escapes, at
// least one name, names that are identifiers not starting with '_', and
// local names that are identifiers (not keywords, nor True, False or None,
// which a load may rebind in Starlark) bound only once in the file; load
// receives each, in order, as to[i] = from[i] (both only valid during the
// call), and may stop the reading by returning false. rule
// returns the rule a name stands for, if it is one (the caller binds the
// loaded names, which shadow the predeclared ones as in Starlark); call
// receives each call as it is read (kwargs is only valid during the call),
// and may stop the reading by returning false.
func declarativeCalls(file *string, src []byte, load func(module string, to, from []string) bool, rule func(name string) (*Rule, bool), call func(r *Rule, pos syntax.Position, kwargs []starlark.Tuple) bool) (ok bool) {
	d := &declReader{src: src, line: 1, lineStart: 0}
	calls := false
	var bound map[string]bool // the local names of loads
	for {
		d.skipSpace(false)
		if d.i >= len(d.src) {
			return true
		}
		if d.src[d.i] == '\n' {
			d.newline()
			continue
		}
		// A statement starts at the beginning of a line (an indented one
		// is a syntax error).
		if d.i != d.lineStart {
			return false
		}
		name, ok := d.ident()
		if !ok {
			return false
		}
		if name == "load" {
			// Starlark takes a load after a call too; the reader not.
			if calls {
				return false
			}
			module, to, from, ok := d.load()
			if !ok || !d.endStatement() {
				return false
			}
			for _, n := range to {
				if n == "True" || n == "False" || n == "None" {
					return false // Starlark's literals would name the values loaded
				}
				if bound[n] {
					return false // "cannot reassign top-level": an error
				}
				if bound == nil {
					bound = map[string]bool{}
				}
				bound[n] = true
			}
			if !load(module, to, from) {
				return false
			}
			continue
		}
		calls = true
		r, ok := rule(name)
		if !ok {
			return false
		}
		d.skipSpace(false)
		if d.i >= len(d.src) || d.src[d.i] != '(' {
			return false
		}
		pos := syntax.MakePosition(file, int32(d.line), int32(d.i-d.lineStart+1))
		d.i++
		if !d.kwargs() {
			return false
		}
		if !d.endStatement() {
			return false
		}
		if !call(r, pos, d.args) {
			return false
		}
	}
}

// endStatement reads the end of a statement's line.
func (d *declReader) endStatement() bool {
	d.skipSpace(false)
	if d.i < len(d.src) {
		if d.src[d.i] != '\n' {
			return false
		}
		d.newline()
	}
	return true
}

// load reads the rest of a load statement after its keyword: ("module",
// "name", local = "name", ...) up to and including the ')'. to and from
// are the local names and the module's names, reused from load to load.
func (d *declReader) load() (module string, to, from []string, ok bool) {
	d.to, d.from = d.to[:0], d.from[:0]
	d.skipSpace(false)
	if d.i >= len(d.src) || d.src[d.i] != '(' {
		return "", nil, nil, false
	}
	d.i++
	d.skipSpace(true)
	if d.i >= len(d.src) || d.src[d.i] != '"' && d.src[d.i] != '\'' {
		return "", nil, nil, false
	}
	if module, ok = d.str(); !ok {
		return "", nil, nil, false
	}
	for {
		if !d.sep(')') {
			return "", nil, nil, false
		}
		d.skipSpace(true)
		if d.i >= len(d.src) {
			return "", nil, nil, false
		}
		var local string
		switch c := d.src[d.i]; {
		case c == ')':
			d.i++
			if len(d.to) == 0 {
				return "", nil, nil, false // a load must import a name
			}
			return module, d.to, d.from, true
		case isIdentStart(c):
			local, _ = d.ident()
			if keyword(local) {
				return "", nil, nil, false
			}
			d.skipSpace(true)
			if d.i >= len(d.src) || d.src[d.i] != '=' || d.i+1 < len(d.src) && d.src[d.i+1] == '=' {
				return "", nil, nil, false
			}
			d.i++
			d.skipSpace(true)
			if d.i >= len(d.src) || d.src[d.i] != '"' && d.src[d.i] != '\'' {
				return "", nil, nil, false
			}
		case c != '"' && c != '\'':
			return "", nil, nil, false
		}
		name, ok := d.str()
		if !ok || !isIdentifier(name) || name[0] == '_' {
			return "", nil, nil, false
		}
		if local == "" {
			local = name
		}
		d.to, d.from = append(d.to, local), append(d.from, name)
	}
}

// isIdentifier reports whether s is an identifier of the reader's (ASCII)
// and no keyword.
func isIdentifier(s string) bool {
	if s == "" || !isIdentStart(s[0]) || keyword(s) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

type declReader struct {
	// args are the keyword arguments of the call being read, pairs
	// the tuples in them: both reused from call to call.
	args  []starlark.Tuple
	pairs []starlark.Value
	names map[string]starlark.Value // keyword names, each made once
	// elems holds the elements of the lists being read (nested ones
	// after their parent's); slab is where the elements of the lists
	// read are kept, in chunks: a list's elements are one slice of a
	// chunk, not a slice grown element by element (the lists are the
	// kwargs of a rule call, which makes lists of its own of them).
	elems, slab []starlark.Value
	// lists are where the lists read are, in chunks too: one allocation
	// per chunk, not per list.
	lists     []starlark.List
	to, from  []string // of the load being read
	depth     int      // of the lists and dicts being read
	src       []byte
	i         int
	line      int
	lineStart int // offset of the current line's first byte
}

func (d *declReader) newline() {
	d.i++
	d.line++
	d.lineStart = d.i
}

// skipSpace skips blanks and comments, and newlines too inside brackets.
func (d *declReader) skipSpace(newlines bool) {
	for d.i < len(d.src) {
		switch c := d.src[d.i]; c {
		case ' ', '\t':
			d.i++
		case '#':
			for d.i < len(d.src) && d.src[d.i] != '\n' {
				d.i++
			}
		case '\n':
			if !newlines {
				return
			}
			d.newline()
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func (d *declReader) ident() (string, bool) {
	b, ok := d.identBytes()
	return string(b), ok
}

func (d *declReader) identBytes() ([]byte, bool) {
	start := d.i
	if d.i >= len(d.src) || !isIdentStart(d.src[d.i]) {
		return nil, false
	}
	for d.i < len(d.src) && isIdentByte(d.src[d.i]) {
		d.i++
	}
	return d.src[start:d.i], true
}

// kwargs reads name = value, ... up to and including the closing ')' into
// d.args.
func (d *declReader) kwargs() bool {
	d.args, d.pairs = d.args[:0], d.pairs[:0]
	for {
		d.skipSpace(true)
		if d.i >= len(d.src) {
			return false
		}
		if d.src[d.i] == ')' {
			d.i++
			// The tuples, now that pairs no longer moves.
			for i := range d.args {
				d.args[i] = d.pairs[2*i : 2*i+2 : 2*i+2]
			}
			return true
		}
		start := d.i
		if _, ok := d.identBytes(); !ok {
			return false
		}
		name, ok := d.names[string(d.src[start:d.i])]
		if !ok {
			s := string(d.src[start:d.i])
			if keyword(s) {
				return false
			}
			if d.names == nil {
				d.names = map[string]starlark.Value{}
			}
			name = starlark.String(s)
			d.names[s] = name
		}
		for i := range d.args {
			if d.pairs[2*i] == name {
				return false // a repeated keyword argument is an error
			}
		}
		d.skipSpace(true)
		if d.i >= len(d.src) || d.src[d.i] != '=' || d.i+1 < len(d.src) && d.src[d.i+1] == '=' {
			return false
		}
		d.i++
		v, ok := d.value()
		if !ok {
			return false
		}
		d.pairs = append(d.pairs, name, v)
		d.args = append(d.args, nil)
		if !d.sep(')') {
			return false
		}
	}
}

// sep reads the ',' after an element, or sees the closing bracket.
func (d *declReader) sep(close byte) bool {
	d.skipSpace(true)
	if d.i >= len(d.src) {
		return false
	}
	switch d.src[d.i] {
	case ',':
		d.i++
		return true
	case close:
		return true
	}
	return false
}

// maxDepth bounds the nesting of lists and dicts the reader takes (deeper
// ones go to Starlark): the reader recurses.
const maxDepth = 64

// value reads a literal.
func (d *declReader) value() (starlark.Value, bool) {
	if d.depth >= maxDepth {
		return nil, false
	}
	d.depth++
	defer func() { d.depth-- }()
	d.skipSpace(true)
	if d.i >= len(d.src) {
		return nil, false
	}
	switch c := d.src[d.i]; {
	case c == '"' || c == '\'':
		s, ok := d.str()
		return starlark.String(s), ok
	case c >= '0' && c <= '9':
		start := d.i
		for d.i < len(d.src) && d.src[d.i] >= '0' && d.src[d.i] <= '9' {
			d.i++
		}
		if d.i < len(d.src) && (isIdentByte(d.src[d.i]) || d.src[d.i] == '.') {
			return nil, false // 1.5, 1e3, 0x10, 10L: not ours
		}
		digits := string(d.src[start:d.i])
		if len(digits) > 1 && digits[0] == '0' {
			return nil, false // 017 is an error in Starlark
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, false
		}
		return starlark.MakeInt64(n), true
	case c == '[':
		d.i++
		start := len(d.elems)
		defer func() {
			clear(d.elems[start:])
			d.elems = d.elems[:start]
		}()
		for {
			d.skipSpace(true)
			if d.i < len(d.src) && d.src[d.i] == ']' {
				d.i++
				return d.list(d.keep(d.elems[start:])), true
			}
			v, ok := d.value()
			if !ok || !d.sep(']') {
				return nil, false
			}
			d.elems = append(d.elems, v)
		}
	case c == '{':
		d.i++
		dict := starlark.NewDict(0)
		for {
			d.skipSpace(true)
			if d.i < len(d.src) && d.src[d.i] == '}' {
				d.i++
				return dict, true
			}
			if d.i >= len(d.src) || d.src[d.i] != '"' && d.src[d.i] != '\'' {
				return nil, false
			}
			k, ok := d.str()
			if !ok {
				return nil, false
			}
			d.skipSpace(true)
			if d.i >= len(d.src) || d.src[d.i] != ':' {
				return nil, false
			}
			d.i++
			v, ok := d.value()
			if !ok || !d.sep('}') {
				return nil, false
			}
			if _, dup, _ := dict.Get(starlark.String(k)); dup {
				return nil, false // a duplicate key is an error
			}
			dict.SetKey(starlark.String(k), v)
		}
	case isIdentStart(c):
		name, _ := d.ident()
		switch name {
		case "True":
			return starlark.True, true
		case "False":
			return starlark.False, true
		case "None":
			return starlark.None, true
		}
	}
	return nil, false
}

// keep returns a copy of elems in d.slab (nil for none), with no room to
// append in place.
func (d *declReader) keep(elems []starlark.Value) []starlark.Value {
	n := len(elems)
	if n == 0 {
		return nil
	}
	if len(d.slab)+n > cap(d.slab) {
		const chunk = 256
		d.slab = make([]starlark.Value, 0, max(chunk, n))
	}
	k := len(d.slab)
	d.slab = append(d.slab, elems...)
	return d.slab[k : k+n : k+n]
}

// list returns a list of elems in d.lists.
func (d *declReader) list(elems []starlark.Value) *starlark.List {
	if len(d.lists) == cap(d.lists) {
		const chunk = 64
		d.lists = make([]starlark.List, 0, chunk)
	}
	d.lists = append(d.lists, *starlark.NewList(elems))
	return &d.lists[len(d.lists)-1]
}

// str reads a string literal without escapes, on one line: "..." or '...'.
// A literal that is not valid UTF-8 is left to Starlark, whose scanner
// reads the file as UTF-8 and gives U+FFFD for each invalid byte.
func (d *declReader) str() (string, bool) {
	q := d.src[d.i]
	if d.i+2 < len(d.src) && d.src[d.i+1] == q && d.src[d.i+2] == q {
		return "", false // a triple-quoted string
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.src); j++ {
		switch c := d.src[j]; c {
		case q:
			if !ascii && !utf8.Valid(d.src[start:j]) {
				return "", false
			}
			d.i = j + 1
			return string(d.src[start:j]), true
		case '\\', '\n', '\r':
			return "", false
		default:
			ascii = ascii && c < utf8.RuneSelf
		}
	}
	return "", false
}

// keyword reports whether name is a Starlark keyword (or reserved word),
// which cannot name an argument.
func keyword(name string) bool {
	switch name {
	case "and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda", "load", "not", "or", "pass", "return", "while",
		"as", "assert", "async", "await", "class", "del", "except", "finally", "from", "global", "import", "is", "nonlocal", "raise", "try", "with", "yield":
		return true
	}
	return false
}
