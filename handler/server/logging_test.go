package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every log line of an answer carries the host's invocation id exactly
// once, taken from the context (the server wraps whatever logger it is
// given), for API calls, their errors and trigger invocations alike.
func TestLogLinesCarryTheInvocationID(t *testing.T) {
	var logs bytes.Buffer
	s, _ := newTestServer(t, &logs) // a plain slog JSON logger
	s.Sweeper = &sweepSpy{}
	for _, tc := range []struct{ method, path, auth, ct, body string }{
		{"GET", "/api/v1/profile/1000", "Bearer user-1000", "", ""},
		{"GET", "/api/v1/profile/1001", "Bearer user-1000", "", ""},
		{"GET", "/api/v1/nothing", "", "", ""},
		{"POST", "/Sweep", "", "application/json", `{"Data":{"timer":{"IsPastDue":"x"}},"Metadata":{}}`},
		{"POST", "/Sweep", "", "text/plain", `x`},
	} {
		logs.Reset()
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("X-Azure-Functions-InvocationId", "inv-123")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		s.ServeHTTP(httptest.NewRecorder(), req)
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if logs.Len() == 0 {
			t.Errorf("%s %s: nothing logged", tc.method, tc.path)
			continue
		}
		for _, line := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s %s: log line %q: %v", tc.method, tc.path, line, err)
			}
			if rec["invocationId"] != "inv-123" || strings.Count(line, `"invocationId"`) != 1 {
				t.Errorf("%s %s: log line without the id once: %s", tc.method, tc.path, line)
			}
		}
	}
}
