// Package feel compiles and evaluates the subset of FEEL (the Friendly
// Enough Expression Language of OMG DMN 1.3, as evaluated by Camunda 8's
// FEEL engine) that BPMN gateway conditions and task assignments use.
//
// # Subset
//
//	literals      "string" (escapes \" \\ \n \r \t \uXXXX), numbers (123, -1.5, .5),
//	              true, false, null, lists [a, b], ranges [a..b] (a..b) ]a..b[ and mixes
//	names         x, path access x.y.z (on a list: the path of every item)
//	comparison    = != < <= > >=, x between a and b
//	membership    x in [1..10], x in (1, 2, 3), x in [1, 2], x in < 10, x in "a"
//	logic         a and b, a or b, not(a), some v in list satisfies c, every v in list satisfies c
//	functions     not(x), is defined(x)
//	grouping      ( expr )
//
// Anything else (arithmetic, filters, other functions, if/for, dates,
// contexts literals, names with spaces) is a compile error naming the
// position, so a definition using it is refused at load time.
//
// # Semantics (the Camunda 8 rule: whatever cannot be evaluated is null)
//
// Values are null, boolean, number (float64), string, list ([]any) and
// context (map[string]any), the JSON data model. A variable or context
// entry that does not exist is null; only is defined() tells the two apart
// (is defined(null) is true, is defined(missing) false). Equality: null =
// null is true, null = any other value false, values of different types
// give null, numbers compare numerically, lists and contexts element by
// element. Ordering (< <= > >=) is defined for two numbers or two strings
// (UTF-16 code unit order, as Java compares strings); otherwise null.
// and/or are three-valued (false and null = false, true or null = true, a
// non-boolean operand counts as null); not() of a non-boolean is null.
// "x in list" is true when an item equals x and false otherwise; "x in
// range" compares x with the bounds (null when they are not comparable);
// "x in (t1, t2)" is the or of the tests; "x in e" for a single value e is
// x = e. some/every are the three-valued or/and over the items; on a
// non-list they give null.
//
// Number literals must be exactly representable as the shortest decimal
// of a float64 (at most about 15 significant digits), so comparisons with
// JSON numbers are exact; a literal that is not is a compile error.
package feel

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is an expression outside the supported subset. Pos is the
// byte offset in the source (0-based).
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("FEEL at offset %d: %s", e.Pos, e.Msg)
}

// Expr is a compiled expression; it is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// Compile parses src (without the leading "=" of Camunda's expression
// attributes). Errors are *SyntaxError.
func Compile(src string) (*Expr, error) {
	p := &parser{lx: lexer{src: src}}
	if err := p.next(); err != nil {
		return nil, err
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf("unexpected %s", p.tok)
	}
	return &Expr{src: src, root: n}, nil
}

// Eval evaluates the expression over vars (JSON-typed values: nil, bool,
// float64, string, []any, map[string]any; other numeric kinds are read as
// float64). The result is one of those types; it never fails.
func (e *Expr) Eval(vars map[string]any) any {
	v := e.root.eval(&env{vars: vars})
	if _, ok := v.(missing); ok {
		return nil
	}
	if _, ok := v.(rangeVal); ok {
		return nil
	}
	return v
}

// missing is a name or context entry that does not exist (null for every
// operation except is defined()).
type missing struct{}

type env struct {
	vars  map[string]any
	local map[string]any // quantifier variables
}

// ---- lexer ----

type tkind int

const (
	tEOF tkind = iota
	tName
	tNum
	tStr
	tOp // punctuation and operators
)

