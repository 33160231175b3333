package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// HostVersion is the Functions host version the development host claims in
// X-Azure-Functions-HostVersion and User-Agent.
const HostVersion = "4.1037.0"

// maxReplyBytes caps how much of a handler's invocation reply is read.
const maxReplyBytes = 256 << 20

// InvokeResult is the handler's decoded reply to a payload invocation. Keys
// of Outputs are binding names, case-sensitive as the host treats them.
type InvokeResult struct {
	InvocationID string
	Outputs      map[string]json.RawMessage
	Logs         []string
	ReturnValue  json.RawMessage
}

// InvocationError is a failed invocation: the handler answered non-2xx, with
// a content type other than JSON, or a body that is not a JSON object.
// Trigger sources treat it as a failure (retry, abandon, poison …).
type InvocationError struct {
	Function     string
	InvocationID string
	Status       int    // HTTP status of the handler's reply (0 if none)
	Reason       string // what was wrong
}

func (e *InvocationError) Error() string {
	return fmt.Sprintf("invocation %s of %s failed: %s", e.InvocationID, e.Function, e.Reason)
}

// Invoke POSTs {"Data": data, "Metadata": metadata} to the handler at
// /{FunctionName}, as the host does for non-forwarded invocations, and decodes
// the {Outputs, Logs, ReturnValue} reply. Metadata gets "sys"
// ({MethodName, UtcNow, RandGuid}) unless it already has one. Values in data
// and metadata are sent as given: callers apply the host's encoding rules
// (JSON-quoted strings, base64 bytes) themselves. The handler's Logs are
// logged at Info. A non-2xx reply, a non-JSON content type or an empty/null
// body gives an *InvocationError.
func (h *Host) Invoke(ctx context.Context, function string, data, metadata map[string]any) (*InvokeResult, error) {
	fn := h.app.Function(function)
	if fn == nil {
		return nil, fmt.Errorf("invoke: no function %q", function)
	}
	id := newUUID()
	return h.invoke(ctx, fn, id, data, metadata)
}

func (h *Host) invoke(ctx context.Context, fn *Function, id string, data, metadata map[string]any) (*InvokeResult, error) {
	if data == nil {
		data = map[string]any{}
	}
	md := make(map[string]any, len(metadata)+1)
	for k, v := range metadata {
		md[k] = v
	}
	if _, ok := md["sys"]; !ok {
		md["sys"] = map[string]any{
			"MethodName": fn.Name,
			"UtcNow":     time.Now().UTC().Format(dotnetUTCTime),
			"RandGuid":   newUUID(),
		}
	}
	body, err := json.Marshal(map[string]any{"Data": data, "Metadata": md})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: encode payload: %w", fn.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.handlerURL+"/"+fn.Name, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	req.Header.Set("X-Azure-Functions-InvocationId", id)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+HostVersion)

	log := h.log.With("function", fn.Name, "invocationId", id, "trigger", fn.Trigger.Type)
	start := time.Now()
	fail := func(status int, format string, args ...any) (*InvokeResult, error) {
		err := &InvocationError{Function: fn.Name, InvocationID: id, Status: status, Reason: fmt.Sprintf(format, args...)}
		log.Error("invocation failed", "status", status, "error", err.Reason, "durationMs", time.Since(start).Milliseconds())
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fail(0, "handler unreachable: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return fail(resp.StatusCode, "read reply: %v", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(resp.StatusCode, "handler answered %s: %s", resp.Status, snippet(raw))
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && mt != "text/json") {
		return fail(resp.StatusCode, "reply Content-Type %q is not application/json (the host cannot read it)", resp.Header.Get("Content-Type"))
	}
	var out struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue json.RawMessage
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return fail(resp.StatusCode, "empty or null reply body (the host would wait until functionTimeout)")
	}
	if err := json.Unmarshal(trimmed, &out); err != nil {
		return fail(resp.StatusCode, "reply is not a {Outputs, Logs, ReturnValue} object: %v", err)
	}
	for _, l := range out.Logs {
		log.Info("function log", "message", l)
	}
	log.Info("invocation succeeded", "status", resp.StatusCode, "durationMs", time.Since(start).Milliseconds())
	return &InvokeResult{InvocationID: id, Outputs: out.Outputs, Logs: out.Logs, ReturnValue: out.ReturnValue}, nil
}

func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
