package invoke_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/handler/invoke"
)

func post(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/ScanAttachment", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestDecodeMetadataDropsData(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"blob payload", `{"Data":{"document":"JVBERi0="},"Metadata":{"uploadId":"\"u1\"","Uri":"\"http://x/landing/u1/0-a.pdf\""}}`, true},
		{"metadata only", `{"Metadata":{"uploadId":"\"u1\""}}`, true},
		{"malformed data value", `{"Data":{"document":JVBER},"Metadata":{}}`, false},
		{"truncated", `{"Data":{"document":"JVBER`, false},
		{"empty object", `{}`, false},
		{"Data spelled in lower case", `{"data":{"document":"JVBERi0="},"Metadata":{"uploadId":"\"u1\""}}`, true},
		{"Data after Metadata", `{"Metadata":{"uploadId":"\"u1\""},"Data":{"document":"JVBERi0="}}`, true},
		{"control character in a Data string", "{\"Data\":{\"document\":\"JV\x01\"},\"Metadata\":{}}", false},
		{"bad escape in a Data string", `{"Data":{"document":"\x"},"Metadata":{}}`, false},
		{"bad unicode escape in a Data string", `{"Data":{"document":"\u12G4"},"Metadata":{}}`, false},
		{"trailing data", `{"Data":{"document":"JVBERi0="},"Metadata":{}} {}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := invoke.DecodeMetadata(post(tc.body))
			if !tc.ok {
				if err == nil {
					t.Fatalf("decoded %+v; want an error", req)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(req.Data) != 0 {
				t.Errorf("Data kept: %v", req.Data)
			}
			if strings.Contains(tc.body, "uploadId") {
				if v, err := req.Blob("document").Token("uploadId").Get(); err != nil || v != "u1" {
					t.Errorf("uploadId = %q, %v", v, err)
				}
			}
			if _, ok, _ := req.Blob("document").Content.Lookup(); ok {
				t.Error("content readable after DecodeMetadata")
			}
		})
	}
}

// Only the top-level Data member is dropped: a member named Data inside
// Metadata, and strings that merely read "Data", are kept.
func TestDecodeMetadataKeepsNestedData(t *testing.T) {
	req, err := invoke.DecodeMetadata(post(`{"Data":{"document":"JVBERi0="},"Metadata":{"Data":"\"kept\"","uploadId":"\"Data\"","sys":{"Data":"x"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := req.MetaString("Data"); !ok || err != nil || v != "kept" {
		t.Errorf("Metadata.Data = %q, %v, %v", v, ok, err)
	}
	if v, _, _ := req.MetaString("uploadId"); v != "Data" {
		t.Errorf("Metadata.uploadId = %q", v)
	}
	var sys map[string]string
	if ok, err := req.MetaObject("sys", &sys); !ok || err != nil || sys["Data"] != "x" {
		t.Errorf("Metadata.sys = %v, %v, %v", sys, ok, err)
	}
}

// A body over MaxBody is refused also when it comes without a
// Content-Length (read as a stream).
func TestDecodeMetadataRefusesOversizeStream(t *testing.T) {
	body := io.MultiReader(strings.NewReader(`{"Data":{"document":"`), io.LimitReader(repeatA{}, invoke.MaxBody), strings.NewReader(`"},"Metadata":{}}`))
	r := httptest.NewRequest(http.MethodPost, "/ScanAttachment", body)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1
	if req, err := invoke.DecodeMetadata(r); err == nil || !errors.Is(err, invoke.ErrBadRequest) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("decoded %v, %v; want a bad request naming the size", req, err)
	}
}

type repeatA struct{}

func (repeatA) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

// DecodeMetadata of a 25 MiB blob invocation (≈ 34 MiB of base64)
// allocates under 1 MiB: the content is never held.
func TestDecodeMetadataHoldsNoContent(t *testing.T) {
	content := base64.StdEncoding.EncodeToString(make([]byte, 25<<20))
	body := `{"Data":{"document":"` + content + `"},"Metadata":{"uploadId":"\"u1\"","fileName":"\"0-a.pdf\""}}`
	r := post(body)
	r.ContentLength = int64(len(body))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, err := invoke.DecodeMetadata(r)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := req.MetaString("fileName"); v != "0-a.pdf" {
		t.Errorf("fileName = %q", v)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("decoding allocated %d bytes; want under 1 MiB", n)
	}
}

// BenchmarkDecodeBlobInvocation compares the bytes allocated to decode a
// 25 MiB blob invocation (≈ 34 MiB of base64) keeping Data (Decode) and
// dropping it (DecodeMetadata); see the B/op column.
func BenchmarkDecodeBlobInvocation(b *testing.B) {
	content := base64.StdEncoding.EncodeToString(make([]byte, 25<<20))
	body := `{"Data":{"document":"` + content + `"},"Metadata":{"uploadId":"\"u1\"","fileName":"\"0-a.pdf\""}}`
	for _, c := range []struct {
		name   string
		decode func(*http.Request) (*invoke.Request, error)
	}{{"Decode", invoke.Decode}, {"DecodeMetadata", invoke.DecodeMetadata}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := post(body)
				r.ContentLength = int64(len(body))
				if _, err := c.decode(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
