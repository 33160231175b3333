package feel

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var vars = map[string]any{
	"amount":   5.0,
	"meal":     "chicken",
	"flag":     true,
	"off":      false,
	"nothing":  nil,
	"fields":   []any{"description", "lastName"},
	"empty":    []any{},
	"customer": map[string]any{"name": "Ann", "address": map[string]any{"city": "Oslo"}, "tier": nil},
	"people":   []any{map[string]any{"age": 30.0}, map[string]any{"name": "x"}},
	"count":    3, // a Go int, read as a number
	"tags":     []string{"a", "b"},
	"big":      1e21,
	"uni":      "\uff61",
	"astral":   "\U0001F600",
}

func TestEval(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		// literals
		{`1`, 1.0}, {`-1.5`, -1.5}, {`.5`, 0.5}, {`"a\"b\n\u00e9"`, "a\"b\né"}, {`"\ud83d\ude00"`, "\U0001F600"},
		{`true`, true}, {`null`, nil}, {`[1, "a"]`, []any{1.0, "a"}}, {`[]`, []any{}},
		// names and paths
		{`amount`, 5.0}, {`unknown`, nil}, {`customer.name`, "Ann"}, {`customer.address.city`, "Oslo"},
		{`customer.nope`, nil}, {`nothing.x`, nil}, {`unknown.x`, nil}, {`amount.x`, nil},
		{`people.age`, []any{30.0, nil}}, {`count`, 3.0}, {`(amount)`, 5.0},
		// equality
		{`meal = "chicken"`, true}, {`meal != "chicken"`, false}, {`meal = "beef"`, false},
		{`amount = 5`, true}, {`amount = 5.0`, true}, {`amount = "5"`, nil}, {`amount != "5"`, nil},
		{`nothing = null`, true}, {`unknown = null`, true}, {`amount = null`, false}, {`null != amount`, true},
		{`flag = true`, true}, {`flag = 1`, nil}, {`fields = ["description", "lastName"]`, true},
		{`fields = ["description"]`, false}, {`[1, "a"] = [1, 2]`, nil}, {`[1, "a"] = [2, 2]`, false},
		{`customer.address = customer.address`, true}, {`tags = ["a", "b"]`, true}, {`count = 3`, true},
		// ordering
		{`amount > 4`, true}, {`amount >= 5`, true}, {`amount < 5`, false}, {`amount <= 4.5`, false},
		{`"a" < "b"`, true}, {`meal > "b"`, true}, {`amount < "6"`, nil}, {`unknown > 3`, nil},
		{`flag < true`, nil}, {`nothing < 1`, nil}, {`big > 100`, true},
		{`uni < astral`, false}, // UTF-16: U+FF61 > high surrogate D83D
		{`amount between 1 and 5`, true}, {`amount between 6 and 9`, false}, {`unknown between 1 and 2`, nil},
		// logic, three-valued
		{`flag and off`, false}, {`flag and flag`, true}, {`flag and unknown`, nil}, {`off and unknown`, false},
		{`unknown and off`, false}, {`flag or unknown`, true}, {`off or unknown`, nil}, {`unknown or flag`, true},
		{`off or off`, false}, {`flag and "x"`, nil}, {`not(flag)`, false}, {`not(unknown)`, nil}, {`not("x")`, nil},
		{`not(amount > 10)`, true}, {`amount > 1 and meal = "chicken" or off`, true},
		// in
		{`amount in [1..10]`, true}, {`amount in [1..5)`, false}, {`amount in (5..10]`, false}, {`amount in ]4..6[`, true},
		{`amount in [6..10]`, false}, {`unknown in [1..10]`, nil}, {`meal in ["a".."d"]`, true},
		{`amount in (1, 5, 7)`, true}, {`amount in (1, 2)`, false}, {`amount in (< 3, > 4)`, true}, {`amount in < 3`, false},
		{`amount in (unknown, 5)`, true}, {`amount in (unknown, 6)`, false}, {`amount in (< "a", 6)`, nil}, {`amount in (< "a", 5)`, true},
		{`meal in ["chicken", "beef"]`, true}, {`meal in ["beef"]`, false}, {`meal in [1, 2]`, false},
		{`meal in "chicken"`, true}, {`"lastName" in fields`, true}, {`nothing in [null]`, true}, {`amount in >= 5`, true},
		// quantifiers
		{`some f in fields satisfies f = "lastName"`, true}, {`every f in fields satisfies f = "lastName"`, false},
		{`every f in fields satisfies not(f in ["firstName", "lastName", "maritalStatus"])`, false},
		{`every f in empty satisfies f = 1`, true}, {`some f in empty satisfies f = 1`, false},
		{`some f in unknown satisfies f = 1`, nil}, {`some f in [1, "a"] satisfies f > 0`, true},
		{`every f in [1, "a"] satisfies f > 0`, nil}, {`some p in people satisfies p.age > 18`, true},
		// is defined
		{`is defined(amount)`, true}, {`is defined(nothing)`, true}, {`is defined(unknown)`, false},
		{`is defined(customer.tier)`, true}, {`is defined(customer.nope)`, false}, {`is defined(unknown.x)`, false},
		{`not(is defined(unknown))`, true},
	}
	for _, tc := range tests {
		e, err := Compile(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := e.Eval(vars); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.src, got, tc.want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct{ src, want string }{
		{``, "unexpected end"},
		{`amount + 1`, "arithmetic"},
		{`-amount`, "arithmetic"},
		{`a * 2 > 1`, "arithmetic"}, {`x > 999999999999999999999`, "precision"}, {`amount in [[1..2]]`, "only supported on the right"},
		{`count(fields) > 1`, "only the functions"},
		{`list contains(fields, "a")`, "names with spaces"},
		{`fields[1]`, "filters"},
		{`if a then b else c`, "not supported"},
		{`for x in y return x`, "not supported"},
		{`{a: 1}`, "unexpected"},
		{`'single'`, "unsupported character"},
		{`"open`, "unterminated"},
		{`"\x"`, "unsupported escape"},
		{`"\ud83d"`, "surrogate"},
		{`1 = 1 = 1`, "chained"},
		{`a in [1..2] in [1..3]`, "chained"},
		{`x = [1..2]`, "only supported on the right of 'in'"},
		{`(1..2)`, "only supported on the right of 'in'"},
		{`0.10000000000000000001 = x`, "precision"},
		{`1e3`, "malformed number"},
		{`a instance of number`, "instance of"},
		{`some x in a, y in b satisfies x = y`, "several"},
		{`amount in [1..10`, "expected"},
		{`not(a, b)`, "one argument"},
		{`is defined`, "expected '('"},
		{`is nice(x)`, "is defined"},
		{`x.`, "expected a name"},
		{`and`, "keyword"},
		{`a.b()`, "only the functions"},
		{`1..2`, "unexpected"},
		{strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "too deeply"},
		{`date("2020-01-01") > x`, "only the functions"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v is not a *SyntaxError", tc.src, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q does not contain %q", tc.src, err, tc.want)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := Compile(`amount > 1 and meal ~ 2`)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != 20 {
		t.Fatalf("err = %v, want position 20", err)
	}
}

// FuzzEval: compiling never panics; whatever compiles evaluates to a JSON
// type without panicking, and evaluation is deterministic.
func FuzzEval(f *testing.F) {
	for _, s := range []string{`amount in [1..10]`, `meal = "chicken"`, `some f in fields satisfies f in ["a"]`,
		`is defined(customer.address.city) and not(off)`, `amount in (< 3, ]4..6[)`, `"\u00e9" < meal`, `-1.5 != x.y.z`} {
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
		a, b := e.Eval(vars), e.Eval(vars)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic: %v vs %v", a, b)
		}
		switch a.(type) {
		case nil, bool, float64, string, []any, map[string]any:
		default:
			t.Fatalf("result of type %T", a)
		}
	})
}
