package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// decodeObject parses a JSON object, reporting syntax errors with line and
// column.
func decodeObject(file string, data []byte) (map[string]any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM, as .NET accepts
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)}
		}
		return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON: %v", err)}
	}
	if dec.More() {
		line, col := lineCol(data, dec.InputOffset())
		return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: data after the top-level value", line, col)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ConfigError{File: file, Msg: "must be a JSON object"}
	}
	return m, nil
}

func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col = 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// lookup finds key in m: exact match first, then case-insensitive (the host
// binds host.json and function.json case-insensitively).
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// obj is a JSON object with its location, for field-naming errors.
type obj struct {
	file, path string
	m          map[string]any
}

func (o obj) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o obj) errf(key, format string, args ...any) error {
	return &ConfigError{File: o.file, Field: o.field(key), Msg: fmt.Sprintf(format, args...)}
}

func (o obj) strPresent(key string) (string, bool, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", true, o.errf(key, "must be a string")
	}
	return s, true, nil
}

// str returns a string field; required means present and non-blank.
func (o obj) str(key string, required bool) (string, error) {
	s, _, err := o.strPresent(key)
	if err != nil {
		return "", err
	}
	if required && strings.TrimSpace(s) == "" {
		return "", o.errf(key, "required")
	}
	return s, nil
}

func (o obj) boolean(key string) (val, present bool, err error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, true, o.errf(key, "must be true or false")
	}
	return b, true, nil
}

func (o obj) object(key string, required bool) (obj, bool, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		if required {
			return obj{}, false, o.errf(key, "required")
		}
		return obj{}, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return obj{}, false, o.errf(key, "must be an object")
	}
	return obj{file: o.file, path: o.field(key), m: m}, true, nil
}

func (o obj) strings(key string) ([]string, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, o.errf(key, "must be an array of strings")
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, o.errf(fmt.Sprintf("%s[%d]", key, i), "must be a string")
		}
		out = append(out, s)
	}
	return out, nil
}
