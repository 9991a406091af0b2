// Package query evaluates bld query expressions over the target graph that
// loading builds (BUILD.star files only: nothing is analyzed).
//
//	expr := term { op term }          op: + union - except ^ intersect
//	term := PATTERN | "(" expr ")"
//	      | deps(expr [, depth]) | rdeps(universe, expr [, depth])
//	      | somepath(from, to) | allpaths(from, to)
//	      | kind(regex, expr) | attr(name, regex, expr)
//
// Operators associate to the left, with equal precedence (as in Bazel).
// Words are target patterns (//pkg/..., :name) or, as function arguments,
// regular expressions and names, optionally quoted with " or '.
package query

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"bld/starlark/label"
	"bld/starlark/loading"
)

// A Node is one element of a query's result: a target, or a file.
type Node struct {
	Label label.Label
	// Target is the target, nil for a source file. A file an output
	// attribute declares is its own node, with Target its declarer and
	// Output set.
	Target *loading.Target
	Output bool
}

// Kind is what --output=label_kind prints: the rule's name and "rule",
// "source file" or "generated file".
func (n *Node) Kind() string {
	switch {
	case n.Target == nil:
		return "source file"
	case n.Output:
		return "generated file"
	}
	return n.Target.Rule.Name() + " rule"
}

// An Evaluator evaluates expressions; it loads packages as it needs them.
type Evaluator struct {
	loader *loading.Loader
	dir    string // the working directory, relative to the root, for relative patterns
	nodes  map[label.Label]*Node
}

// New returns an Evaluator over loader's workspace; relative patterns are
// relative to dir (workspace-relative).
func New(loader *loading.Loader, dir string) *Evaluator {
	return &Evaluator{loader: loader, dir: dir, nodes: map[label.Label]*Node{}}
}

// A Set is a query result: nodes by label.
type Set map[label.Label]*Node

// Sorted returns the set's nodes in label order.
func (s Set) Sorted() []*Node {
	out := make([]*Node, 0, len(s))
	for _, n := range s {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return label.Less(out[i].Label, out[j].Label) })
	return out
}

// Eval parses and evaluates expr.
func (e *Evaluator) Eval(ctx context.Context, expr string) (Set, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, e: e, ctx: ctx}
	s, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("query: unexpected %q at the end of %q", p.toks[p.pos].text, expr)
	}
	return s, nil
}

// node returns the node of label l, loading its package; from is the
// target that refers to l, for errors.
func (e *Evaluator) node(ctx context.Context, l label.Label, from *loading.Target) (*Node, error) {
	if n, ok := e.nodes[l]; ok {
		return n, nil
	}
	pkg, err := e.loader.LoadPackage(ctx, l.Pkg)
	if err == nil {
		var kind loading.LabelKind
		kind, err = e.loader.Resolve(pkg, l)
		if err == nil {
			n := &Node{Label: l}
			switch kind {
			case loading.KindTarget:
				n.Target = pkg.Targets[l.Name]
			case loading.KindOutput:
				n.Target, n.Output = pkg.Outputs[l.Name], true
			}
			e.nodes[l] = n
			return n, nil
		}
	}
	if from != nil {
		return nil, fmt.Errorf("%s: %s depends on %s: %v", from.Pos, from.Label, l, err)
	}
	return nil, err
}

