package host

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRequestBody is the host's default inbound body limit (100 MiB,
// ScriptConstants.DefaultMaxRequestBodySize).
const maxRequestBody = 104857600

// hopHeaders are connection-specific and never copied between hops.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// serveFunction runs one HTTP-triggered invocation. Functions that are
// http-in + http-out only are forwarded (or proxied) when host.json enables
// it; all others use the JSON payload protocol.
//
// Request bodies: like the host's forwarding mode (and payload mode), a body
// is passed on only when the request has Content-Length > 0; a chunked body
// is dropped and a warning logged. In proxy mode (enableProxyingHttpRequest)
// chunked bodies are read and passed on, as YARP streams them.
func (h *Host) serveFunction(w http.ResponseWriter, r *http.Request, fn *Function, params map[string]string) {
	id := newUUID()
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	forward := (h.app.Host.ForwardHTTP || h.app.Host.ProxyHTTP) && fn.HTTPOnly()
	proxy := forward && h.app.Host.ProxyHTTP
	// The request's log fields; a logger carrying them is made only when
	// something else than the access line is logged (log.With formats
	// them up front, a cost the access line alone need not pay).
	attrs := []any{"function", fn.Name, "invocationId", id, "method", r.Method, "path", r.URL.Path}
	log := func() *slog.Logger { return h.log.With(attrs...) }
	defer func() {
		h.log.Info("http request", append(attrs, "status", sw.status, "durationMs", time.Since(start).Milliseconds(), "forwarded", forward)...)
	}()

	var body []byte
	if r.ContentLength > 0 || (proxy && r.ContentLength < 0) {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(sw, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(sw, "cannot read request body", http.StatusBadRequest)
			return
		}
	} else if r.ContentLength < 0 {
		log().Warn("chunked request body dropped (the Functions host forwards a body only with Content-Length > 0)")
	}
	if forward {
		h.forward(sw, r, id, body, proxy, log)
	} else {
		h.payloadHTTP(sw, r, fn, id, params, body, log)
	}
}

// forward passes the request to the handler at its original path and query,
// as enableForwardingHttpRequest does, and the reply straight back.
func (h *Host) forward(w http.ResponseWriter, r *http.Request, id string, body []byte, proxy bool, log func() *slog.Logger) {
	target := h.handlerURL + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	// The host copies every request header onto its forwarded request,
	// Transfer-Encoding included, but streams a body only with
	// Content-Length > 0: a chunked request reaches the handler as a
	// chunked request with an empty body.
	droppedChunked := !proxy && len(body) == 0 && r.ContentLength < 0
	if droppedChunked {
		rd = bytes.NewReader(nil)
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, rd)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	for _, k := range hopHeaders {
		out.Header.Del(k)
	}
	out.Header.Del("Content-Length")
	if len(body) == 0 {
		// The host re-adds Content-Type only on request content.
		out.Header.Del("Content-Type")
	}
	out.ContentLength = int64(len(body))
	if droppedChunked {
		out.ContentLength = -1
		out.TransferEncoding = []string{"chunked"}
	}
	out.Host = r.Host
	out.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	out.Header.Set("X-Azure-Functions-InvocationId", id)
	if proxy {
		out.Header.Set("x-ms-invocation-id", id)
	}
	ua := "Azure-Functions-Host/" + HostVersion
	if orig := r.Header.Get("User-Agent"); orig != "" {
		ua = orig + " " + ua
	}
	out.Header.Set("User-Agent", ua)

	resp, err := h.client.Do(out)
	if err != nil {
		log().Error("forward to handler failed", "error", err)
		http.Error(w, "handler unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, k := range hopHeaders {
		resp.Header.Del(k)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		log().Error("copy handler response", "error", err)
	}
}

// payloadHTTP invokes an HTTP function through the JSON payload protocol:
// Data.<trigger name> = {Url, Method, Query, Headers, Params, Identities,
// Body}, and translates Outputs.<http output name> (or ReturnValue for
// "$return") back into the HTTP response. A failed invocation gives 500.
func (h *Host) payloadHTTP(w http.ResponseWriter, r *http.Request, fn *Function, id string, params map[string]string, body []byte, log func() *slog.Logger) {
	reqObj, metadata := httpPayload(r, params, body)
	res, err := h.invoke(r.Context(), fn, id, map[string]any{fn.Trigger.Name: reqObj}, metadata)
	if err != nil {
		http.Error(w, "function invocation failed", http.StatusInternalServerError)
		return
	}
	outB, ok := fn.HTTPOutput()
	if !ok {
		log().Warn("function has no http output binding; answering 204")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	raw := res.ReturnValue
	if outB.Name != "$return" {
		raw = res.Outputs[outB.Name]
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		log().Error("handler reply has no http output", "binding", outB.Name)
		http.Error(w, "function returned no HTTP response", http.StatusInternalServerError)
		return
	}
	status, headers, respBody, err := decodeHTTPOutput(raw)
	if err != nil {
		log().Error("handler reply has a malformed http output", "binding", outB.Name, "error", err)
		http.Error(w, "function returned a malformed HTTP response", http.StatusInternalServerError)
		return
	}
	for k, v := range headers {
		w.Header()[http.CanonicalHeaderKey(k)] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(respBody)
}

// httpPayload builds Data.req and Metadata for a non-forwarded HTTP trigger,
// following HttpRequestExtensions.GetRequestAsJObject and
// GetRequestBindingData (see functions-host-protocol.md §2.3).
func httpPayload(r *http.Request, params map[string]string, body []byte) (map[string]any, map[string]any) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	query := map[string]any{}
	for k, vs := range r.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	headers := map[string]any{}
	flatHeaders := map[string]any{}
	for k, vs := range r.Header {
		headers[k] = vs
		flatHeaders[k] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["Host"] = []string{r.Host}
		flatHeaders["Host"] = r.Host
	}
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	req := map[string]any{
		"Url":        scheme + "://" + r.Host + r.URL.RequestURI(),
		"Method":     r.Method,
		"Query":      query,
		"Headers":    headers,
		"Params":     p,
		"Identities": []any{},
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if len(body) > 0 {
		if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
			req["Body"] = base64.StdEncoding.EncodeToString(body)
		} else {
			req["Body"] = string(body)
		}
	}

	md := map[string]any{}
	// JSON body properties first, then query, then route values (later wins).
	if len(body) > 0 && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			for k, v := range obj {
				if val, ok := bindingDataValue(v); ok {
					md[k] = val
				}
			}
		}
	}
	for k, v := range query {
		md[k] = quote(v.(string))
	}
	for k, v := range params {
		md[k] = quote(v)
	}
	md["Query"] = query
	md["Headers"] = flatHeaders
	return req, md
}

