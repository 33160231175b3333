package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// mfaVerifierStub accepts "123456" for every verification.
type mfaVerifierStub struct {
	mu       sync.Mutex
	startErr error
}

func (v *mfaVerifierStub) StartVerification(context.Context, string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return "VE1", v.startErr
}

func (v *mfaVerifierStub) CheckVerification(_ context.Context, _, _, code string) (bool, error) {
	return code == "123456", nil
}

type mfaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mfaClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *mfaClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newMFATestServer(t *testing.T) (*Server, *mfaVerifierStub, *mfaClock) {
	t.Helper()
	e := newEnv(t, nil)
	return e.s, e.verifier, e.clock
}

func postJSON(s *Server, path, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return m
}

func challengeID(t *testing.T, s *Server) string {
	t.Helper()
	rec := postJSON(s, "/api/v1/mfa/challenge", "Bearer user-1000", `{"profileId":"1000"}`)
	if rec.Code != 202 {
		t.Fatalf("challenge: %d %s", rec.Code, rec.Body)
	}
	return jsonBody(t, rec)["challengeId"].(string)
}

func TestMFAChallengeHTTP(t *testing.T) {
	for _, tc := range []struct {
		name, auth, ctype, body string
		status                  int
		errContains             string
	}{
		{"ok", "Bearer user-1000", "application/json", `{"profileId":"1000"}`, 202, ""},
		{"another user's profile", "Bearer user-1000", "application/json", `{"profileId":"1001"}`, 403, "another user"},
		{"unknown profile", "Bearer user-1000", "application/json", `{"profileId":"9999"}`, 404, "not found"},
		{"missing profileId", "Bearer user-1000", "application/json", `{}`, 400, "profileId"},
		{"unknown field", "Bearer user-1000", "application/json", `{"profileId":"1000","x":1}`, 400, ""},
		{"wrong type", "Bearer user-1000", "application/json", `{"profileId":1000}`, 400, ""},
		{"not JSON", "Bearer user-1000", "application/json", `profileId=1000`, 400, ""},
		{"wrong media type", "Bearer user-1000", "text/plain", `{"profileId":"1000"}`, 415, ""},
		{"no identity", "", "application/json", `{"profileId":"1000"}`, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newMFATestServer(t)
			req := httptest.NewRequest("POST", "/api/v1/mfa/challenge", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			m := jsonBody(t, rec)
			if tc.status == 202 {
				if m["channel"] != "sms" || m["to"] != "+*******1000" || m["challengeId"] == "" || m["expiresAt"] == nil {
					t.Errorf("body = %v", m)
				}
				return
			}
			if m["Status"] != "Rejected" || !strings.Contains(m["error"].(string), tc.errContains) {
				t.Errorf("body = %v", m)
			}
		})
	}
}

func TestMFAVerifyHTTP(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		s, _, clk := newMFATestServer(t)
		id := challengeID(t, s)
		rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"123456"}`)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("verify: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
		m := jsonBody(t, rec)
		tok, _ := m["mfaToken"].(string)
		exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string))
		if tok == "" || err != nil || exp.Sub(clk.now()) > 10*time.Minute {
			t.Fatalf("body = %v", m)
		}
		// The token is what a PATCH of this profile requires.
		req := httptest.NewRequest("PATCH", "/api/v1/profile/1000", strings.NewReader(`{"description":"verified","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer user-1000")
		req.Header.Set(MFATokenHeader, tok)
		if rec := httptest.NewRecorder(); func() bool { s.ServeHTTP(rec, req); return rec.Code != 200 }() {
			t.Errorf("PATCH with the verified token: %d %s", rec.Code, rec.Body)
		}
		// Replay of the same code/challenge.
		rec = postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"123456"}`)
		if rec.Code != 409 {
			t.Errorf("second verify: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("wrong code then lock per challenge", func(t *testing.T) {
		s, _, _ := newMFATestServer(t)
		id := challengeID(t, s)
		for i := 4; i >= 0; i-- {
			rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"000000"}`)
			m := jsonBody(t, rec)
			if rec.Code != 401 || m["attemptsLeft"] != float64(i) || m["Status"] != "Rejected" || m["error"] == "" {
				t.Fatalf("wrong code: %d %v, want 401 attemptsLeft %d", rec.Code, m, i)
			}
		}
		rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"123456"}`)
		if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("6th: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("lockout has a long Retry-After", func(t *testing.T) {
		s, _, _ := newMFATestServer(t)
		var rec *httptest.ResponseRecorder
		for range 2 {
			id := challengeID(t, s)
			for range 5 {
				rec = postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"000000"}`)
			}
		}
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "86400" || !strings.Contains(jsonBody(t, rec)["error"].(string), "locked") {
			t.Fatalf("10th failure: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		s, _, clk := newMFATestServer(t)
		id := challengeID(t, s)
		clk.add(11 * time.Minute)
		if rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", `{"challengeId":"`+id+`","code":"123456"}`); rec.Code != 410 {
			t.Fatalf("expired: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("another user's challenge", func(t *testing.T) {
		s, _, _ := newMFATestServer(t)
		id := challengeID(t, s)
		if rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1001", `{"challengeId":"`+id+`","code":"123456"}`); rec.Code != 404 {
			t.Fatalf("other user: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		s, _, _ := newMFATestServer(t)
		for _, body := range []string{`{"challengeId":"abc"}`, `{"challengeId":"abc","code":123456}`, `{"challengeId":"abc","code":"12x456"}`, `[]`, `{"challengeId":"abc","code":"123456","extra":true}`} {
			if rec := postJSON(s, "/api/v1/mfa/verify", "Bearer user-1000", body); rec.Code != 400 {
				t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
			}
		}
	})
	t.Run("provider down", func(t *testing.T) {
		s, ver, _ := newMFATestServer(t)
		ver.startErr = &domain.Error{Kind: domain.KindTransient, Msg: "the SMS provider is unavailable; retry shortly", RetryAfter: 5 * time.Second}
		rec := postJSON(s, "/api/v1/mfa/challenge", "Bearer user-1000", `{"profileId":"1000"}`)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" {
			t.Fatalf("provider down: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("send limit", func(t *testing.T) {
		s, _, _ := newMFATestServer(t)
		for range 5 {
			challengeID(t, s)
		}
		rec := postJSON(s, "/api/v1/mfa/challenge", "Bearer user-1000", `{"profileId":"1000"}`)
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "3600" {
			t.Fatalf("6th challenge: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
}
