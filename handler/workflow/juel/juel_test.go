package juel

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

var vars = map[string]any{
	"x":        true,
	"off":      false,
	"nothing":  nil,
	"amount":   5.0,
	"count":    3, // a Go int, read as a Double
	"s":        "chicken",
	"five":     "5",
	"blank":    "",
	"yes":      "TRUE",
	"list":     []any{"a"},
	"none":     []any{},
	"obj":      map[string]any{"name": "Ann", "inner": map[string]any{"k": 1.0}},
	"decision": "approve",
}

func TestEval(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{`${x}`, true}, {`#{x}`, true}, {` ${ x } `, true}, {`${unset}`, nil}, {`${nothing}`, nil},
		{`${decision == "approve"}`, true}, {`${decision == 'approve'}`, true}, {`${decision eq "reject"}`, false},
		{`${decision != "approve"}`, false}, {`${decision ne 'x'}`, true},
		{`${x == true}`, true}, {`${off == true}`, false}, {`${unset == true}`, false}, {`${yes == true}`, true},
		{`${unset == null}`, true}, {`${nothing == null}`, true}, {`${amount == null}`, false},
		{`${amount == 5}`, true}, {`${amount == 5.0}`, true}, {`${five == 5}`, true}, {`${count == 3}`, true},
		{`${1 == 1.0}`, true}, {`${9007199254740993 == 9007199254740992}`, false},
		{`${amount > 4}`, true}, {`${amount gt 5}`, false}, {`${amount >= 5}`, true}, {`${amount le 5}`, true},
		{`${amount < 10}`, true}, {`${amount lt -1}`, false}, {`${unset > 1}`, false}, {`${unset < 1}`, false},
		{`${unset <= nothing}`, true}, {`${unset >= nothing}`, true}, {`${unset < nothing}`, false},
		{`${five < 10}`, true}, {`${s > 'b'}`, true}, {`${s < "d"}`, true}, {`${off < x}`, true},
		{`${!x}`, false}, {`${!unset}`, true}, {`${not off}`, true}, {`${!blank}`, true}, {`${!yes}`, false},
		{`${x && off}`, false}, {`${x and x}`, true}, {`${off || x}`, true}, {`${off or unset}`, false},
		{`${off && amount}`, false}, // short circuit: amount never coerced
		{`${x || amount}`, true},
		{`${empty unset}`, true}, {`${empty blank}`, true}, {`${empty none}`, true}, {`${empty list}`, false},
		{`${empty s}`, false}, {`${not empty list}`, true}, {`${empty obj}`, false},
		{`${obj.name == "Ann"}`, true}, {`${obj['name']}`, "Ann"}, {`${obj.inner.k == 1}`, true}, {`${obj.nope}`, nil},
		{`${unset.name}`, nil}, {`${(amount > 1) && (s == "chicken")}`, true},
		{`${amount > 1 && s == "chicken" || off}`, true}, {`${x == (amount > 1)}`, true},
		{`${"abc" < "abd"}`, true}, {`${-2 < 1}`, true}, {`${1e3 == 1000}`, true}, {`${'5.5d' == 5.5}`, true},
		{`${' 7 ' == 7.0}`, true}, {`${"NaN" > 1.0}`, true}, {`${"-Infinity" < -1e308}`, true},
	}
	for _, tc := range tests {
		e, err := Compile(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := e.Eval(vars)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.src, got, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`${s == 5}`, `coerce "chicken" to Long`},
		{`${s > 5.0}`, `coerce "chicken" to Double`},
		{`${x == 1}`, "coerce a Boolean to a number"},
		{`${amount && x}`, "coerce a number to Boolean"},
		{`${!amount}`, "coerce a number to Boolean"},
		{`${list == list}`, "cannot compare a list"},
		{`${obj > 1}`, "cannot compare a object"},
		{`${s.name}`, `property "name" of a String`},
		{`${five == 5 && "0x1p3" == 8.0}`, `coerce "0x1p3" to Double`},
		{`${"1_000" < 2}`, "to Long"},
		{`${x > 1}`, "coerce a Boolean"},
	}
	for _, tc := range tests {
		e, err := Compile(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		_, err = e.Eval(vars)
		var ee *EvalError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want an EvalError containing %q", tc.src, err, tc.want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct{ src, want string }{
		{`x == true`, "expected ${"},
		{`=x`, "expected ${"},
		{`${execution.getVariable('x') == true}`, "execution is a Camunda 7 Java object"},
		{`${task.assignee}`, "task is a Camunda 7"},
		{`${authenticatedUserId == 'a'}`, "authenticatedUserId"},
		{`${list.size() > 0}`, "method calls"},
		{`${myBean.check(x)}`, "method calls"},
		{`${check(x)}`, "function calls"},
		{`${fn:length(s) > 1}`, "EL functions"},
		{`${amount + 1 > 2}`, "arithmetic"},
		{`${amount * 2 > 2}`, "arithmetic"},
		{`${amount div 2 > 2}`, "arithmetic"},
		{`${-amount}`, "negation only"},
		{`${x ? 1 : 2}`, "conditional"},
		{`${list[0]}`, "string property name"},
		{`${x}${off}`, "composite"},
		{`a${x}`, "expected ${"},
		{`${x} tail`, "composite"},
		{`${x`, "unexpected end"},
		{`${}`, "unexpected"},
		{`${'open}`, "unterminated"},
		{`${x instanceof y}`, "instanceof"},
		{`${a = 1}`, "unexpected '='"},
		{`${a b}`, "unexpected"},
		{`${99999999999999999999 > 1}`, "out of range"},
		{`${1e}`, "malformed number"},
		{`${x @ y}`, "unsupported character"},
		{"${" + strings.Repeat("(", 300) + "x" + strings.Repeat(")", 300) + "}", "too deeply"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.src)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want a SyntaxError containing %q", tc.src, err, tc.want)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true}, {"-1.5", -1.5, true}, {"1.", 1, true}, {".5", .5, true}, {"1e3", 1000, true}, {"2f", 2, true},
		{"2D", 2, true}, {" \t3\n", 3, true}, {"+4", 4, true}, {"Infinity", math.Inf(1), true}, {"1e999", math.Inf(1), true},
		{"inf", 0, false}, {"infinity", 0, false}, {"0x10", 0, false}, {"1_0", 0, false}, {".", 0, false}, {"1e", 0, false},
		{"e5", 0, false}, {"--1", 0, false}, {"1 2", 0, false}, {"ff", 0, false},
	}
	for _, tc := range tests {
		got, ok := javaDouble(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("javaDouble(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzEval: compiling never panics; a compiled expression evaluates without
// panicking, deterministically, to a JSON type or an *EvalError.
func FuzzEval(f *testing.F) {
	for _, s := range []string{`${x == true}`, `${decision == "approve"}`, `#{!unset && amount > 4}`, `${empty list or obj.name eq 'Ann'}`,
		`${five ge 5 and not off}`, `${execution.getVariable("x")}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(src) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		a, errA := e.Eval(vars)
		b, errB := e.Eval(vars)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) && !(isNaN(a) && isNaN(b)) {
			t.Fatalf("not deterministic: %v %v vs %v %v", a, errA, b, errB)
		}
		if errA != nil {
			var ee *EvalError
			if !errors.As(errA, &ee) {
				t.Fatalf("error %T", errA)
			}
			return
		}
		switch a.(type) {
		case nil, bool, float64, string, []any, map[string]any:
		default:
			t.Fatalf("result of type %T", a)
		}
	})
}

func isNaN(v any) bool { f, ok := v.(float64); return ok && math.IsNaN(f) }
