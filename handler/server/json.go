package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
)

// maxJSONBody bounds JSON request bodies (profile changes are ~1 KB).
const maxJSONBody = 64 << 10

// writeJSON answers v as JSON (the security headers are already set, by
// ServeHTTP).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Status":"Rejected","error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readJSONBody checks the media type and size and returns the raw body.
func readJSONBody(r *http.Request, limit int64) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
			return nil, errEmptyBody()
		}
		return nil, domain.E(domain.KindUnsupportedMedia, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, domain.E(domain.KindInvalid, "could not read request body")
	}
	if int64(len(body)) > limit {
		return nil, domain.E(domain.KindTooLarge, "request body larger than %d bytes", limit)
	}
	return body, nil
}

// errEmptyBody answers a body route that received no body and so no
// Content-Type either (the Functions host re-adds Content-Type only with a
// body): 400, since no body is valid there, rather than a 415 that would
// contradict the Content-Type the client did send.
func errEmptyBody() error {
	return domain.E(domain.KindInvalid, "request body is empty: send the JSON body with Content-Type and Content-Length")
}

// decodeJSON strictly decodes an application/json request body into v.
func decodeJSON(r *http.Request, v any) error {
	body, err := readJSONBody(r, maxJSONBody)
	if err != nil {
		return err
	}
	return StrictUnmarshal(body, v)
}

// StrictUnmarshal decodes JSON refusing invalid UTF-8, duplicate keys,
// unknown fields, wrong types and trailing data, with a message naming the
// field at fault.
func StrictUnmarshal(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return domain.E(domain.KindInvalid, "request body is empty")
	}
	if !utf8.Valid(body) {
		return domain.E(domain.KindInvalid, "request body is not valid UTF-8")
	}
	if err := checkTokens(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return domain.E(domain.KindInvalid, "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return domain.E(domain.KindInvalid, "unexpected data after the JSON value")
	}
	return nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Sprintf("the JSON body must be %s, not %s", friendlyType(te.Type.Kind().String()), gotValue(te.Value))
		}
		return fmt.Sprintf("field %q must be %s, not %s", field, friendlyType(te.Type.Kind().String()), gotValue(te.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: unexpected end of input"
	}
	return "malformed JSON"
}

// gotValue names what encoding/json found: the number itself for a
// number ("number 1.5" → "1.5"), otherwise the JSON kind with its article.
func gotValue(v string) string {
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return n
	}
	switch v {
	case "array", "object":
		return "an " + v
	case "bool":
		return "a boolean"
	}
	return "a " + v
}

func friendlyType(kind string) string {
	switch kind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number in range"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return "a " + kind
}

// checkTokens walks the token stream and refuses what encoding/json would
// silently accept: the same key twice (also differing only in letter case,
// which encoding/json matches case-insensitively), top-level keys that are
// not exactly one of the target's field names (e.g. "FirstName"), null
// values (a field is either given or absent), and string escapes of half a
// UTF-16 surrogate pair ("\ud800"), which encoding/json turns into U+FFFD.
func checkTokens(body []byte, v any) error {
	names := fieldNames(v)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		obj   bool
		keys  map[string]bool
		next  bool   // in an object: the next string token is a key
		key   string // the key whose value comes next
		index int    // in an array: the current element
	}
	var stack []*frame
	// path names the value at depth n, e.g. firstName or items[2].name.
	path := func(n int) string {
		var b strings.Builder
		for _, f := range stack[:n] {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		return b.String()
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return domain.E(domain.KindInvalid, "%s", describeJSONError(err))
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && !top.obj {
			if d, ok := tok.(json.Delim); !ok || d == '{' || d == '[' {
				top.index++
			}
		}
		if _, ok := tok.(string); ok {
			if esc, bad := unpairedSurrogate(body[start:dec.InputOffset()]); bad {
				where := "the body"
				switch {
				case top != nil && top.obj && top.next:
					if p := path(len(stack) - 1); p != "" {
						where = fmt.Sprintf("a key in %q", p)
					} else {
						where = "a key"
					}
				case top != nil:
					where = fmt.Sprintf("field %q", path(len(stack)))
				}
				return domain.E(domain.KindInvalid, "%s holds %s, half of a UTF-16 surrogate pair: send the character itself or both halves", where, esc)
			}
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, &frame{obj: d == '{', keys: map[string]bool{}, next: true, index: -1})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].next = true
				}
			}
			continue
		}
		if top == nil || !top.obj {
			if tok == nil && top != nil {
				return domain.E(domain.KindInvalid, "null is not allowed in arrays")
			}
			continue
		}
		if top.next {
			k := tok.(string)
			lk := strings.ToLower(k)
			if top.keys[lk] {
				return domain.E(domain.KindInvalid, "duplicate key %q", k)
			}
			if len(stack) == 1 && names != nil && !names[k] {
				return domain.E(domain.KindInvalid, "unknown field %q", k)
			}
			top.keys[lk] = true
			top.key = k
			top.next = false
			continue
		}
		if tok == nil {
			return domain.E(domain.KindInvalid, "field %q must not be null (leave it out instead)", top.key)
		}
		top.next = true
	}
}

// unpairedSurrogate finds, in raw JSON text holding one string literal, a
// \u escape of a UTF-16 surrogate that is not part of a high-low pair: a
// high half (D800–DBFF) not followed by an escaped low half (DC00–DFFF),
// or a low half on its own (RFC 8259 §8.2 calls such strings unpredictable;
// encoding/json replaces them with U+FFFD). It returns the escape as written.
func unpairedSurrogate(raw []byte) (string, bool) {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character, e.g. \\ or \"
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return "", false // malformed; the decoder reports it
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo, ok := hex4(raw, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return string(raw[i : i+6]), true
		case r >= 0xDC00 && r <= 0xDFFF:
			return string(raw[i : i+6]), true
		}
		i += 5
	}
	return "", false
}

// hex4 reads the four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// fieldNames is the set of exact JSON names of a struct target (nil when v
// is not a pointer to a struct).
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	t = t.Elem()
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}
