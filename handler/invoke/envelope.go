package invoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds an invocation body: a 25 MiB blob is ~34 MiB of base64,
// plus metadata.
const MaxBody = 48 << 20

// Request is a decoded invocation envelope. Values stay raw so each trigger
// decodes only what it needs, with the right rule (see Timer, Blob,
// ServiceBus and the Meta*/Data* accessors).
type Request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// ErrBadRequest marks a malformed invocation or value (a whole envelope that
// does not decode is answered 400 by the server; a value is the function's
// to judge).
var ErrBadRequest = errors.New("malformed invocation")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Decode reads an invocation from the host: method POST, a JSON content
// type, at most MaxBody bytes. Errors wrap ErrBadRequest.
func Decode(r *http.Request) (*Request, error) {
	return decode(r, false)
}

// DecodeMetadata is Decode for a function that reads only Metadata (the
// scan reads its blob from storage, not the copy the host sends): the Data
// values are checked to be JSON and dropped while the body is read, so a
// 25 MiB blob invocation never holds its content (see readDroppingData);
// what is kept is the rest of the envelope. Every Data value reads as
// absent.
func DecodeMetadata(r *http.Request) (*Request, error) {
	return decode(r, true)
}

func decode(r *http.Request, dropData bool) (*Request, error) {
	if r.Method != http.MethodPost {
		return nil, bad("method %s, want POST", r.Method)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "text/json") {
		return nil, bad("content type %q, want application/json", r.Header.Get("Content-Type"))
	}
	if dropData {
		if r.ContentLength > MaxBody {
			return nil, bad("body larger than %d bytes", MaxBody)
		}
		body, err := readDroppingData(r.Body, MaxBody)
		if err != nil {
			return nil, err
		}
		return decodeDropping(body)
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return DecodeBytes(body)
}

// readBody reads at most MaxBody bytes into one buffer sized from
// Content-Length when the host sends it (no doubling of a growing buffer).
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, bad("body larger than %d bytes", MaxBody)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, MaxBody+1)); err != nil {
		return nil, bad("reading body: %v", err)
	}
	if buf.Len() > MaxBody {
		return nil, bad("body larger than %d bytes", MaxBody)
	}
	return buf.Bytes(), nil
}

// dropped is a Data value decoded by being skipped (json.Unmarshal has
// checked it is well formed before calling UnmarshalJSON).
type dropped struct{}

func (*dropped) UnmarshalJSON([]byte) error { return nil }