// deps returns the direct dependencies of n: a target's label attributes
// (and select() conditions); a generated file's declarer.
func (e *Evaluator) deps(ctx context.Context, n *Node) ([]*Node, error) {
	if n.Target == nil {
		return nil, nil
	}
	if n.Output {
		d, err := e.node(ctx, n.Target.Label, nil)
		return []*Node{d}, err
	}
	var out []*Node
	for _, l := range n.Target.Deps() {
		d, err := e.node(ctx, l, n.Target)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// closure returns roots and what they reach through deps, up to depth
// steps (negative: no bound).
func (e *Evaluator) closure(ctx context.Context, roots Set, depth int) (Set, error) {
	out := Set{}
	frontier := roots.Sorted()
	for _, n := range frontier {
		out[n.Label] = n
	}
	for d := 0; len(frontier) > 0 && (depth < 0 || d < depth); d++ {
		var next []*Node
		for _, n := range frontier {
			deps, err := e.deps(ctx, n)
			if err != nil {
				return nil, err
			}
			for _, dn := range deps {
				if _, ok := out[dn.Label]; !ok {
					out[dn.Label] = dn
					next = append(next, dn)
				}
			}
		}
		frontier = next
	}
	return out, nil
}

// reverse returns, within universe, the nodes that reach targets (depth
// steps at most; negative: no bound), targets included.
func (e *Evaluator) reverse(ctx context.Context, universe, targets Set, depth int) (Set, error) {
	rdeps := map[label.Label][]*Node{}
	for _, n := range universe.Sorted() {
		deps, err := e.deps(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			rdeps[d.Label] = append(rdeps[d.Label], n)
		}
	}
	out := Set{}
	var frontier []*Node
	for _, n := range targets.Sorted() {
		if _, ok := universe[n.Label]; ok {
			out[n.Label] = n
			frontier = append(frontier, n)
		}
	}
	for d := 0; len(frontier) > 0 && (depth < 0 || d < depth); d++ {
		var next []*Node
		for _, n := range frontier {
			for _, r := range rdeps[n.Label] {
				if _, ok := out[r.Label]; !ok {
					out[r.Label] = r
					next = append(next, r)
				}
			}
		}
		frontier = next
	}
	return out, nil
}

// somepath returns one shortest path from a node of from to a node of to
// (empty when there is none).
func (e *Evaluator) somepath(ctx context.Context, from, to Set) (Set, error) {
	prev := map[label.Label]*Node{}
	seen := map[label.Label]bool{}
	var queue []*Node
	for _, n := range from.Sorted() {
		seen[n.Label] = true
		queue = append(queue, n)
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if _, ok := to[n.Label]; ok {
			path := Set{}
			for m := n; m != nil; m = prev[m.Label] {
				path[m.Label] = m
			}
			return path, nil
		}
		deps, err := e.deps(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if !seen[d.Label] {
				seen[d.Label] = true
				prev[d.Label] = n
				queue = append(queue, d)
			}
		}
	}
	return Set{}, nil
}

// attrString is an attribute's value as attr() matches it: strings as
// they are, labels canonical, lists as "[a, b]".
func attrString(v starlark.Value) string {
	switch v := v.(type) {
	case starlark.String:
		return string(v)
	case *loading.LabelValue:
		return v.Label.String()
	case *starlark.List:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = attrString(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.String()
}

type token struct {
	text   string
	quoted bool
	pos    int
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{text: string(c), pos: i})
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("query: unterminated quote at column %d of %q", i+1, s)
			}
			toks = append(toks, token{text: s[i+1 : i+1+j], quoted: true, pos: i})
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n(),", rune(s[j])) {
				j++
			}
			toks = append(toks, token{text: s[i:j], pos: i})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
	e    *Evaluator
	ctx  context.Context
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) next() (token, error) {
	t, ok := p.peek()
	if !ok {
		return token{}, fmt.Errorf("query: the expression ends too early")
	}
	p.pos++
	return t, nil
}

func (p *parser) expect(text string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.text != text || t.quoted {
		return fmt.Errorf("query: want %q at column %d, got %q", text, t.pos+1, t.text)
	}
	return nil
}

var operators = map[string]string{"+": "union", "union": "union", "-": "except", "except": "except", "^": "intersect", "intersect": "intersect"}

func (p *parser) expr() (Set, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.quoted || operators[t.text] == "" {
			return left, nil
		}
		p.pos++
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		out := Set{}
		switch operators[t.text] {
		case "union":
			for l, n := range left {
				out[l] = n
			}
			for l, n := range right {
				out[l] = n
			}
		case "except":
			for l, n := range left {
				if _, ok := right[l]; !ok {
					out[l] = n
				}
			}
		case "intersect":
			for l, n := range left {
				if _, ok := right[l]; ok {
					out[l] = n
				}
			}
		}
		left = out
	}
}

