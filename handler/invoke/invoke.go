// Package invoke implements the Azure Functions custom-handler wire format
// for non-forwarded invocations: the host POSTs /{FunctionName} with a
// {"Data":{…},"Metadata":{…}} envelope and expects a 2xx application/json
// reply {"Outputs":{…},"Logs":[…],"ReturnValue":…}.
//
// Encoding rules (see ../shared/reference/functions-host-protocol.md):
//   - strings and numbers in Metadata (and string trigger values in Data) are
//     JSON-encoded twice: the metadata string abc arrives as "\"abc\"", the
//     number 1 as "1";
//   - binary trigger data (dataType binary) is one base64 string;
//   - objects (Properties, ApplicationProperties, sys, timer info) are plain JSON.
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
// decodes only what it needs, with the right rule.
type Request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// ErrBadRequest marks a malformed invocation (answered 400 by the server).
var ErrBadRequest = errors.New("malformed invocation")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Decode reads an invocation from the host. The content type must be JSON.
func Decode(r *http.Request) (*Request, error) {
	if r.Method != http.MethodPost {
		return nil, bad("method %s, want POST", r.Method)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "text/json") {
		return nil, bad("content type %q, want application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, bad("reading body: %v", err)
	}
	if len(body) > MaxBody {
		return nil, bad("body larger than %d bytes", MaxBody)
	}
	return DecodeBytes(body)
}

// DecodeBytes decodes an envelope from raw JSON.
func DecodeBytes(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, bad("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the envelope")
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

// unquoteTwice decodes a double-encoded string value: "\"abc\"" → abc.
// A value encoded only once ("abc") is accepted too, as older hosts send.
func unquoteTwice(raw json.RawMessage) (string, error) {
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

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// MetaString returns a Metadata string (double-encoded on the wire).
// ok is false when the key is absent or null.
func (r *Request) MetaString(key string) (v string, ok bool, err error) {
	raw, found := r.Metadata[key]
	if !found || isNull(raw) {
		return "", false, nil
	}
	v, err = unquoteTwice(raw)
	if err != nil {
		return "", true, bad("Metadata.%s: %v", key, err)
	}
	return v, true, nil
}

// MetaInt returns a Metadata integer; the host sends ints and longs as
// strings ("1", or "\"1\"" when merged from a JSON body).
func (r *Request) MetaInt(key string) (v int64, ok bool, err error) {
	raw, found := r.Metadata[key]
	if !found || isNull(raw) {
		return 0, false, nil
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, true, nil
	}
	s, err := unquoteTwice(raw)
	if err != nil {
		return 0, true, bad("Metadata.%s: %v", key, err)
	}
	n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, bad("Metadata.%s: %q is not an integer", key, s)
	}
	return n, true, nil
}

// MetaTime returns a Metadata time. Values with an offset (EnqueuedTime)
// and without (EnqueuedTimeUtc, taken as UTC) are both accepted.
func (r *Request) MetaTime(key string) (t time.Time, ok bool, err error) {
	s, ok, err := r.MetaString(key)
	if !ok || err != nil {
		return time.Time{}, ok, err
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, true, bad("Metadata.%s: %q is not a time", key, s)
}

// MetaObject decodes a nested Metadata object (Properties, ApplicationProperties, sys).
func (r *Request) MetaObject(key string, v any) (ok bool, err error) {
	raw, found := r.Metadata[key]
	if !found || isNull(raw) {
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
	raw, found := r.Data[name]
	if !found || isNull(raw) {
		return "", bad("Data.%s missing", name)
	}
	s, err := unquoteTwice(raw)
	if err != nil {
		return "", bad("Data.%s: %v", name, err)
	}
	return s, nil
}

// DataBytes returns binary trigger data (dataType binary): one base64 string.
func (r *Request) DataBytes(name string) ([]byte, error) {
	raw, found := r.Data[name]
	if !found || isNull(raw) {
		return nil, bad("Data.%s missing", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, bad("Data.%s: not a base64 string", name)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, bad("Data.%s: invalid base64", name)
	}
	return b, nil
}

// DataJSON decodes an object trigger value (timer info, the HTTP req object).
func (r *Request) DataJSON(name string, v any) error {
	raw, found := r.Data[name]
	if !found || isNull(raw) {
		return bad("Data.%s missing", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return bad("Data.%s: %v", name, err)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// Sys is Metadata.sys.
type Sys struct {
	MethodName string    `json:"MethodName"`
	UtcNow     time.Time `json:"UtcNow"`
	RandGuid   string    `json:"RandGuid"`
}

// TimerInfo is Data.<name> of a timer trigger.
type TimerInfo struct {
	Schedule struct {
		AdjustForDST bool `json:"AdjustForDST"`
	} `json:"Schedule"`
	ScheduleStatus *struct {
		Last        time.Time `json:"Last"`
		Next        time.Time `json:"Next"`
		LastUpdated time.Time `json:"LastUpdated"`
	} `json:"ScheduleStatus"`
	IsPastDue bool `json:"IsPastDue"`
}

// HTTPRequest is Data.<req> of a non-forwarded HTTP trigger.
type HTTPRequest struct {
	URL        string              `json:"Url"`
	Method     string              `json:"Method"`
	Query      map[string]string   `json:"Query"`
	Headers    map[string][]string `json:"Headers"`
	Params     map[string]string   `json:"Params"`
	Identities []json.RawMessage   `json:"Identities"`
	Body       *string             `json:"Body"` // absent when the request had no Content-Length
}

// Header returns the first value of a header, case-insensitively.
func (h *HTTPRequest) Header(name string) string {
	for k, v := range h.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// BodyBytes returns the body; for application/octet-stream and multipart/*
// the host sends base64, any other type as a UTF-8 string.
func (h *HTTPRequest) BodyBytes() ([]byte, error) {
	if h.Body == nil {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(h.Header("Content-Type"))
	if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		b, err := base64.StdEncoding.DecodeString(*h.Body)
		if err != nil {
			return nil, bad("Data.req.Body: invalid base64 for %s", mt)
		}
		return b, nil
	}
	return []byte(*h.Body), nil
}

// Response is the reply envelope.
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPOutput is the value of an http output binding in Outputs.
type HTTPOutput struct {
	StatusCode string            `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body"`
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