type token struct {
	kind tkind
	s    string // name, operator, decoded string, number text
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tStr:
		return strconv.Quote(t.s)
	}
	return "'" + t.s + "'"
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isNameStart(c):
		for l.pos < len(l.src) && isNamePart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tName, s: l.src[start:l.pos], pos: start}, nil
	case c >= '0' && c <= '9' || c == '.' && l.pos+1 < len(l.src) && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' && !(l.pos > 0 && l.src[l.pos-1] == '.'):
		for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
			l.pos++
		}
		// a fraction, but not the ".." of a range
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9' {
			l.pos++
			for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
				l.pos++
			}
		} else if c == '.' {
			l.pos++
			for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
				l.pos++
			}
		}
		if l.pos < len(l.src) && (isNameStart(l.src[l.pos]) || l.src[l.pos] == '.' && !(l.pos+1 < len(l.src) && l.src[l.pos+1] == '.')) {
			return token{}, &SyntaxError{Pos: l.pos, Msg: "malformed number"}
		}
		return token{kind: tNum, s: l.src[start:l.pos], pos: start}, nil
	case c == '"':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.src) {
				return token{}, &SyntaxError{Pos: start, Msg: "unterminated string"}
			}
			ch := l.src[l.pos]
			if ch == '"' {
				l.pos++
				return token{kind: tStr, s: b.String(), pos: start}, nil
			}
			if ch == '\\' {
				if l.pos+1 >= len(l.src) {
					return token{}, &SyntaxError{Pos: l.pos, Msg: "unterminated escape"}
				}
				e := l.src[l.pos+1]
				l.pos += 2
				switch e {
				case '"', '\\', '\'':
					b.WriteByte(e)
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'u':
					if l.pos+4 > len(l.src) {
						return token{}, &SyntaxError{Pos: l.pos, Msg: "short \\u escape"}
					}
					u, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 16)
					if err != nil {
						return token{}, &SyntaxError{Pos: l.pos, Msg: "bad \\u escape"}
					}
					l.pos += 4
					r := rune(u)
					if utf16.IsSurrogate(r) {
						if l.pos+6 <= len(l.src) && l.src[l.pos:l.pos+2] == `\u` {
							if u2, err := strconv.ParseUint(l.src[l.pos+2:l.pos+6], 16, 16); err == nil {
								if rr := utf16.DecodeRune(r, rune(u2)); rr != utf8.RuneError {
									l.pos += 6
									b.WriteRune(rr)
									continue
								}
							}
						}
						return token{}, &SyntaxError{Pos: l.pos - 6, Msg: "unpaired surrogate in \\u escape"}
					}
					b.WriteRune(r)
				default:
					return token{}, &SyntaxError{Pos: l.pos - 2, Msg: fmt.Sprintf("unsupported escape \\%c", e)}
				}
				continue
			}
			b.WriteByte(ch)
			l.pos++
		}
	}
	for _, op := range []string{"..", "<=", ">=", "!=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "-", "+", "*", "/", "{", "}", ":", "?"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, s: op, pos: start}, nil
		}
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unsupported character %q", r)}
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNamePart(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }

// ---- parser ----

type parser struct {
	lx  lexer
	tok token
	// depth bounds recursion on hostile input.
	depth int
	// allowRange lets the next primary be a range (the right of "in").
	allowRange bool
}

const maxDepth = 100

func (p *parser) next() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Pos: p.tok.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(s string) bool   { return p.tok.kind == tOp && p.tok.s == s }
func (p *parser) isWord(s string) bool { return p.tok.kind == tName && p.tok.s == s }

func (p *parser) expect(s string) error {
	if !p.isOp(s) {
		return p.errf("expected '%s', found %s", s, p.tok)
	}
	return p.next()
}

// keywords that cannot be variable names in the subset.
var keywords = map[string]bool{
	"true": true, "false": true, "null": true, "and": true, "or": true, "in": true, "some": true, "every": true,
	"satisfies": true, "between": true, "instance": true, "of": true, "if": true, "then": true, "else": true,
	"for": true, "return": true, "function": true, "not": true, "is": true,
}

func (p *parser) expr() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("expression nested too deeply")
	}
	if p.isWord("some") || p.isWord("every") {
		return p.quantified()
	}
	if p.tok.kind == tName && (p.tok.s == "if" || p.tok.s == "for" || p.tok.s == "function") {
		return nil, p.errf("'%s' expressions are not supported", p.tok.s)
	}
	return p.disjunction()
}

