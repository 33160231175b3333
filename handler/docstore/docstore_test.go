package docstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

func TestRelabel(t *testing.T) {
	cause := errors.New("429 from the gateway")
	base := domain.Wrap(domain.KindTransient, cause, "the database is busy; retry later")
	base.RetryAfter = 100 * time.Millisecond
	msgs := map[domain.Kind]string{domain.KindTransient: "profiles are unavailable; retry later"}
	got := Relabel(base, msgs)
	var de *domain.Error
	if !errors.As(got, &de) || de.Kind != domain.KindTransient || de.Msg != msgs[domain.KindTransient] || de.RetryAfter != 100*time.Millisecond {
		t.Fatalf("Relabel = %#v", got)
	}
	if !errors.Is(got, cause) {
		t.Error("cause lost")
	}
	if base.Msg != "the database is busy; retry later" {
		t.Error("Relabel changed its argument")
	}
	inv := domain.E(domain.KindInvalid, "bad")
	if Relabel(inv, msgs) != error(inv) {
		t.Error("kind without a label must pass unchanged")
	}
	if Relabel(nil, msgs) != nil {
		t.Error("Relabel(nil) != nil")
	}
}

func TestCheckID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"1000", true}, {"a-b_c.d", true}, {"", false}, {"a/b", false}, {`a\b`, false},
		{"a?b", false}, {"a#b", false}, {" a", false}, {"a ", false},
		{"a b~!", true}, {"Müller", false}, {"a\tb", false}, {"a\x7fb", false},
		{strings.Repeat("x", MaxIDBytes), true}, {strings.Repeat("x", MaxIDBytes+1), false},
	} {
		if err := CheckID(tt.id); (err == nil) != tt.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		} else if err != nil && !domain.Is(err, domain.KindInvalid) {
			t.Errorf("CheckID(%q) kind = %v", tt.id, domain.KindOf(err))
		}
	}
}

func TestQueryCheck(t *testing.T) {
	when := time.Date(2026, 11, 30, 17, 30, 0, 0, time.UTC)
	ok := Query{Where: []Cond{Where("a.b_c", Ge, 3), Where("s", Eq, "x"), Where("t", Lt, when), Where("n", Eq, nil), Where("f", Eq, false)}, Select: []string{"id"}, Limit: 2}
	vals, err := ok.Check()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{float64(3), "x", "2026-11-30T17:30:00Z", nil, false}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("value %d = %#v, want %#v", i, vals[i], want[i])
		}
	}
	for name, q := range map[string]Query{
		"negative limit":    {Limit: -1},
		"field with quote":  {Where: []Cond{Where(`a"]`, Eq, 1)}},
		"empty field":       {Where: []Cond{Where("", Eq, 1)}},
		"field with space":  {Where: []Cond{Where("a b", Eq, 1)}},
		"unknown operator":  {Where: []Cond{Where("a", "!=", 1)}},
		"object value":      {Where: []Cond{Where("a", Eq, map[string]int{"x": 1})}},
		"array value":       {Where: []Cond{Where("a", Eq, []int{1})}},
		"null with <":       {Where: []Cond{Where("a", Lt, nil)}},
		"bool with >=":      {Where: []Cond{Where("a", Ge, true)}},
		"unencodable value": {Where: []Cond{Where("a", Eq, func() {})}},
		"nested select":     {Select: []string{"a.b"}},
	} {
		if _, err := q.Check(); !domain.Is(err, domain.KindInvalid) {
			t.Errorf("%s: err = %v, want KindInvalid", name, err)
		}
	}
}

func TestEncode(t *testing.T) {
	type doc struct {
		ID string `json:"id"`
		S  string `json:"s"`
	}
	if b, err := Encode("a", doc{ID: "a", S: "x"}); err != nil || string(b) != `{"id":"a","s":"x"}` {
		t.Fatalf("Encode = %s, %v", b, err)
	}
	// The id need not be the first member.
	if b, err := Encode("a", map[string]string{"a": "1", "id": "a"}); err != nil || string(b) != `{"a":"1","id":"a"}` {
		t.Fatalf("Encode (id not first) = %s, %v", b, err)
	}
	for name, tc := range map[string]struct {
		id   string
		v    any
		kind domain.Kind
	}{
		"id mismatch": {"a", doc{ID: "b"}, domain.KindInternal},
		"no id":       {"a", map[string]int{"n": 1}, domain.KindInternal},
		"not object":  {"a", []string{"a"}, domain.KindInternal},
		"unencodable": {"a", func() {}, domain.KindInternal},
		"invalid id":  {"a/b", doc{ID: "a/b"}, domain.KindInvalid},
		"too large":   {"a", doc{ID: "a", S: strings.Repeat("x", MaxDocBytes)}, domain.KindInvalid},
		"numeric id":  {"1", map[string]int{"id": 1}, domain.KindInternal},
		"id longer":   {"a", doc{ID: "ab"}, domain.KindInternal},
		"id escaped":  {"a", doc{ID: `a"`}, domain.KindInternal},
	} {
		if _, err := Encode(tc.id, tc.v); !domain.Is(err, tc.kind) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.kind)
		}
	}
	var v struct{ N int }
	if err := Decode([]byte(`{"N":"x"}`), &v); !domain.Is(err, domain.KindInternal) {
		t.Errorf("Decode malformed: %v", err)
	}
}