func decodeDropping(body []byte) (*Request, error) {
	var env struct {
		Data     map[string]dropped         `json:"Data"`
		Metadata map[string]json.RawMessage `json:"Metadata"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, bad("invalid JSON: %v", err)
	}
	if env.Data == nil && env.Metadata == nil {
		return nil, bad("neither Data nor Metadata present")
	}
	if env.Metadata == nil {
		env.Metadata = map[string]json.RawMessage{}
	}
	return &Request{Data: map[string]json.RawMessage{}, Metadata: env.Metadata}, nil
}

// DecodeBytes decodes an envelope from raw JSON: one object holding Data
// and/or Metadata objects, nothing after it. Only the envelope's shape is
// checked here; the values are decoded when read.
func DecodeBytes(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, bad("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("trailing data after the envelope")
	}
	if req.Data == nil && req.Metadata == nil {
		return nil, bad("neither Data nor Metadata present")
	}
	if req.Data == nil {
		req.Data = map[string]json.RawMessage{}
	}
	if req.Metadata == nil {
		req.Metadata = map[string]json.RawMessage{}
	}
	return &req, nil
}

// Field is one value of an invocation, decoded when the function reads it:
// a value the function never reads cannot fail its invocation. The zero
// Field is an absent value.
type Field[T any] struct {
	path   string          // the value's place in the envelope, for errors
	raw    json.RawMessage // nil when absent or null
	err    error           // set when the value's container is malformed
	decode func(json.RawMessage) (T, error)
}

func newField[T any](path string, raw json.RawMessage, decode func(json.RawMessage) (T, error)) Field[T] {
	if isNull(raw) {
		raw = nil
	}
	return Field[T]{path: path, raw: raw, decode: decode}
}

// Present reports whether the value is in the envelope and not null (it may
// still fail to decode).
func (f Field[T]) Present() bool { return f.raw != nil || f.err != nil }

// Lookup decodes the value. ok is false, and err nil, when it is absent or
// null; err wraps ErrBadRequest and names the value when it does not decode.
func (f Field[T]) Lookup() (v T, ok bool, err error) {
	if f.err != nil {
		return v, true, f.err
	}
	if f.raw == nil || f.decode == nil {
		return v, false, nil
	}
	v, err = f.decode(f.raw)
	if err != nil {
		var zero T
		return zero, true, bad("%s: %v", f.path, err)
	}
	return v, true, nil
}

// Get decodes a value the function needs: absent, null and malformed values
// are errors (wrapping ErrBadRequest) that name it.
func (f Field[T]) Get() (T, error) {
	v, ok, err := f.Lookup()
	if err == nil && !ok {
		return v, bad("%s missing", f.path)
	}
	return v, err
}

// Path is the value's place in the envelope, e.g. "Metadata.DeliveryCount".
func (f Field[T]) Path() string { return f.path }

// member is the Field of key in the object at path; objErr, when set, is
// why that object could not be read, reported when the Field is.
func member[T any](path string, obj map[string]json.RawMessage, objErr error, key string, decode func(json.RawMessage) (T, error)) Field[T] {
	f := newField(path+"."+key, lookupKey(obj, key), decode)
	f.err = objErr
	return f
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// lookupKey finds key in an object, exactly or else case-insensitively (the
// host's own reader, Newtonsoft, matches names case-insensitively).
func lookupKey(m map[string]json.RawMessage, key string) json.RawMessage {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// object decodes raw as a JSON object; null and absent give an empty map.
func object(path string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if isNull(raw) {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return map[string]json.RawMessage{}, bad("%s: not a JSON object", path)
	}
	return m, nil
}

// decodeString reads a string encoded twice ("\"abc\"" → abc) or once
// ("abc"), as hosts of either age send.
func decodeString(raw json.RawMessage) (string, error) {
	var once string
	if err := json.Unmarshal(raw, &once); err != nil {
		return "", fmt.Errorf("not a string: %s", truncate(raw))
	}
	if len(once) >= 2 && once[0] == '"' && once[len(once)-1] == '"' {
		var twice string
		if err := json.Unmarshal([]byte(once), &twice); err == nil {
			return twice, nil
		}
	}
	return once, nil
}

// decodeInt reads an integer sent as a JSON number, as a string ("1", how
// the host writes ints and longs) or encoded twice ("\"1\"", a number merged
// from a JSON message body).
func decodeInt(raw json.RawMessage) (int64, error) {
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, nil
	}
	s, err := decodeString(raw)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %s", truncate(raw))
	}
	n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// decodeBool reads a JSON boolean, or one sent as a string ("true", "True").
func decodeBool(raw json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	s, err := decodeString(raw)
	if err != nil {
		return false, fmt.Errorf("not a boolean: %s", truncate(raw))
	}
	b, err = strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean", s)
	}
	return b, nil
}

// decodeTime reads a time string (encoded once or twice) with ParseTime.
func decodeTime(raw json.RawMessage) (time.Time, error) {
	s, err := decodeString(raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a time: %s", truncate(raw))
	}
	return ParseTime(s)
}

// decodeJSON returns a decoder of a plain JSON value (an object such as
// ApplicationProperties or Metadata.Metadata).
func decodeJSON[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

// timeLayouts are the forms the host writes: DateTimeOffset (RFC 3339 with
// an offset or Z, up to 7 fraction digits) and DateTime (no offset, e.g.
// "0001-01-01T00:00:00" for a timer that never ran; fraction digits are
// accepted after the seconds when parsing).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05"}

// ParseTime parses a time as the host writes it, with or without a UTC
// offset; a time without one is taken as UTC. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want e.g. 2024-06-15T12:34:56, optionally with fraction and offset)", truncate([]byte(s)))
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func (r *Request) meta(key string) json.RawMessage { return lookupKey(r.Metadata, key) }

// MetaString returns a Metadata string (double-encoded on the wire).
// ok is false when the key is absent or null.
func (r *Request) MetaString(key string) (v string, ok bool, err error) {
	return newField("Metadata."+key, r.meta(key), decodeString).Lookup()
}

// MetaInt returns a Metadata integer; the host sends ints and longs as
// strings ("1", or "\"1\"" when merged from a JSON body).
func (r *Request) MetaInt(key string) (v int64, ok bool, err error) {
	return newField("Metadata."+key, r.meta(key), decodeInt).Lookup()
}

// MetaTime returns a Metadata time. Values with an offset (EnqueuedTime)
// and without (EnqueuedTimeUtc, taken as UTC) are both accepted.
func (r *Request) MetaTime(key string) (t time.Time, ok bool, err error) {
	return newField("Metadata."+key, r.meta(key), decodeTime).Lookup()
}

// MetaObject decodes a nested Metadata object (Properties, ApplicationProperties, sys).
func (r *Request) MetaObject(key string, v any) (ok bool, err error) {
	raw := r.meta(key)
	if isNull(raw) {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, bad("Metadata.%s: %v", key, err)
	}
	return true, nil
}

// DataString returns a string trigger value (double-encoded on the wire),
// e.g. a Service Bus message body or a text blob without dataType binary.
func (r *Request) DataString(name string) (string, error) {
	return newField("Data."+name, r.Data[name], decodeString).Get()
}

// DataBytes returns binary trigger data (dataType binary): one base64 string.
func (r *Request) DataBytes(name string) ([]byte, error) {
	return newField("Data."+name, r.Data[name], decodeBase64).Get()
}

func decodeBase64(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("not a base64 string")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	return b, nil
}

// DataJSON decodes an object trigger value (the HTTP req object).
func (r *Request) DataJSON(name string, v any) error {
	raw := r.Data[name]
	if isNull(raw) {
		return bad("Data.%s missing", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return bad("Data.%s: %v", name, err)
	}
	return nil
}

// Sys is Metadata.sys.
type Sys struct {
	MethodName string    `json:"MethodName"`
	UtcNow     time.Time `json:"UtcNow"`
	RandGuid   string    `json:"RandGuid"`
}

// Response is the reply envelope.
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// Write sends a successful (2xx) reply. It never sends an empty body or
// null, which would leave the host waiting until functionTimeout.
func Write(w http.ResponseWriter, resp Response) error {
	if resp.Outputs == nil {
		resp.Outputs = map[string]any{}
	}
	if resp.Logs == nil {
		resp.Logs = []string{}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// Fail sends a non-2xx reply: the host fails the invocation and the trigger
// retries (Service Bus redelivers, blob trigger retries then poisons). Use it
// only for transient failures.
func Fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"Outputs": map[string]any{}, "Logs": []string{msg}, "ReturnValue": nil})
	_, _ = w.Write(b)
}
