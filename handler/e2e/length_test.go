package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A body sent chunked (no Content-Length) is dropped by the Functions host;
// through the development host every route that takes a body answers 411
// telling the client to send Content-Length, not a misleading 400/415.
func TestChunkedBodyThroughDevHostIs411(t *testing.T) {
	bearer := token(t, "user-1004")
	for _, tc := range []struct{ method, path string }{
		{"PATCH", "/api/v1/profile/1004"},
		{"POST", "/api/v1/profile/1004/uploads"},
		{"POST", "/api/v1/mfa/challenge"},
		{"POST", "/api/v1/mfa/verify"},
		{"POST", "/api/v1/requests/r-unknown/cancel"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			// A reader of unknown length makes net/http send the body chunked.
			body := io.MultiReader(strings.NewReader(`{"description":`), strings.NewReader(`"x"}`))
			req, _ := http.NewRequest(tc.method, sys.URL+tc.path, body)
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+bearer)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusLengthRequired || !strings.Contains(string(raw), "Content-Length") {
				t.Fatalf("status %d body %s; want 411 naming Content-Length", resp.StatusCode, raw)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("411 answer lacks the security headers: %v", resp.Header)
			}
		})
	}
}

// An answer the handler gives before reading a large body (413, 401) reaches
// the client through the host instead of a reset connection (502).
func TestEarlyAnswerToALargeBodyThroughDevHost(t *testing.T) {
	bearer := token(t, "user-1004")
	body := strings.Repeat("x", 70<<20)
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		// curl sends large bodies with Expect: 100-continue.
		{"/api/v1/mfa/challenge", "Bearer " + bearer, http.StatusRequestEntityTooLarge},
		{"/api/v1/profile/1004", "Bearer " + bearer, http.StatusRequestEntityTooLarge},
		{"/api/v1/mfa/verify", "", http.StatusUnauthorized},
	} {
		for i := range 6 {
			method := "POST"
			if tc.path == "/api/v1/profile/1004" {
				method = "PATCH"
			}
			req, _ := http.NewRequest(method, sys.URL+tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-MFA-Token", "x")
			if i%2 == 1 {
				req.Header.Set("Expect", "100-continue")
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s round %d: %v", tc.path, i, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s round %d: %d %s %s, want %d JSON", tc.path, i, resp.StatusCode, resp.Header.Get("Content-Type"), raw, tc.want)
			}
		}
	}
}
