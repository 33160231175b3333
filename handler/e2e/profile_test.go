package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGetProfileThroughDevHost(t *testing.T) {
	tok := token(t, "user-1000")
	resp, body := call(t, "GET", "/api/v1/profile/1000", tok, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET own profile: %d %v", resp.StatusCode, body)
	}
	if body["id"] != "1000" || body["owner"] != "user-1000" || body["phone"] != "+15550101000" || body["firstName"] == "" {
		t.Errorf("profile = %v", body)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("ETag") == "" {
		t.Errorf("headers = %v", resp.Header)
	}

	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"another user's profile", "/api/v1/profile/1001", 403},
		{"unknown profile", "/api/v1/profile/424242", 404},
	} {
		resp, body := call(t, "GET", tc.path, tok, nil, nil)
		if resp.StatusCode != tc.status || body["Status"] != "Rejected" || body["error"] == "" {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, body)
		}
	}
}

func TestBadTokensThroughDevHost(t *testing.T) {
	good := token(t, "user-1000")
	expClaims := sys.Issuer.Claims("user-1000", time.Hour)
	expClaims["exp"] = time.Now().Add(-2 * time.Hour).Unix()
	expClaims["iat"] = time.Now().Add(-3 * time.Hour).Unix()
	expClaims["nbf"] = time.Now().Add(-3 * time.Hour).Unix()
	expired, err := sys.Issuer.MintClaims(expClaims)
	if err != nil {
		t.Fatal(err)
	}
	audClaims := sys.Issuer.Claims("user-1000", time.Hour)
	audClaims["aud"] = "api://someone-else"
	wrongAud, _ := sys.Issuer.MintClaims(audClaims)
	issClaims := sys.Issuer.Claims("user-1000", time.Hour)
	issClaims["iss"] = "https://login.example.com/other"
	wrongIss, _ := sys.Issuer.MintClaims(issClaims)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."

	for name, hdr := range map[string]string{
		"missing":        "",
		"malformed":      "Bearer not-a-jwt",
		"basic scheme":   "Basic dXNlcjpwYXNz",
		"expired":        "Bearer " + expired,
		"wrong audience": "Bearer " + wrongAud,
		"wrong issuer":   "Bearer " + wrongIss,
		"bad signature":  "Bearer " + tampered,
		"alg none":       "Bearer " + none,
	} {
		req, _ := http.NewRequest("GET", sys.URL+"/api/v1/profile/1000", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s token: status %d, want 401", name, resp.StatusCode)
		}
	}
}

func TestUndeclaredRoutesAre404(t *testing.T) {
	tok := token(t, "user-1000")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/nothing"},
		{"DELETE", "/api/v1/profile/1000"}, // route declared for GET only
		{"GET", "/api/v1/profile/1000/extra/segments"},
	} {
		resp, _ := call(t, tc.method, tc.path, tok, nil, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
}

func TestDevOutboxStartsEmptyAndIsJSON(t *testing.T) {
	resp, err := http.Get(sys.URL + "/dev/outbox?to=%2B15550109999")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != 200 || strings.TrimSpace(string(buf[:n])) != "[]" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("outbox: %d %q %s", resp.StatusCode, buf[:n], resp.Header.Get("Content-Type"))
	}
}