// bindingDataValue converts a top-level JSON body property the way the host
// does: objects stay objects, arrays and nulls are skipped, everything else
// becomes its text, JSON-quoted.
func bindingDataValue(v json.RawMessage) (any, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '{':
		var o map[string]any
		if json.Unmarshal(v, &o) != nil {
			return nil, false
		}
		return o, true
	case '[', 'n':
		return nil, false
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return quote(s), true
	default:
		return quote(string(v)), true
	}
}

// quote JSON-encodes a string, as the host does for string metadata values.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// decodeHTTPOutput reads an http output {statusCode, headers, body}; the
// keys are case-insensitive, statusCode may be a string or a number, body a
// string (sent as is) or any other JSON value (sent as JSON).
func decodeHTTPOutput(raw json.RawMessage) (int, map[string][]string, []byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, nil, nil, errors.New("http output is not a JSON object")
	}
	get := func(key string) json.RawMessage {
		for k, v := range m {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return nil
	}
	status := http.StatusOK
	if sc := get("statusCode"); len(sc) > 0 && string(sc) != "null" {
		var s string
		if json.Unmarshal(sc, &s) != nil {
			s = string(sc)
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 || n > 999 {
			return 0, nil, nil, errors.New("statusCode is not an HTTP status")
		}
		status = n
	}
	headers := map[string][]string{}
	if hs := get("headers"); len(hs) > 0 && string(hs) != "null" {
		var hm map[string]any
		if err := json.Unmarshal(hs, &hm); err != nil {
			return 0, nil, nil, errors.New("headers is not an object")
		}
		for k, v := range hm {
			switch v := v.(type) {
			case string:
				headers[k] = []string{v}
			case []any:
				for _, e := range v {
					headers[k] = append(headers[k], toText(e))
				}
			case nil:
			default:
				headers[k] = []string{toText(v)}
			}
		}
	}
	var body []byte
	if b := get("body"); len(b) > 0 && string(b) != "null" {
		var s string
		if json.Unmarshal(b, &s) == nil {
			body = []byte(s)
		} else {
			body = b
		}
	}
	return status, headers, body, nil
}

func toText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
