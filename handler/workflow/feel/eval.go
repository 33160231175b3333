package feel

import (
	varvalue "github.com/profileflow/profileflow/handler/workflow/internal/value"
	"math"
	"unicode/utf16"
)

type node interface {
	eval(e *env) any
}

type litNode struct{ v any }

func (n *litNode) eval(*env) any { return n.v }

type nameNode struct{ name string }

func (n *nameNode) eval(e *env) any {
	if e.local != nil {
		if v, ok := e.local[n.name]; ok {
			return v
		}
	}
	v, ok := e.vars[n.name]
	if !ok {
		return missing{}
	}
	return norm(v)
}

type pathNode struct {
	base node
	key  string
}

func (n *pathNode) eval(e *env) any { return pathOf(n.base.eval(e), n.key) }

func pathOf(b any, key string) any {
	switch x := b.(type) {
	case map[string]any:
		v, ok := x[key]
		if !ok {
			return missing{}
		}
		return norm(v)
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			v := pathOf(norm(it), key)
			if _, ok := v.(missing); ok {
				v = nil
			}
			out[i] = v
		}
		return out
	case missing:
		return missing{}
	}
	return nil
}

type listNode struct{ items []node }

func (n *listNode) eval(e *env) any {
	out := make([]any, len(n.items))
	for i, it := range n.items {
		out[i] = value(it.eval(e))
	}
	return out
}

type rangeNode struct {
	lo, hi             node
	loClosed, hiClosed bool
}

type rangeVal struct {
	lo, hi             any
	loClosed, hiClosed bool
}

func (n *rangeNode) eval(e *env) any {
	return rangeVal{lo: value(n.lo.eval(e)), hi: value(n.hi.eval(e)), loClosed: n.loClosed, hiClosed: n.hiClosed}
}

type logicNode struct {
	or   bool
	l, r node
}

func (n *logicNode) eval(e *env) any {
	lb, lok := n.l.eval(e).(bool)
	if n.or {
		if lok && lb {
			return true
		}
		rb, rok := n.r.eval(e).(bool)
		if rok && rb {
			return true
		}
		if lok && rok {
			return false
		}
		return nil
	}
	if lok && !lb {
		return false
	}
	rb, rok := n.r.eval(e).(bool)
	if rok && !rb {
		return false
	}
	if lok && rok {
		return true
	}
	return nil
}

type notNode struct{ e node }

func (n *notNode) eval(e *env) any {
	if b, ok := n.e.eval(e).(bool); ok {
		return !b
	}
	return nil
}

type definedNode struct{ e node }

func (n *definedNode) eval(e *env) any {
	_, miss := n.e.eval(e).(missing)
	return !miss
}

type cmpNode struct {
	op   string
	l, r node
}

func (n *cmpNode) eval(e *env) any {
	return compare(n.op, value(n.l.eval(e)), value(n.r.eval(e)))
}

type betweenNode struct{ x, lo, hi node }

func (n *betweenNode) eval(e *env) any {
	x := value(n.x.eval(e))
	a := compare(">=", x, value(n.lo.eval(e)))
	b := compare("<=", x, value(n.hi.eval(e)))
	return and3(a, b)
}

type unaryTest struct {
	op  string // "" for a plain expression
	e   node
	rng *rangeNode
}

type inNode struct {
	x     node
	tests []unaryTest
}

func (n *inNode) eval(e *env) any {
	x := value(n.x.eval(e))
	var res any = false
	for _, t := range n.tests {
		res = or3(res, t.test(e, x))
		if res == true {
			return true
		}
	}
	return res
}

func (t unaryTest) test(e *env, x any) any {
	if t.rng != nil {
		return inRange(x, t.rng.eval(e).(rangeVal))
	}
	v := t.e.eval(e)
	if t.op != "" {
		return compare(t.op, x, value(v))
	}
	switch c := v.(type) {
	case rangeVal:
		return inRange(x, c)
	case []any:
		for _, it := range c {
			if compare("=", x, it) == true {
				return true
			}
		}
		return false
	}
	return compare("=", x, value(v))
}

func inRange(x any, r rangeVal) any {
	lo, hi := ">", "<"
	if r.loClosed {
		lo = ">="
	}
	if r.hiClosed {
		hi = "<="
	}
	return and3(compare(lo, x, r.lo), compare(hi, x, r.hi))
}

type quantNode struct {
	every bool
	name  string
	list  node
	cond  node
}

func (n *quantNode) eval(e *env) any {
	items, ok := value(n.list.eval(e)).([]any)
	if !ok {
		return nil
	}
	local := make(map[string]any, len(e.local)+1)
	for k, v := range e.local {
		local[k] = v
	}
	inner := &env{vars: e.vars, local: local}
	var res any = n.every
	for _, it := range items {
		local[n.name] = norm(it)
		c := n.cond.eval(inner)
		if n.every {
			res = and3(res, c)
			if res == false {
				return false
			}
		} else {
			res = or3(res, c)
			if res == true {
				return true
			}
		}
	}
	return res
}

func and3(a, b any) any {
	ab, aok := a.(bool)
	bb, bok := b.(bool)
	switch {
	case aok && !ab, bok && !bb:
		return false
	case aok && bok:
		return true
	}
	return nil
}

func or3(a, b any) any {
	ab, aok := a.(bool)
	bb, bok := b.(bool)
	switch {
	case aok && ab, bok && bb:
		return true
	case aok && bok:
		return false
	}
	return nil
}

// value turns the internal "missing" into null.
func value(v any) any {
	if _, ok := v.(missing); ok {
		return nil
	}
	return v
}

// norm is varvalue.Norm.
var norm = varvalue.Norm

// compare applies a FEEL comparison operator: a boolean, or null when the
// operands are not comparable.
func compare(op string, a, b any) any {
	switch op {
	case "=":
		return equal(a, b)
	case "!=":
		eq := equal(a, b)
		if eq == nil {
			return nil
		}
		return !eq.(bool)
	}
	c, ok := order(a, b)
	if !ok {
		return nil
	}
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return nil
}

// equal is FEEL equality: true, false, or null for values of different types.
func equal(a, b any) any {
	a, b = norm(a), norm(b)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x == y
		}
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case []any:
		y, ok := b.([]any)
		if !ok {
			return nil
		}
		if len(x) != len(y) {
			return false
		}
		var res any = true
		for i := range x {
			res = and3(res, equal(x[i], y[i]))
			if res == false {
				return false
			}
		}
		return res
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return nil
		}
		if len(x) != len(y) {
			return false
		}
		var res any = true
		for k, xv := range x {
			yv, ok := y[k]
			if !ok {
				return false
			}
			res = and3(res, equal(xv, yv))
			if res == false {
				return false
			}
		}
		return res
	}
	return nil
}

// order compares two numbers or two strings.
func order(a, b any) (int, bool) {
	a, b = norm(a), norm(b)
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return compareUTF16(x, y), true
	}
	return 0, false
}

// compareUTF16 orders strings by UTF-16 code units (Java's String.compareTo).
func compareUTF16(a, b string) int {
	ascii := true
	for i := 0; i < len(a) && ascii; i++ {
		ascii = a[i] < 0x80
	}
	for i := 0; i < len(b) && ascii; i++ {
		ascii = b[i] < 0x80
	}
	if ascii {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
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
