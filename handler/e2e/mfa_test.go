package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/dev/faketwilio"
)

// outboxPINs reads the SMS sent to phone through the development host's
// GET /dev/outbox and returns their PINs, oldest first.
func outboxPINs(t *testing.T, phone string) []string {
	t.Helper()
	resp, err := http.Get(sys.URL + "/dev/outbox?to=" + url.QueryEscape(phone))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []struct{ To, Body string }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&msgs) != nil {
		t.Fatalf("/dev/outbox: %d", resp.StatusCode)
	}
	var pins []string
	for _, m := range msgs {
		if pin := faketwilio.PIN(m.Body); pin != "" {
			pins = append(pins, pin)
		}
	}
	return pins
}

// challenge → PIN from the outbox → verify → MFA token, through the
// development host, the packaged handler, twilio-go, the fake Twilio API
// and the Cosmos DB stand-in.
func TestMFAFlowThroughDevHost(t *testing.T) {
	const phone = "+15550101002"
	tok := token(t, "user-1002")
	before := len(outboxPINs(t, phone))

	resp, ch := call(t, "POST", "/api/v1/mfa/challenge", tok, map[string]string{"profileId": "1002"}, nil)
	if resp.StatusCode != 202 {
		t.Fatalf("challenge: %d %v", resp.StatusCode, ch)
	}
	id, _ := ch["challengeId"].(string)
	if id == "" || ch["channel"] != "sms" || ch["to"] != "+*******1002" || ch["expiresAt"] == nil {
		t.Fatalf("challenge body = %v", ch)
	}
	pins := outboxPINs(t, phone)
	if len(pins) != before+1 || len(pins[len(pins)-1]) != 6 {
		t.Fatalf("outbox PINs = %v (before %d)", pins, before)
	}
	pin := pins[len(pins)-1]

	// Another user cannot use (or even see) the challenge.
	resp, body := call(t, "POST", "/api/v1/mfa/verify", token(t, "user-1003"), map[string]string{"challengeId": id, "code": pin}, nil)
	if resp.StatusCode != 404 {
		t.Errorf("other user's verify: %d %v", resp.StatusCode, body)
	}
	// A wrong code: 401 with the attempts left.
	wrong := "000000"
	if pin == wrong {
		wrong = "111111"
	}
	resp, body = call(t, "POST", "/api/v1/mfa/verify", tok, map[string]string{"challengeId": id, "code": wrong}, nil)
	if resp.StatusCode != 401 || body["Status"] != "Rejected" || body["attemptsLeft"] != float64(4) {
		t.Errorf("wrong code: %d %v", resp.StatusCode, body)
	}
	// The right code: a token.
	resp, body = call(t, "POST", "/api/v1/mfa/verify", tok, map[string]string{"challengeId": id, "code": pin}, nil)
	mfaToken, _ := body["mfaToken"].(string)
	if resp.StatusCode != 200 || strings.Count(mfaToken, ".") != 2 || body["expiresAt"] == nil {
		t.Fatalf("verify: %d %v", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response cacheable: %v", resp.Header)
	}
	// The challenge is spent.
	resp, body = call(t, "POST", "/api/v1/mfa/verify", tok, map[string]string{"challengeId": id, "code": pin}, nil)
	if resp.StatusCode != 409 {
		t.Errorf("verify again: %d %v", resp.StatusCode, body)
	}
}

func TestMFAErrorsThroughDevHost(t *testing.T) {
	tok := token(t, "user-1004")
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
	}{
		{"another user's profile", "/api/v1/mfa/challenge", map[string]string{"profileId": "1005"}, 403},
		{"malformed body", "/api/v1/mfa/challenge", `{"profileId":`, 400},
		{"unknown field", "/api/v1/mfa/verify", map[string]string{"challengeId": "x", "code": "123456", "pin": "1"}, 400},
		{"unknown challenge", "/api/v1/mfa/verify", map[string]string{"challengeId": "nope", "code": "123456"}, 404},
	} {
		resp, body := call(t, "POST", tc.path, tok, tc.body, nil)
		if resp.StatusCode != tc.status || body["Status"] != "Rejected" {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, body)
		}
	}

	// Twilio down → 503 with Retry-After; nothing lost, the next try works.
	fake := sys.FakeTwilio()
	if fake == nil {
		t.Fatal("local system has no fake Twilio")
	}
	fake.Fail(faketwilio.OpStart, 503, 20503, 1)
	resp, body := call(t, "POST", "/api/v1/mfa/challenge", tok, map[string]string{"profileId": "1004"}, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("twilio down: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	// Twilio's invalid parameter → 400.
	fake.Fail(faketwilio.OpStart, 400, 60200, 1)
	if resp, body := call(t, "POST", "/api/v1/mfa/challenge", tok, map[string]string{"profileId": "1004"}, nil); resp.StatusCode != 400 {
		t.Errorf("60200: %d %v", resp.StatusCode, body)
	}
	// Twilio's max send attempts → 429 with Retry-After.
	fake.Fail(faketwilio.OpStart, 429, 60203, 1)
	if resp, body := call(t, "POST", "/api/v1/mfa/challenge", tok, map[string]string{"profileId": "1004"}, nil); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("60203: %d %v", resp.StatusCode, body)
	}
	// Our own limit: 5 challenges per profile per hour. The 503 used a slot
	// (an SMS may have gone out); the outright refusals (400, 429) did not.
	var last *http.Response
	for range 5 {
		last, body = call(t, "POST", "/api/v1/mfa/challenge", tok, map[string]string{"profileId": "1004"}, nil)
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" || !strings.Contains(body["error"].(string), "5 per hour") {
		t.Errorf("6th challenge in the hour: %d %v", last.StatusCode, body)
	}
}
