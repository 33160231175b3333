// Package juel compiles and evaluates the subset of the Unified Expression
// Language (JSR 245, EL 2.2, as evaluated by JUEL in Camunda 7) that BPMN
// gateway conditions and task assignments use.
//
// # Subset
//
//	form          the whole text is one ${expr} or #{expr}; nothing before or after
//	literals      'string' "string" (escapes \' \" \\), integers (Long), decimals (Double),
//	              true, false, null
//	names         x, property access x.y and x['y'] on objects (maps)
//	operators     == eq != ne < lt > gt <= le >= ge && and || or ! not empty, ( )
//
// Refused at compile time (so a definition using them is refused at load):
// method and function calls (execution.getVariable('x'), x.size(), fn:…),
// the Camunda context objects execution, task, authenticatedUserId and
// variableScope, arithmetic, the conditional ?:, index access x[0], and
// composite text ("a${x}").
//
// # Semantics (EL 2.2 sections 1.8 to 1.10 and 1.18)
//
// Values are null, Boolean, Long (integer literals only), Double (every
// number variable: JSON numbers), String, and lists and objects. An unset
// variable is null, like a variable set to null (Camunda 7 raises
// "Cannot resolve identifier" instead; the engine uses the one rule "unset
// is null" for both expression languages). Operators coerce their operands
// exactly as EL does: == and != compare as Double when either side is a
// number, else as Boolean when either side is a Boolean, else as String;
// null == null is true and null == anything else false. < > <= >= return
// false when either side is null (except null <= null and null >= null,
// which are true) and compare as Double, Long or String by the same
// precedence. && || ! coerce to Boolean (null and "" are false, a String
// is true when it equals "true" ignoring case). empty is true for null, ""
// and empty lists and objects. Coercing a String that is not a Java number
// to a number, or a number to Boolean, is an evaluation error, as it is an
// ELException in EL; lists and objects in any operator other than empty and
// property access are an evaluation error (Camunda 7 would compare its own
// Java types, which JSON values do not have).
package juel

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SyntaxError is an expression outside the supported subset. Pos is the
// byte offset in the source (0-based).
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("JUEL at offset %d: %s", e.Pos, e.Msg) }

// EvalError is an EL evaluation error (a coercion EL does not define).
type EvalError struct{ Msg string }

func (e *EvalError) Error() string { return "JUEL: " + e.Msg }

// Expr is a compiled expression; immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// String returns the source text.
func (e *Expr) String() string { return e.src }

// reserved names are Camunda 7's context objects, which only exist as Java
// objects inside that engine.
var reserved = map[string]bool{"execution": true, "task": true, "authenticatedUserId": true, "variableScope": true, "caseExecution": true, "connector": true}

// Compile parses src, the full attribute or element text such as
// "${amount > 10}". Errors are *SyntaxError.
func Compile(src string) (*Expr, error) {
	s := strings.TrimSpace(src)
	off := len(src) - len(strings.TrimLeft(src, " \t\r\n"))
	if len(s) < 3 || (!strings.HasPrefix(s, "${") && !strings.HasPrefix(s, "#{")) {
		return nil, &SyntaxError{Pos: off, Msg: "expected ${…} or #{…}"}
	}
	p := &parser{src: src, pos: off + 2}
	if err := p.next(); err != nil {
		return nil, err
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("}") {
		return nil, p.errf("unexpected %s", p.tok)
	}
	if rest := strings.TrimSpace(src[p.pos:]); rest != "" {
		return nil, &SyntaxError{Pos: p.pos, Msg: "composite expressions (text after the closing '}') are not supported"}
	}
	return &Expr{src: src, root: n}, nil
}

// Eval evaluates the expression over vars (JSON-typed values). Errors are
// *EvalError.
func (e *Expr) Eval(vars map[string]any) (any, error) {
	v, err := e.root.eval(vars)
	if err != nil {
		return nil, err
	}
	if l, ok := v.(long); ok {
		return float64(l), nil
	}
	return v, nil
}

// long is an integer literal (Java Long); variables are never long.
type long int64

// ---- lexer / parser ----

type tkind int

const (
	tEOF tkind = iota
	tName
	tInt
	tDec
	tStr
	tOp
)

type token struct {
	kind tkind
	s    string
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

type parser struct {
	src   string
	pos   int
	tok   token
	depth int
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Pos: p.tok.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(s string) bool { return p.tok.kind == tOp && p.tok.s == s }

var words = map[string]string{"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "and": "&&", "or": "||", "not": "!", "empty": "empty",
	"div": "/", "mod": "%", "instanceof": "instanceof"}

func (p *parser) next() error {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tEOF, pos: start}
		return nil
	}
	c := p.src[p.pos]
	switch {
	case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for p.pos < len(p.src) && (p.src[p.pos] == '_' || p.src[p.pos] == '$' || p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z' ||
			p.src[p.pos] >= 'A' && p.src[p.pos] <= 'Z' || p.src[p.pos] >= '0' && p.src[p.pos] <= '9') {
			p.pos++
		}
		w := p.src[start:p.pos]
		if op, ok := words[w]; ok {
			p.tok = token{kind: tOp, s: op, pos: start}
			return nil
		}
		p.tok = token{kind: tName, s: w, pos: start}
		return nil
	case c >= '0' && c <= '9' || c == '.' && p.pos+1 < len(p.src) && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9':
		kind := tInt
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if p.pos < len(p.src) && p.src[p.pos] == '.' {
			kind = tDec
			p.pos++
			for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
				p.pos++
			}
		}
		if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
			kind = tDec
			p.pos++
			if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
				p.pos++
			}
			d := p.pos
			for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
				p.pos++
			}
			if d == p.pos {
				return &SyntaxError{Pos: start, Msg: "malformed number"}
			}
		}
		p.tok = token{kind: kind, s: p.src[start:p.pos], pos: start}
		return nil
	case c == '\'' || c == '"':
		var b strings.Builder
		p.pos++
		for {
			if p.pos >= len(p.src) {
				return &SyntaxError{Pos: start, Msg: "unterminated string"}
			}
			ch := p.src[p.pos]
			if ch == c {
				p.pos++
				p.tok = token{kind: tStr, s: b.String(), pos: start}
				return nil
			}
			if ch == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '\'' || p.src[p.pos+1] == '"' || p.src[p.pos+1] == '\\') {
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
				continue
			}
			b.WriteByte(ch)
			p.pos++
		}
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ".", "}", "+", "-", "*", "/", "%", "?", ":", ",", "=", "{", ";"} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			p.tok = token{kind: tOp, s: op, pos: start}
			return nil
		}
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return &SyntaxError{Pos: start, Msg: fmt.Sprintf("unsupported character %q", r)}
}

