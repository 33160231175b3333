package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mfaToken runs the real SMS flow for a user and profile: challenge → PIN
// from the dev outbox → verify.
func mfaToken(t *testing.T, bearer, profileID, phone string) string {
	t.Helper()
	resp, ch := call(t, "POST", "/api/v1/mfa/challenge", bearer, map[string]string{"profileId": profileID}, nil)
	if resp.StatusCode != 202 {
		t.Fatalf("challenge: %d %v", resp.StatusCode, ch)
	}
	pins := outboxPINs(t, phone)
	resp, body := call(t, "POST", "/api/v1/mfa/verify", bearer, map[string]string{"challengeId": ch["challengeId"].(string), "code": pins[len(pins)-1]}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("verify: %d %v", resp.StatusCode, body)
	}
	return body["mfaToken"].(string)
}

func TestPatchDescriptionThroughDevHost(t *testing.T) {
	tok := token(t, "user-1006")
	mfa := mfaToken(t, tok, "1006", "+15550101006")
	ts := time.Now().UTC().Format(time.RFC3339)

	// Bad bodies are refused with clear errors and leave the MFA token usable.
	for _, tc := range []struct{ body, want string }{
		{`{"description":"x","timestamp":"` + ts + `","admin":true}`, "unknown field"},
		{`{"firstName":"B0b","timestamp":"` + ts + `"}`, "firstName"},
		{`{"lastName":"Byron","timestamp":"` + ts + `"}`, "evidence document"},
		{`{"description":"x"}`, "timestamp"},
	} {
		resp, body := call(t, "PATCH", "/api/v1/profile/1006", tok, tc.body, map[string]string{"X-MFA-Token": mfa})
		if resp.StatusCode != 400 || body["Status"] != "Rejected" || !strings.Contains(fmt.Sprint(body["error"]), tc.want) {
			t.Errorf("%s: %d %v", tc.body, resp.StatusCode, body)
		}
	}

	desc := fmt.Sprintf("Changed at %d", time.Now().UnixNano())
	patch := `{"description":"` + desc + `","timestamp":"` + ts + `"}`
	hdr := map[string]string{"X-MFA-Token": mfa, "Idempotency-Key": fmt.Sprintf("e2e-%d", time.Now().UnixNano())}
	resp, body := call(t, "PATCH", "/api/v1/profile/1006", tok, patch, hdr)
	if resp.StatusCode != 200 || body["Status"] != "Success" {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
	}
	reqURL := body["request"].(string)

	// The profile changed.
	_, prof := call(t, "GET", "/api/v1/profile/1006", tok, nil, nil)
	if prof["description"] != desc || prof["version"].(float64) < 2 {
		t.Errorf("profile after PATCH = %v", prof)
	}
	// An idempotent retry returns the same answer and changes nothing.
	resp2, body2 := call(t, "PATCH", "/api/v1/profile/1006", tok, patch, hdr)
	if resp2.StatusCode != 200 || body2["request"] != reqURL || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %v", resp2.StatusCode, body2)
	}
	_, prof2 := call(t, "GET", "/api/v1/profile/1006", tok, nil, nil)
	if prof2["version"] != prof["version"] {
		t.Errorf("retry applied again: %v → %v", prof["version"], prof2["version"])
	}
	// The spent MFA token does not authorise a new change.
	resp, body = call(t, "PATCH", "/api/v1/profile/1006", tok, `{"description":"other","timestamp":"`+ts+`"}`, map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 409 {
		t.Errorf("spent MFA token: %d %v", resp.StatusCode, body)
	}
	// Durable-style status: terminal → 200.
	resp, st := call(t, "GET", reqURL, tok, nil, nil)
	if resp.StatusCode != 200 || st["runtimeStatus"] != "Completed" || st["name"] != "ProfileUpdate" || st["createdTime"] == nil {
		t.Errorf("status: %d %v", resp.StatusCode, st)
	}
	if resp, _ := call(t, "GET", reqURL, token(t, "user-1007"), nil, nil); resp.StatusCode != 404 {
		t.Errorf("another user read the request: %d", resp.StatusCode)
	}
}

// The timer-triggered Sweep runs through the development host's timer
// source with the host's payload, and succeeds.
func TestSweepTimerThroughDevHost(t *testing.T) {
	if err := sys.Host.InvokeTimer(context.Background(), "Sweep"); err != nil {
		t.Fatal(err)
	}
}
