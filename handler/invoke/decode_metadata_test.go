package invoke_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
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
