package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// An answer given before a large body was read (here 413 for a JSON body
// over the limit, 401 for a missing token) reaches a client that is still
// sending, as the Functions host is: the connection is not reset under it.
func TestEarlyAnswerToALargeBodyArrives(t *testing.T) {
	e := newChangeServer(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	body := bytes.Repeat([]byte("x"), 20<<20)
	for _, tc := range []struct {
		auth string
		want int
	}{{"Bearer user-1000", http.StatusRequestEntityTooLarge}, {"", http.StatusUnauthorized}} {
		for i := range 3 {
			req, _ := http.NewRequest("POST", ts.URL+"/api/v1/mfa/challenge", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			// As curl sends large bodies; the development host passes it on.
			req.Header.Set("Expect", "100-continue")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("round %d (%d wanted): %v", i, tc.want, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("round %d: status %d, want %d", i, resp.StatusCode, tc.want)
			}
		}
	}
}