// binary operator precedence (EL 1.17), low to high.
var prec = map[string]int{"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4}

const maxDepth = 100

func (p *parser) expr(minPrec int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("expression nested too deeply")
	}
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		if p.tok.kind != tOp {
			if p.tok.kind != tEOF {
				return nil, p.errf("unexpected %s", p.tok)
			}
			return l, nil
		}
		op := p.tok.s
		switch op {
		case "+", "-", "*", "/", "%":
			return nil, p.errf("arithmetic is not supported")
		case "?", ":":
			return nil, p.errf("the conditional operator ?: is not supported")
		case "instanceof":
			return nil, p.errf("instanceof is not supported")
		case "=", ";", "{", ",":
			return nil, p.errf("unexpected '%s'", op)
		}
		pr, ok := prec[op]
		if !ok || pr <= minPrec {
			return l, nil
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		r, err := p.expr(pr)
		if err != nil {
			return nil, err
		}
		switch op {
		case "&&", "||":
			l = &logicNode{or: op == "||", l: l, r: r}
		case "==", "!=":
			l = &eqNode{ne: op == "!=", l: l, r: r}
		default:
			l = &relNode{op: op, l: l, r: r}
		}
	}
}

func (p *parser) unary() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("expression nested too deeply")
	}
	if p.tok.kind == tOp {
		switch p.tok.s {
		case "!":
			if err := p.next(); err != nil {
				return nil, err
			}
			e, err := p.unary()
			if err != nil {
				return nil, err
			}
			return &notNode{e: e}, nil
		case "empty":
			if err := p.next(); err != nil {
				return nil, err
			}
			e, err := p.unary()
			if err != nil {
				return nil, err
			}
			return &emptyNode{e: e}, nil
		case "-":
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tInt && p.tok.kind != tDec {
				return nil, p.errf("arithmetic is not supported (negation only of a number literal)")
			}
			p.tok.s = "-" + p.tok.s
			return p.value()
		}
	}
	return p.value()
}

func (p *parser) value() (node, error) {
	var n node
	t := p.tok
	switch t.kind {
	case tEOF:
		return nil, p.errf("unexpected end of expression")
	case tInt:
		i, err := strconv.ParseInt(t.s, 10, 64)
		if err != nil {
			return nil, p.errf("integer %s out of range", t.s)
		}
		n = &litNode{v: long(i)}
	case tDec:
		f, err := strconv.ParseFloat(t.s, 64)
		if err != nil {
			return nil, p.errf("number %s out of range", t.s)
		}
		n = &litNode{v: f}
	case tStr:
		n = &litNode{v: t.s}
	case tName:
		switch t.s {
		case "true", "false":
			n = &litNode{v: t.s == "true"}
		case "null":
			n = &litNode{v: nil}
		default:
			if reserved[t.s] {
				return nil, p.errf("%s is a Camunda 7 Java object; use the process variable by name", t.s)
			}
			n = &nameNode{name: t.s}
		}
	case tOp:
		if t.s != "(" {
			return nil, p.errf("unexpected %s", t)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if !p.isOp(")") {
			return nil, p.errf("expected ')', found %s", p.tok)
		}
		n = e
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == tName {
		return nil, p.errf("unexpected %s", p.tok)
	}
	for {
		switch {
		case p.isOp("("):
			return nil, p.errf("method and function calls are not supported")
		case p.tok.kind == tOp && p.tok.s == ":" && isName(n):
			return nil, p.errf("EL functions (prefix:name) are not supported")
		case p.isOp("."):
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tName {
				return nil, p.errf("expected a property name after '.', found %s", p.tok)
			}
			key := p.tok.s
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.isOp("(") {
				return nil, p.errf("method calls (.%s()) are not supported", key)
			}
			n = &propNode{base: n, key: key}
		case p.isOp("["):
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.tok.kind != tStr {
				return nil, p.errf("only a string property name is supported in [ ], found %s", p.tok)
			}
			key := p.tok.s
			if err := p.next(); err != nil {
				return nil, err
			}
			if !p.isOp("]") {
				return nil, p.errf("expected ']', found %s", p.tok)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
			n = &propNode{base: n, key: key}
		default:
			return n, nil
		}
	}
}

func isName(n node) bool { _, ok := n.(*nameNode); return ok }