var functions = map[string]bool{"deps": true, "rdeps": true, "somepath": true, "allpaths": true, "kind": true, "attr": true}

func (p *parser) term() (Set, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	if t.text == "(" && !t.quoted {
		s, err := p.expr()
		if err != nil {
			return nil, err
		}
		return s, p.expect(")")
	}
	if nt, ok := p.peek(); ok && nt.text == "(" && !nt.quoted && !t.quoted {
		if !functions[t.text] {
			return nil, fmt.Errorf("query: unknown function %s at column %d; bld knows deps, rdeps, somepath, allpaths, kind and attr", t.text, t.pos+1)
		}
		p.pos++
		return p.call(t.text)
	}
	return p.pattern(t)
}

// pattern evaluates a target pattern word.
func (p *parser) pattern(t token) (Set, error) {
	pat, err := label.ParsePattern(t.text, p.e.dir)
	if err != nil {
		return nil, fmt.Errorf("query: %v", err)
	}
	labels, err := p.e.loader.Expand(p.ctx, []label.Pattern{pat})
	if err != nil {
		return nil, err
	}
	out := Set{}
	for _, l := range labels {
		n, err := p.e.node(p.ctx, l, nil)
		if err != nil {
			return nil, err
		}
		out[l] = n
	}
	return out, nil
}

// word reads a word argument (a regex, a name).
func (p *parser) word() (string, error) {
	t, err := p.next()
	if err != nil {
		return "", err
	}
	if !t.quoted && (t.text == "(" || t.text == ")" || t.text == ",") {
		return "", fmt.Errorf("query: want a word at column %d, got %q", t.pos+1, t.text)
	}
	return t.text, nil
}

func (p *parser) depth() (int, error) {
	if t, ok := p.peek(); ok && t.text == "," {
		p.pos++
		w, err := p.word()
		if err != nil {
			return 0, err
		}
		d, err := strconv.Atoi(w)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("query: depth %q: want a number, 0 or more", w)
		}
		return d, nil
	}
	return -1, nil
}

func (p *parser) call(name string) (Set, error) {
	ctx, e := p.ctx, p.e
	var out Set
	var err error
	switch name {
	case "deps":
		var x Set
		if x, err = p.expr(); err != nil {
			return nil, err
		}
		d, err := p.depth()
		if err != nil {
			return nil, err
		}
		out, err = e.closure(ctx, x, d)
	case "rdeps":
		var u, x Set
		if u, err = p.expr(); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if x, err = p.expr(); err != nil {
			return nil, err
		}
		d, err := p.depth()
		if err != nil {
			return nil, err
		}
		universe, err := e.closure(ctx, u, -1)
		if err != nil {
			return nil, err
		}
		out, err = e.reverse(ctx, universe, x, d)
	case "somepath", "allpaths":
		var from, to Set
		if from, err = p.expr(); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if to, err = p.expr(); err != nil {
			return nil, err
		}
		if name == "somepath" {
			out, err = e.somepath(ctx, from, to)
		} else {
			var universe Set
			if universe, err = e.closure(ctx, from, -1); err == nil {
				out, err = e.reverse(ctx, universe, to, -1)
			}
		}
	case "kind", "attr":
		var attrName string
		if name == "attr" {
			if attrName, err = p.word(); err != nil {
				return nil, err
			}
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		pattern, err := p.word()
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("query: %s: %v", name, err)
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = Set{}
		for l, n := range x {
			if name == "kind" && re.MatchString(n.Kind()) {
				out[l] = n
			}
			if name == "attr" && n.Target != nil && !n.Output {
				if v := n.Target.Attr(attrName); v != nil && re.MatchString(attrString(v)) {
					out[l] = n
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return out, p.expect(")")
}