func (p *parser) quantified() (node, error) {
	every := p.tok.s == "every"
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tName || keywords[p.tok.s] {
		return nil, p.errf("expected a variable name, found %s", p.tok)
	}
	name := p.tok.s
	if err := p.next(); err != nil {
		return nil, err
	}
	if !p.isWord("in") {
		return nil, p.errf("expected 'in', found %s", p.tok)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	list, err := p.disjunction()
	if err != nil {
		return nil, err
	}
	if p.isOp(",") {
		return nil, p.errf("several iteration contexts are not supported")
	}
	if !p.isWord("satisfies") {
		return nil, p.errf("expected 'satisfies', found %s", p.tok)
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &quantNode{every: every, name: name, list: list, cond: cond}, nil
}

func (p *parser) disjunction() (node, error) {
	l, err := p.conjunction()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.conjunction()
		if err != nil {
			return nil, err
		}
		l = &logicNode{or: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) conjunction() (node, error) {
	l, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.comparison()
		if err != nil {
			return nil, err
		}
		l = &logicNode{l: l, r: r}
	}
	return l, nil
}

func (p *parser) comparison() (node, error) {
	l, err := p.path()
	if err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tOp && (p.tok.s == "=" || p.tok.s == "!=" || p.tok.s == "<" || p.tok.s == "<=" || p.tok.s == ">" || p.tok.s == ">="):
		op := p.tok.s
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.path()
		if err != nil {
			return nil, err
		}
		return p.noChain(&cmpNode{op: op, l: l, r: r})
	case p.isWord("between"):
		if err := p.next(); err != nil {
			return nil, err
		}
		lo, err := p.path()
		if err != nil {
			return nil, err
		}
		if !p.isWord("and") {
			return nil, p.errf("expected 'and' in between, found %s", p.tok)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		hi, err := p.path()
		if err != nil {
			return nil, err
		}
		return p.noChain(&betweenNode{x: l, lo: lo, hi: hi})
	case p.isWord("in"):
		if err := p.next(); err != nil {
			return nil, err
		}
		tests, err := p.inTarget()
		if err != nil {
			return nil, err
		}
		return p.noChain(&inNode{x: l, tests: tests})
	case p.isWord("instance"):
		return nil, p.errf("'instance of' is not supported")
	}
	if p.tok.kind == tOp && (p.tok.s == "+" || p.tok.s == "-" || p.tok.s == "*" || p.tok.s == "/") {
		return nil, p.errf("arithmetic is not supported")
	}
	return l, nil
}

// noChain refuses "a = b = c" and similar, which FEEL does not define.
func (p *parser) noChain(n node) (node, error) {
	if p.tok.kind == tOp && (p.tok.s == "=" || p.tok.s == "!=" || p.tok.s == "<" || p.tok.s == "<=" || p.tok.s == ">" || p.tok.s == ">=") ||
		p.isWord("in") || p.isWord("between") {
		return nil, p.errf("comparisons cannot be chained; use 'and'")
	}
	return n, nil
}

// inTarget parses the right side of "in": a parenthesised list of positive
// unary tests, or one unary test.
func (p *parser) inTarget() ([]unaryTest, error) {
	if p.isOp("(") {
		// "(a..b]" is a range; otherwise a list of tests.
		if err := p.next(); err != nil {
			return nil, err
		}
		first, err := p.unaryTest(true)
		if err != nil {
			return nil, err
		}
		if first.rng != nil {
			return []unaryTest{first}, nil
		}
		tests := []unaryTest{first}
		for p.isOp(",") {
			if err := p.next(); err != nil {
				return nil, err
			}
			t, err := p.unaryTest(false)
			if err != nil {
				return nil, err
			}
			tests = append(tests, t)
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return tests, nil
	}
	t, err := p.unaryTest(false)
	if err != nil {
		return nil, err
	}
	return []unaryTest{t}, nil
}

// unaryTest: "< e", "<= e", "> e", ">= e", "= e", "!= e", a range, or an
// expression (membership when it is a list, else equality). afterParen is
// set when an opening "(" was just consumed (it may start an open range).
func (p *parser) unaryTest(afterParen bool) (unaryTest, error) {
	if p.tok.kind == tOp {
		switch p.tok.s {
		case "<", "<=", ">", ">=", "=", "!=":
			op := p.tok.s
			if err := p.next(); err != nil {
				return unaryTest{}, err
			}
			e, err := p.path()
			if err != nil {
				return unaryTest{}, err
			}
			return unaryTest{op: op, e: e}, nil
		}
	}
	if afterParen {
		// "(" already consumed: either an open-start range "(a..b)" or the
		// first test of a list.
		e, err := p.path()
		if err != nil {
			return unaryTest{}, err
		}
		if p.isOp("..") {
			r, err := p.rangeRest(false, e)
			if err != nil {
				return unaryTest{}, err
			}
			return unaryTest{rng: r}, nil
		}
		return unaryTest{e: e}, nil
	}
	p.allowRange = true
	e, err := p.path()
	p.allowRange = false
	if err != nil {
		return unaryTest{}, err
	}
	return unaryTest{e: e}, nil
}

// rangeRest parses "..hi]" / "..hi)" / "..hi[" after the low endpoint.
func (p *parser) rangeRest(loClosed bool, lo node) (*rangeNode, error) {
	if err := p.expect(".."); err != nil {
		return nil, err
	}
	hi, err := p.pathOnly() // "]a..b[": the "[" closes the range
	if err != nil {
		return nil, err
	}
	r := &rangeNode{lo: lo, hi: hi, loClosed: loClosed}
	switch {
	case p.isOp("]"):
		r.hiClosed = true
	case p.isOp(")"), p.isOp("["):
	default:
		return nil, p.errf("expected ']', ')' or '[' closing the range, found %s", p.tok)
	}
	return r, p.next()
}

// path: primary ("." name)*, refusing a following filter or call.
func (p *parser) path() (node, error) {
	n, err := p.pathOnly()
	if err != nil {
		return nil, err
	}
	if p.isOp("[") {
		return nil, p.errf("filters and index access are not supported")
	}
	if p.isOp("(") {
		return nil, p.errf("only the functions not() and is defined() are supported")
	}
	return n, nil
}

func (p *parser) pathOnly() (node, error) {
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	if _, ok := n.(*rangeNode); ok {
		return n, nil
	}
	for p.isOp(".") {
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tName {
			return nil, p.errf("expected a name after '.', found %s", p.tok)
		}
		n = &pathNode{base: n, key: p.tok.s}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *parser) primary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("expression nested too deeply")
	}
	allowRange := p.allowRange
	p.allowRange = false
	t := p.tok
	switch t.kind {
	case tEOF:
		return nil, p.errf("unexpected end of expression")
	case tNum:
		v, err := number(t.s, false)
		if err != nil {
			return nil, &SyntaxError{Pos: t.pos, Msg: err.Error()}
		}
		return &litNode{v: v}, p.next()
	case tStr:
		return &litNode{v: t.s}, p.next()
	case tName:
		switch t.s {
		case "true", "false":
			return &litNode{v: t.s == "true"}, p.next()
		case "null":
			return &litNode{v: nil}, p.next()
		case "not":
			if err := p.next(); err != nil {
				return nil, err
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				return nil, p.errf("not() takes one argument")
			}
			return &notNode{e: e}, p.expect(")")
		case "is":
			if err := p.next(); err != nil {
				return nil, err
			}
			if !p.isWord("defined") {
				return nil, p.errf("expected 'is defined(', found %s", p.tok)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				return nil, p.errf("is defined() takes one argument")
			}
			return &definedNode{e: e}, p.expect(")")
		}
		if keywords[t.s] {
			return nil, p.errf("unexpected keyword '%s'", t.s)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind == tName && !keywords[p.tok.s] {
			return nil, p.errf("names with spaces and functions other than not() and is defined() are not supported ('%s %s')", t.s, p.tok.s)
		}
		return &nameNode{name: t.s}, nil
	case tOp:
		switch t.s {
		case "-":
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tNum {
				return nil, p.errf("arithmetic is not supported (negation only of a number literal)")
			}
			v, err := number(p.tok.s, true)
			if err != nil {
				return nil, &SyntaxError{Pos: p.tok.pos, Msg: err.Error()}
			}
			return &litNode{v: v}, p.next()
		case "(":
			if err := p.next(); err != nil {
				return nil, err
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp("..") {
				return nil, p.errf("a range is only supported on the right of 'in'")
			}
			return e, p.expect(")")
		case "[", "]":
			closedLo := t.s == "["
			if err := p.next(); err != nil {
				return nil, err
			}
			if closedLo && p.isOp("]") {
				return &listNode{}, p.next()
			}
			first, err := p.expr()
			if err != nil {
				return nil, err
			}
			if p.isOp("..") {
				if !allowRange {
					return nil, p.errf("a range is only supported on the right of 'in'")
				}
				return p.rangeRest(closedLo, first)
			}
			if !closedLo {
				return nil, p.errf("expected '..' in an open range, found %s", p.tok)
			}
			items := []node{first}
			for p.isOp(",") {
				if err := p.next(); err != nil {
					return nil, err
				}
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				items = append(items, e)
			}
			return &listNode{items: items}, p.expect("]")
		}
	}
	if t.kind == tOp && t.s == "." {
		return nil, p.errf("unexpected '.'")
	}
	return nil, p.errf("unexpected %s", t)
}

// number converts a literal to float64, refusing literals that the float
// would not represent exactly as their shortest decimal.
func number(s string, neg bool) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("number %s out of range", s)
	}
	lit, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("malformed number %s", s)
	}
	back, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if back == nil || lit.Cmp(back) != 0 {
		return 0, fmt.Errorf("number %s has more precision than the engine compares exactly", s)
	}
	if neg {
		f = -f
	}
	return f, nil
}
