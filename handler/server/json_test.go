package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
)

type surrogateTarget struct {
	FirstName   string            `json:"firstName"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags"`
	Meta        map[string]string `json:"meta"`
}

// A string escape holding half of a UTF-16 surrogate pair is refused with
// the field named (encoding/json would store U+FFFD); a complete pair is
// the character it encodes.
func TestStrictUnmarshalSurrogates(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        string // "" = accepted
		want       surrogateTarget
	}{
		{name: "lone high half", body: `{"firstName":"\ud800"}`, err: `field "firstName" holds \ud800`},
		{name: "lone low half", body: `{"description":"ok \udc00 ok"}`, err: `field "description" holds \udc00`},
		{name: "high then non-low escape", body: `{"firstName":"\ud83d\u0041"}`, err: `field "firstName" holds \ud83d`},
		{name: "high then plain text", body: `{"firstName":"\uD83Dx"}`, err: `field "firstName" holds \uD83D`},
		{name: "high at the end", body: `{"description":"x\uDBFF"}`, err: `field "description" holds \uDBFF`},
		{name: "two highs", body: `{"firstName":"\ud83d\ud83d\ude00"}`, err: `field "firstName" holds \ud83d`},
		{name: "low then high (reversed pair)", body: `{"firstName":"\ude00\ud83d"}`, err: `holds \ude00`},
		{name: "in an array element", body: `{"tags":["a","\ud800"]}`, err: `field "tags[1]" holds \ud800`},
		{name: "in a nested value", body: `{"meta":{"k":"\udfff"}}`, err: `field "meta.k" holds \udfff`},
		{name: "in a key", body: `{"meta":{"\ud800":"v"}}`, err: `a key in "meta" holds \ud800`},
		{name: "in a top-level key", body: `{"\ud800":"v"}`, err: `a key holds \ud800`},
		{name: "paired escape", body: `{"firstName":"\ud83d\ude00"}`, want: surrogateTarget{FirstName: "😀"}},
		{name: "paired, upper case hex", body: `{"firstName":"\uD83D\uDE00!"}`, want: surrogateTarget{FirstName: "😀!"}},
		{name: "escaped backslash before u", body: `{"firstName":"\\ud800"}`, want: surrogateTarget{FirstName: `\ud800`}},
		{name: "other escapes", body: `{"description":"\u00e9\n\"\u2028"}`, want: surrogateTarget{Description: "é\n\"\u2028"}},
		{name: "raw character", body: `{"firstName":"😀"}`, want: surrogateTarget{FirstName: "😀"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got surrogateTarget
			err := StrictUnmarshal([]byte(tc.body), &got)
			if tc.err != "" {
				if err == nil || domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want invalid containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got.FirstName != tc.want.FirstName || got.Description != tc.want.Description {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Through the API: a JSON PATCH and the json part of a multipart PATCH
// answer 400 naming the field; nothing is stored.
func TestPatchRefusesUnpairedSurrogate(t *testing.T) {
	e := newChangeServer(t)
	tok := e.token(t, "user-1000", "1000")
	ts := now3339()
	rec := e.patch("application/json", `{"description":"broken \ud800 text","timestamp":"`+ts+`"}`, tok, nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `field \"description\"`) {
		t.Errorf("JSON PATCH: %d %s", rec.Code, rec.Body)
	}
	ct, body := multipartBody(t, `{"firstName":"\udc00da","timestamp":"`+ts+`"}`, nil)
	rec = e.patch(ct, body, tok, nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `field \"firstName\"`) {
		t.Errorf("multipart PATCH: %d %s", rec.Code, rec.Body)
	}
	// A proper pair is accepted and stored as the character.
	rec = e.patch("application/json", `{"description":"smile \ud83d\ude00","timestamp":"`+ts+`"}`, tok, nil)
	if rec.Code != 200 {
		t.Fatalf("paired escape refused: %d %s", rec.Code, rec.Body)
	}
	p, err := e.profiles.GetProfile(t.Context(), "1000")
	if err != nil || !strings.Contains(p.Description, "smile 😀") || strings.ContainsRune(p.Description, utf8.RuneError) {
		t.Errorf("stored description %q %v", p.Description, err)
	}
}

// FuzzStrictUnmarshal: whatever the body, StrictUnmarshal answers a domain
// error or a value, and an accepted body never decodes to U+FFFD unless the
// body spelled that character out (a surrogate half never becomes one).
func FuzzStrictUnmarshal(f *testing.F) {
	for _, s := range []string{`{"firstName":"\ud800"}`, `{"firstName":"\ud83d\ude00"}`, `{"tags":["\\ud800"]}`,
		`{"meta":{"\udc00":"x"}}`, `{"description":"\ufffd"}`, `{"firstName":"a","firstName":"b"}`, `{"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v surrogateTarget
		err := StrictUnmarshal(body, &v)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid {
				t.Fatalf("error of kind %s: %v", domain.KindOf(err), err)
			}
			return
		}
		if strings.Contains(strings.ToLower(string(body)), `\ufffd`) || strings.ContainsRune(string(body), utf8.RuneError) {
			return
		}
		out, _ := json.Marshal(v)
		if strings.ContainsRune(string(out), utf8.RuneError) || strings.Contains(string(out), `\ufffd`) {
			t.Fatalf("body %q accepted as %s (a surrogate half became U+FFFD)", body, out)
		}
	})
}

func TestStrictUnmarshalTypeMessages(t *testing.T) {
	var v struct {
		Size int64  `json:"size"`
		Name string `json:"name"`
	}
	for _, tc := range []struct{ body, want string }{
		{`[1,2]`, "the JSON body must be an object, not an array"},
		{`{"size":1.5}`, `field "size" must be a whole number in range, not 1.5`},
		{`{"size":99999999999999999999999}`, `field "size" must be a whole number in range, not 99999999999999999999999`},
		{`{"name":3}`, `field "name" must be a string, not a number`},
	} {
		err := StrictUnmarshal([]byte(tc.body), &v)
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.KindInvalid || de.Msg != tc.want {
			t.Errorf("%s: %v, want invalid %q", tc.body, err, tc.want)
		}
	}
}
