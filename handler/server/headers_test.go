package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
)

// wantSecurityHeaders is the header set every answer carries.
var wantSecurityHeaders = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"Cache-Control":           "no-store",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
}

// Every answer — each route of the table at each status it gives here
// (2xx included: PATCH 200, 202 and its idempotent replay), errors,
// unknown endpoints, a panic, trigger invocations and the readiness probe —
// carries the same security headers.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	old := routes
	t.Cleanup(func() { routes = old })
	routes = append(append([]route(nil), routes...), route{Function: "Panic", Method: "GET", Pattern: "/api/v1/panic",
		Handle: func(_ *Server, w http.ResponseWriter, _ *http.Request, _ domain.Principal) error {
			w.Header().Set("ETag", `"half-done"`)
			panic("boom")
		}})
	e := newChangeServer(t)
	ts := now3339()
	tok := func() string { return e.token(t, "user-1000", "1000") }
	ctMultipart, bodyMultipart := multipartBody(t, `{"lastName":"Byron","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"marriage.pdf", "application/pdf"}})
	idem := fmt.Sprintf(`{"description":"headers","timestamp":%q}`, ts)
	var requestPath string // set by the 202 case
	type call struct {
		name, method string
		path         func() string
		ct, body     string
		hdr          func() map[string]string
		pattern      string // the route it exercises ("" for none)
		status       int
	}
	fixed := func(p string) func() string { return func() string { return p } }
	auth := func(extra ...string) func() map[string]string {
		return func() map[string]string {
			h := map[string]string{"Authorization": "Bearer user-1000"}
			for i := 0; i+1 < len(extra); i += 2 {
				h[extra[i]] = extra[i+1]
			}
			return h
		}
	}
	withMFA := func(extra ...string) func() map[string]string {
		return func() map[string]string { h := auth(extra...)(); h["X-MFA-Token"] = tok(); return h }
	}
	calls := []call{
		{"GET profile 200", "GET", fixed("/api/v1/profile/1000"), "", "", auth(), "GET /api/v1/profile/{internalID}", 200},
		{"GET profile 403", "GET", fixed("/api/v1/profile/1001"), "", "", auth(), "GET /api/v1/profile/{internalID}", 403},
		{"GET profile 401", "GET", fixed("/api/v1/profile/1000"), "", "", nil, "GET /api/v1/profile/{internalID}", 401},
		{"PATCH 200", "PATCH", fixed("/api/v1/profile/1000"), "application/json", `{"description":"plain","timestamp":"` + ts + `"}`, withMFA(), "PATCH /api/v1/profile/{internalID}", 200},
		{"PATCH 200 idempotent", "PATCH", fixed("/api/v1/profile/1000"), "application/json", idem, withMFA("Idempotency-Key", "h-1"), "PATCH /api/v1/profile/{internalID}", 200},
		{"PATCH 200 replayed", "PATCH", fixed("/api/v1/profile/1000"), "application/json", idem, auth("Idempotency-Key", "h-1", "X-MFA-Token", "spent"), "PATCH /api/v1/profile/{internalID}", 200},
		{"PATCH 202", "PATCH", fixed("/api/v1/profile/1000"), ctMultipart, bodyMultipart, withMFA(), "PATCH /api/v1/profile/{internalID}", 202},
		{"PATCH 400", "PATCH", fixed("/api/v1/profile/1000"), "application/json", `{"nickname":"x"}`, withMFA(), "PATCH /api/v1/profile/{internalID}", 400},
		{"PATCH 415", "PATCH", fixed("/api/v1/profile/1000"), "text/plain", `x`, withMFA(), "PATCH /api/v1/profile/{internalID}", 415},
		{"GET request 202", "GET", func() string { return requestPath }, "", "", auth(), "GET /api/v1/requests/{requestId}", 202},
		{"GET request 404", "GET", fixed("/api/v1/requests/nope"), "", "", auth(), "GET /api/v1/requests/{requestId}", 404},
		{"GET attachment 409 before its scan", "GET", func() string { return requestPath + "/attachments/marriage.pdf" }, "", "", auth(), "GET /api/v1/requests/{requestId}/attachments/{name}", 409},
		{"POST cancel 200", "POST", func() string { return requestPath + "/cancel" }, "", "", auth(), "POST /api/v1/requests/{requestId}/cancel", 200},
		{"POST cancel 409", "POST", func() string { return requestPath + "/cancel" }, "", "", auth(), "POST /api/v1/requests/{requestId}/cancel", 409},
		{"GET approvals 403 without the approver role", "GET", fixed("/api/v1/approvals"), "", "", auth(), "GET /api/v1/approvals", 403},
		{"POST approve 403 without the approver role", "POST", func() string { return requestPath + "/approve" }, "", "", auth(), "POST /api/v1/requests/{requestId}/approve", 403},
		{"POST reject 403 without the approver role", "POST", func() string { return requestPath + "/reject" }, "application/json", `{"comment":"no"}`, auth(), "POST /api/v1/requests/{requestId}/reject", 403},
		{"POST send-back 403 without the approver role", "POST", func() string { return requestPath + "/send-back" }, "application/json", `{"comment":"why"}`, auth(), "POST /api/v1/requests/{requestId}/send-back", 403},
		{"POST mfa challenge 400", "POST", fixed("/api/v1/mfa/challenge"), "application/json", `{}`, auth(), "POST /api/v1/mfa/challenge", 400},
		{"POST mfa verify 400", "POST", fixed("/api/v1/mfa/verify"), "application/json", `{}`, auth(), "POST /api/v1/mfa/verify", 400},
		{"POST uploads 411", "POST", fixed("/api/v1/profile/1000/uploads"), "chunked", `{}`, auth(), "POST /api/v1/profile/{internalID}/uploads", 411},
		{"POST uploads 401", "POST", fixed("/api/v1/profile/1000/uploads"), "application/json", `{}`, nil, "POST /api/v1/profile/{internalID}/uploads", 401},
		{"GET upload 401", "GET", fixed("/api/v1/profile/1000/uploads/u1"), "", "", nil, "GET /api/v1/profile/{internalID}/uploads/{uploadId}", 401},
		{"unknown endpoint 404", "GET", fixed("/api/v1/nothing"), "", "", auth(), "", 404},
		{"wrong method 404", "DELETE", fixed("/api/v1/profile/1000"), "", "", auth(), "", 404},
		{"panic 500", "GET", fixed("/api/v1/panic"), "", "", auth(), "GET /api/v1/panic", 500},
		{"readiness probe 200", "GET", fixed("/"), "", "", nil, "", 200},
		{"trigger 200", "POST", fixed("/Sweep"), "application/json", `{"Data":{"timer":{"ScheduleStatus":null}},"Metadata":{}}`, nil, "", 200},
		{"trigger 400", "POST", fixed("/Sweep"), "text/plain", `x`, nil, "", 400},
	}
	covered := map[string]bool{}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(c.body)
			req := httptest.NewRequest(c.method, c.path(), body)
			if c.ct == "chunked" {
				req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
				req.Header.Set("Content-Type", "application/json")
			} else if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			if c.hdr != nil {
				for k, v := range c.hdr() {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			e.s.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			for k, v := range wantSecurityHeaders {
				if got := rec.Header().Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if c.status == 500 && rec.Header().Get("ETag") != "" {
				t.Error("panic answer kept a header of the failed handler")
			}
			if c.status == 202 && c.method == "PATCH" {
				requestPath = rec.Header().Get("Location")
			}
			covered[c.pattern] = true
		})
	}
	for _, rt := range routes {
		if !covered[rt.Method+" "+rt.Pattern] {
			t.Errorf("route %s %s has no case in this table", rt.Method, rt.Pattern)
		}
	}
}
