package invoke

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, name string) *Request {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/F", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	r, err := Decode(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func TestBlobTriggerFixture(t *testing.T) {
	r := load(t, "blob-trigger.request.json")
	b, err := r.DataBytes("blob")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-1.7")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
		t.Fatalf("blob bytes not the PDF: %q", b[:16])
	}
	for key, want := range map[string]string{
		"requestId": "abc",
		"fileName":  "attachment1.pdf",
		"Uri":       "https://stuploadsprod.blob.core.windows.net/uploads/requests/abc/attachment1.pdf",
	} {
		got, ok, err := r.MetaString(key)
		if err != nil || !ok || got != want {
			t.Errorf("Metadata.%s = %q, %v, %v; want %q", key, got, ok, err, want)
		}
	}
	if _, ok, _ := r.MetaString("BlobTrigger"); ok {
		t.Error("BlobTrigger must not be present (host drops keys ending in trigger)")
	}
	var props struct {
		ContentLength int64
		ContentType   string
		Metadata      map[string]string
	}
	if ok, err := r.MetaObject("Properties", &props); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if props.ContentLength != 148 || props.ContentType != "application/pdf" || props.Metadata["requestid"] != "abc" {
		t.Errorf("Properties = %+v", props)
	}
	var sys Sys
	if ok, err := r.MetaObject("sys", &sys); !ok || err != nil || sys.MethodName != "ProcessUpload" || sys.UtcNow.IsZero() {
		t.Errorf("sys = %+v %v %v", sys, ok, err)
	}
}

func TestBlobTriggerStringDataTypeFixture(t *testing.T) {
	r := load(t, "blob-trigger.string-datatype.request.json")
	s, err := r.DataString("blob")
	if err != nil {
		t.Fatal(err)
	}
	if s != "id,amount\n1,9.99\n" {
		t.Fatalf("DataString = %q", s)
	}
	// The same value is not valid base64 binary.
	if _, err := r.DataBytes("blob"); err == nil {
		t.Fatal("string-typed blob decoded as base64")
	}
}

func TestServiceBusFixture(t *testing.T) {
	r := load(t, "servicebus-queue-trigger.request.json")
	body, err := r.DataString("msg")
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		RequestID string   `json:"requestId"`
		Attempt   int      `json:"attempt"`
		Tags      []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatalf("message body %q: %v", body, err)
	}
	if msg.RequestID != "abc" || msg.Attempt != 1 || len(msg.Tags) != 1 {
		t.Errorf("msg = %+v", msg)
	}
	if n, ok, err := r.MetaInt("DeliveryCount"); n != 1 || !ok || err != nil {
		t.Errorf("DeliveryCount = %d %v %v", n, ok, err)
	}
	if n, _, err := r.MetaInt("SequenceNumber"); n != 42 || err != nil {
		t.Errorf("SequenceNumber = %d %v", n, err)
	}
	if n, _, err := r.MetaInt("attempt"); n != 1 || err != nil { // merged body number: "\"1\""
		t.Errorf("attempt = %d %v", n, err)
	}
	if id, _, _ := r.MetaString("MessageId"); id != "4d2f1c9e0b8a4f6e9c3d2b1a0f9e8d7c" {
		t.Errorf("MessageId = %q", id)
	}
	want := time.Date(2024, 6, 15, 12, 34, 56, 0, time.UTC)
	for _, k := range []string{"EnqueuedTime", "EnqueuedTimeUtc"} {
		if ts, ok, err := r.MetaTime(k); !ts.Equal(want) || !ok || err != nil {
			t.Errorf("%s = %v %v %v", k, ts, ok, err)
		}
	}
	var props map[string]any
	if _, err := r.MetaObject("ApplicationProperties", &props); err != nil || props["tenant"] != "contoso" || props["priority"] != float64(5) {
		t.Errorf("ApplicationProperties = %v %v", props, err)
	}
	if _, ok, _ := r.MetaString("SessionId"); ok {
		t.Error("SessionId absent in fixture but reported present")
	}
}

func TestHTTPTriggerFixture(t *testing.T) {
	r := load(t, "http-trigger.request.json")
	var hr HTTPRequest
	if err := r.DataJSON("req", &hr); err != nil {
		t.Fatal(err)
	}
	if hr.Method != "POST" || hr.Params["requestId"] != "abc" || hr.Query["priority"] != "high" {
		t.Errorf("req = %+v", hr)
	}
	if hr.Header("content-type") != "application/json" {
		t.Errorf("header lookup case-insensitive failed: %q", hr.Header("content-type"))
	}
	body, err := hr.BodyBytes()
	if err != nil || !json.Valid(body) || !strings.Contains(string(body), `"requestId":"abc"`) {
		t.Errorf("body = %q %v", body, err)
	}
	var headers map[string]string // Metadata.Headers are comma-joined strings, not arrays
	if _, err := r.MetaObject("Headers", &headers); err != nil || headers["Accept"] != "application/json" {
		t.Errorf("Metadata.Headers = %v %v", headers, err)
	}
	if v, _, _ := r.MetaString("priority"); v != "high" {
		t.Errorf("priority = %q", v)
	}
}

