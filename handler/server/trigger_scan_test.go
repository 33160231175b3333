package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
)

// fakeScans records the events it is given and answers err.
type fakeScans struct {
	got []scan.Landed
	err error
}

func (f *fakeScans) ScanLanded(_ context.Context, ev scan.Landed) error {
	f.got = append(f.got, ev)
	return f.err
}

// The blob payload as the Functions host sends it: path tokens and Uri
// JSON-quoted in Metadata, content base64 in Data.
const scanPayload = `{"Data":{"document":"JVBERi0xLjQK"},"Metadata":{
 "uploadId":"\"0123456789abcdef0123456789abcdef\"","fileName":"\"0-deed.pdf\"",
 "Uri":"\"http://127.0.0.1:10000/devstoreaccount1/landing/0123456789abcdef0123456789abcdef/0-deed.pdf\"",
 "Properties":{"ContentLength":9},"sys":{"MethodName":"ScanAttachment"}}}`

func TestScanAttachmentTrigger(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		err     error
		status  int
		invoked bool
	}{
		{name: "scanned", body: scanPayload, status: 200, invoked: true},
		{name: "transient failure makes the host retry", body: scanPayload, err: domain.E(domain.KindTransient, "clamd down"), status: 503, invoked: true},
		{name: "permanent failure is answered 2xx", body: scanPayload, err: domain.E(domain.KindConflict, "other verdict"), status: 200, invoked: true},
		{name: "no path tokens: 2xx, nothing scanned", body: `{"Data":{},"Metadata":{"Uri":"\"x\""}}`, status: 200},
		{name: "no Uri: 2xx, nothing scanned", body: `{"Data":{},"Metadata":{"uploadId":"\"u\"","fileName":"\"f\""}}`, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.scans.err = tc.err
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/ScanAttachment", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			e.s.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := len(e.scans.got) == 1; got != tc.invoked {
				t.Fatalf("invoked = %v, want %v", e.scans.got, tc.invoked)
			}
			if tc.invoked {
				ev := e.scans.got[0]
				if ev.UploadID != "0123456789abcdef0123456789abcdef" || ev.FileName != "0-deed.pdf" || !strings.HasSuffix(ev.URI, "/landing/0123456789abcdef0123456789abcdef/0-deed.pdf") {
					t.Fatalf("event = %+v", ev)
				}
			}
		})
	}
}
