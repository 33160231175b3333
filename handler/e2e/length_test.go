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