func TestHTTPBodyBase64ForOctetAndMultipart(t *testing.T) {
	for _, tc := range []struct {
		ct, body, want string
		wantErr        bool
	}{
		{"application/octet-stream", "AAEC", "\x00\x01\x02", false},
		{"multipart/form-data; boundary=x", "aGk=", "hi", false},
		{"text/plain", "aGk=", "aGk=", false},
		{"application/octet-stream", "!!", "", true},
	} {
		b := tc.body
		hr := HTTPRequest{Headers: map[string][]string{"Content-Type": {tc.ct}}, Body: &b}
		got, err := hr.BodyBytes()
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("%s: %q %v", tc.ct, got, err)
		}
	}
	var nobody HTTPRequest
	if b, err := nobody.BodyBytes(); b != nil || err != nil {
		t.Error("absent body should be nil")
	}
}

// The response fixtures must round-trip through our Response type with the
// case-sensitive binding names intact.
func TestResponseFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.response.json")
	if len(files) != 4 {
		t.Fatalf("want 4 response fixtures, got %d", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var resp Response
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(resp.Outputs) == 0 || len(resp.Logs) != 1 {
			t.Errorf("%s: outputs %d logs %d", f, len(resp.Outputs), len(resp.Logs))
		}
		rec := httptest.NewRecorder()
		if err := Write(rec, resp); err != nil {
			t.Fatal(err)
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		var outs map[string]json.RawMessage
		_ = json.Unmarshal(back["Outputs"], &outs)
		for k := range resp.Outputs {
			if _, ok := outs[k]; !ok {
				t.Errorf("%s: output %q lost", f, k)
			}
		}
	}
	// The http output shape.
	b, _ := os.ReadFile("testdata/http-trigger.response.json")
	var resp struct {
		Outputs struct {
			Res HTTPOutput `json:"res"`
		}
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Outputs.Res.StatusCode != "202" || resp.Outputs.Res.Headers["Location"] != "/api/requests/abc" {
		t.Errorf("res = %+v %v", resp.Outputs.Res, err)
	}
}

func TestWriteAlwaysJSONObject(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := Write(rec, Response{}); err != nil {
		t.Fatal(err)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q: the host only reads JSON", ct)
	}
	if rec.Code != 200 || rec.Body.String() != `{"Outputs":{},"Logs":[],"ReturnValue":null}` {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	Fail(rec, 503, "cosmos unavailable")
	if rec.Code != 503 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("Fail: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, method, ct, body string
	}{
		{"wrong content type", "POST", "text/plain", `{"Data":{}}`},
		{"no content type", "POST", "", `{"Data":{}}`},
		{"GET", "GET", "application/json", `{"Data":{}}`},
		{"not JSON", "POST", "application/json", `{"Data":`},
		{"array", "POST", "application/json", `[1,2]`},
		{"empty object", "POST", "application/json", `{}`},
		{"trailing", "POST", "application/json", `{"Data":{}} {}`},
		{"Data wrong type", "POST", "application/json", `{"Data":"x"}`},
	} {
		req := httptest.NewRequest(tc.method, "/F", strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		if _, err := Decode(req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", tc.name, err)
		}
	}
}

func TestMetaValueErrors(t *testing.T) {
	r, err := DecodeBytes([]byte(`{"Metadata":{"n":"\"x\"","s":{"a":1},"t":"\"yesterday\"","nul":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.MetaInt("n"); err == nil {
		t.Error("non-integer accepted")
	}
	if _, _, err := r.MetaString("s"); err == nil {
		t.Error("object accepted as string")
	}
	if _, _, err := r.MetaTime("t"); err == nil {
		t.Error("bad time accepted")
	}
	if _, ok, err := r.MetaString("nul"); ok || err != nil {
		t.Error("null should be absent")
	}
	if _, err := r.DataBytes("x"); err == nil {
		t.Error("missing data accepted")
	}
}

func BenchmarkDecodeServiceBus(b *testing.B) {
	body, _ := os.ReadFile("testdata/servicebus-queue-trigger.request.json")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, err := DecodeBytes(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.DataString("msg"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineJSON is the same-run baseline: a plain json.Unmarshal of
// the same bytes into map[string]any.
func BenchmarkBaselineJSON(b *testing.B) {
	body, _ := os.ReadFile("testdata/servicebus-queue-trigger.request.json")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}
