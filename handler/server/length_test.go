package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var wildcard = regexp.MustCompile(`\{[^}]+\}`)

// examplePath fills a route pattern's wildcards.
func examplePath(pattern string) string { return wildcard.ReplaceAllString(pattern, "1000") }

// bodyRoutes are the routes of the routing table whose method carries a body.
func bodyRoutes(t *testing.T) []route {
	var out []route
	for _, rt := range routes {
		if rt.Method == "POST" || rt.Method == "PATCH" || rt.Method == "PUT" {
			out = append(out, rt)
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d body-taking routes found in the table", len(out))
	}
	return out
}

// A body sent chunked (no Content-Length) never reaches a handler behind the
// Functions host, so every route that takes a body answers 411 telling the
// client to send Content-Length; an empty body declared with
// Content-Length: 0 is an ordinary (empty) body and never 411.
func TestChunkedBodyAnswers411OnEveryBodyRoute(t *testing.T) {
	e := newChangeServer(t)
	for _, rt := range bodyRoutes(t) {
		path := examplePath(rt.Pattern)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			req := httptest.NewRequest(rt.Method, path, io.NopCloser(strings.NewReader(`{"a":1}`)))
			req.ContentLength = -1
			req.TransferEncoding = []string{"chunked"}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer user-1000")
			rec := httptest.NewRecorder()
			e.s.ServeHTTP(rec, req)
			if rec.Code != http.StatusLengthRequired || !strings.Contains(rec.Body.String(), "Content-Length") {
				t.Fatalf("chunked: %d %s, want 411 naming Content-Length", rec.Code, rec.Body)
			}

			req = httptest.NewRequest(rt.Method, path, http.NoBody)
			req.Header.Set("Content-Length", "0")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer user-1000")
			rec = httptest.NewRecorder()
			e.s.ServeHTTP(rec, req)
			if rec.Code == http.StatusLengthRequired {
				t.Fatalf("Content-Length: 0 answered 411: %s", rec.Body)
			}
		})
	}
}

// The empty JSON body gets the usual 400, and so does a request that
// arrives with neither body nor Content-Type (what the host forwards of an
// empty body: it re-adds Content-Type only with content) — a 415 would
// contradict the Content-Type the client sent.
func TestEmptyBodyIsNot411(t *testing.T) {
	e := newChangeServer(t)
	for _, path := range []string{"/api/v1/mfa/challenge", "/api/v1/mfa/verify", "/api/v1/profile/1000/uploads", "/api/v1/profile/1000"} {
		method := "POST"
		if path == "/api/v1/profile/1000" {
			method = "PATCH"
		}
		req := httptest.NewRequest(method, path, http.NoBody)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer user-1000")
		req.Header.Set(MFATokenHeader, "x")
		rec := httptest.NewRecorder()
		e.s.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "empty") {
			t.Errorf("%s %s with Content-Length 0: %d %s, want 400 empty body", method, path, rec.Code, rec.Body)
		}
		req = httptest.NewRequest(method, path, http.NoBody)
		req.Header.Set("Authorization", "Bearer user-1000")
		req.Header.Set(MFATokenHeader, "x")
		rec = httptest.NewRecorder()
		e.s.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "request body is empty: send the JSON body with Content-Type and Content-Length") {
			t.Errorf("%s %s without body or type: %d %s, want 400 naming Content-Type and Content-Length", method, path, rec.Code, rec.Body)
		}
	}
}

// The same over a real connection: Go's server sees the chunked framing.
func TestChunkedBodyOverTheWire(t *testing.T) {
	e := newChangeServer(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	send := func(method, path string, body io.Reader, length int64) *http.Response {
		req, err := http.NewRequest(method, ts.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer user-1000")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// io.MultiReader hides the length, so the client sends it chunked.
	chunked := io.MultiReader(strings.NewReader(`{"firstName":`), strings.NewReader(`"Ada"}`))
	if resp := send("PATCH", "/api/v1/profile/1000", chunked, -1); resp.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunked PATCH: %d, want 411", resp.StatusCode)
	}
	if resp := send("POST", "/api/v1/mfa/challenge", http.NoBody, 0); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST with Content-Length: 0: %d, want 400", resp.StatusCode)
	}
}
