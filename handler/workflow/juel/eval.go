package juel

import (
	"fmt"
	varvalue "github.com/profileflow/profileflow/handler/workflow/internal/value"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
)

type node interface {
	eval(vars map[string]any) (any, error)
}

type litNode struct{ v any }

func (n *litNode) eval(map[string]any) (any, error) { return n.v, nil }

type nameNode struct{ name string }

func (n *nameNode) eval(vars map[string]any) (any, error) { return norm(vars[n.name]), nil }

type propNode struct {
	base node
	key  string
}

func (n *propNode) eval(vars map[string]any) (any, error) {
	b, err := n.base.eval(vars)
	if err != nil {
		return nil, err
	}
	switch x := b.(type) {
	case nil:
		return nil, nil // EL: a null base gives null
	case map[string]any:
		return norm(x[n.key]), nil
	}
	return nil, &EvalError{Msg: fmt.Sprintf("property %q of a %s", n.key, typeName(b))}
}

type logicNode struct {
	or   bool
	l, r node
}

func (n *logicNode) eval(vars map[string]any) (any, error) {
	l, err := n.l.eval(vars)
	if err != nil {
		return nil, err
	}
	lb, err := toBool(l)
	if err != nil {
		return nil, err
	}
	if n.or == lb { // true || …, false && …
		return lb, nil
	}
	r, err := n.r.eval(vars)
	if err != nil {
		return nil, err
	}
	return toBool(r)
}

type notNode struct{ e node }

func (n *notNode) eval(vars map[string]any) (any, error) {
	v, err := n.e.eval(vars)
	if err != nil {
		return nil, err
	}
	b, err := toBool(v)
	return !b, err
}

type emptyNode struct{ e node }

func (n *emptyNode) eval(vars map[string]any) (any, error) {
	v, err := n.e.eval(vars)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return true, nil
	case string:
		return x == "", nil
	case []any:
		return len(x) == 0, nil
	case map[string]any:
		return len(x) == 0, nil
	}
	return false, nil
}

type eqNode struct {
	ne   bool
	l, r node
}

func (n *eqNode) eval(vars map[string]any) (any, error) {
	a, b, err := both(vars, n.l, n.r)
	if err != nil {
		return nil, err
	}
	eq, err := equal(a, b)
	return eq != n.ne, err
}

type relNode struct {
	op   string
	l, r node
}

func (n *relNode) eval(vars map[string]any) (any, error) {
	a, b, err := both(vars, n.l, n.r)
	if err != nil {
		return nil, err
	}
	if a == nil && b == nil {
		return n.op == "<=" || n.op == ">=", nil
	}
	if a == nil || b == nil {
		return false, nil
	}
	c, err := cmp(a, b)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

func both(vars map[string]any, l, r node) (any, any, error) {
	a, err := l.eval(vars)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.eval(vars)
	return a, b, err
}

func isDouble(v any) bool { _, ok := v.(float64); return ok }
func isLong(v any) bool   { _, ok := v.(long); return ok }
func isBool(v any) bool   { _, ok := v.(bool); return ok }
func isString(v any) bool { _, ok := v.(string); return ok }

// equal is EL 1.8.2 (A == B).
func equal(a, b any) (bool, error) {
	if a == nil || b == nil {
		return a == nil && b == nil, nil
	}
	if err := scalar(a, b); err != nil {
		return false, err
	}
	switch {
	case isDouble(a) || isDouble(b):
		x, err := toDouble(a)
		if err != nil {
			return false, err
		}
		y, err := toDouble(b)
		return x == y, err
	case isLong(a) || isLong(b):
		x, err := toLong(a)
		if err != nil {
			return false, err
		}
		y, err := toLong(b)
		return x == y, err
	case isBool(a) || isBool(b):
		x, err := toBool(a)
		if err != nil {
			return false, err
		}
		y, err := toBool(b)
		return x == y, err
	}
	return a.(string) == b.(string), nil
}

// cmp is EL 1.8.1 for non-null operands.
func cmp(a, b any) (int, error) {
	if err := scalar(a, b); err != nil {
		return 0, err
	}
	switch {
	case isDouble(a) || isDouble(b):
		x, err := toDouble(a)
		if err != nil {
			return 0, err
		}
		y, err := toDouble(b)
		if err != nil {
			return 0, err
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		case x == y:
			return 0, nil
		}
		// NaN: Double.compareTo orders NaN above everything.
		return compareNaN(x, y), nil
	case isLong(a) || isLong(b):
		x, err := toLong(a)
		if err != nil {
			return 0, err
		}
		y, err := toLong(b)
		if err != nil {
			return 0, err
		}
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	case isString(a) || isString(b):
		x, err := toString(a)
		if err != nil {
			return 0, err
		}
		y, err := toString(b)
		if err != nil {
			return 0, err
		}
		return compareUTF16(x, y), nil
	}
	// two Booleans: Boolean.compareTo (false < true)
	x, y := a.(bool), b.(bool)
	switch {
	case x == y:
		return 0, nil
	case !x:
		return -1, nil
	}
	return 1, nil
}

func compareNaN(x, y float64) int {
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	}
	return -1
}

// scalar refuses lists and objects, whose Java types JSON does not carry.
func scalar(vs ...any) error {
	for _, v := range vs {
		switch v.(type) {
		case []any, map[string]any:
			return &EvalError{Msg: fmt.Sprintf("cannot compare a %s (use FEEL for lists and objects)", typeName(v))}
		}
	}
	return nil
}

// toBool is EL 1.18.5.
func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		return strings.EqualFold(x, "true"), nil
	}
	return false, &EvalError{Msg: fmt.Sprintf("cannot coerce a %s to Boolean", typeName(v))}
}

// toDouble is EL 1.18.3 for Double.
func toDouble(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return x, nil
	case long:
		return float64(x), nil
	case string:
		if x == "" {
			return 0, nil
		}
		f, ok := javaDouble(x)
		if !ok {
			return 0, &EvalError{Msg: fmt.Sprintf("cannot coerce %q to Double", x)}
		}
		return f, nil
	}
	return 0, &EvalError{Msg: fmt.Sprintf("cannot coerce a %s to a number", typeName(v))}
}

// toLong is EL 1.18.3 for Long.
func toLong(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case long:
		return int64(x), nil
	case string:
		if x == "" {
			return 0, nil
		}
		// Long.valueOf: optional sign and decimal digits only.
		s := x
		if strings.HasPrefix(s, "+") && len(s) > 1 && s[1] != '-' && s[1] != '+' {
			s = s[1:]
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || strings.ContainsAny(s, "_") {
			return 0, &EvalError{Msg: fmt.Sprintf("cannot coerce %q to Long", x)}
		}
		return i, nil
	}
	return 0, &EvalError{Msg: fmt.Sprintf("cannot coerce a %s to a number", typeName(v))}
}

// toString is EL 1.18.2 for the scalar types.
func toString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case long:
		return strconv.FormatInt(int64(x), 10), nil
	}
	return "", &EvalError{Msg: fmt.Sprintf("cannot coerce a %s to String", typeName(v))}
}

// javaDouble parses s as java.lang.Double.valueOf does for decimal input:
// surrounding characters <= U+0020 trimmed, optional sign, digits with an
// optional fraction and exponent, an optional f/F/d/D suffix, or NaN /
// Infinity. Hexadecimal floating literals are not accepted (Java accepts
// them; the engine reports them as not a number, a documented difference
// that only ever concerns a string variable such as "0x1p3").
func javaDouble(s string) (float64, bool) {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if s == "" {
		return 0, false
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	switch body {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if n := len(body); n > 0 && strings.IndexByte("fFdD", body[n-1]) >= 0 {
		body = body[:n-1]
		s = s[:len(s)-1]
	}
	digits, i := 0, 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
		digits++
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		d := i
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
		}
		if d == i {
			return 0, false
		}
	}
	if i != len(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// out of range: Java gives ±Infinity or 0, as ParseFloat's value does
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "Boolean"
	case float64, long:
		return "number"
	case string:
		return "String"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// norm is varvalue.Norm.
var norm = varvalue.Norm

// compareUTF16 orders strings by UTF-16 code units (String.compareTo).
func compareUTF16(a, b string) int {
	x, y := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(x) < len(y):
		return -1
	case len(x) > len(y):
		return 1
	}
	return 0
}
