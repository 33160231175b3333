package oidc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const aud = "api://profileflow"

// newServer mounts the issuer like the dev host does: Handler at /dev/oidc/
// (full paths, no StripPrefix) and TokenHandler at /dev/token.
func newServer(t *testing.T) (*Issuer, *httptest.Server) {
	t.Helper()
	var iss *Issuer
	mux := http.NewServeMux()
	mux.Handle("/dev/oidc/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	mux.Handle("/dev/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.TokenHandler().ServeHTTP(w, r) }))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var err error
	if iss, err = NewIssuer(srv.URL+"/dev/oidc", aud); err != nil {
		t.Fatal(err)
	}
	return iss, srv
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestNewIssuer(t *testing.T) {
	tests := []struct {
		name, url, aud string
		ok             bool
	}{
		{"ok", "http://127.0.0.1:7071/dev/oidc", aud, true},
		{"ok trailing slash", "http://127.0.0.1:7071/dev/oidc/", aud, true},
		{"relative", "/dev/oidc", aud, false},
		{"query", "http://127.0.0.1:7071/dev/oidc?x=1", aud, false},
		{"no audience", "http://127.0.0.1:7071/dev/oidc", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss, err := NewIssuer(tc.url, tc.aud)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (iss.IssuerURL() != "http://127.0.0.1:7071/dev/oidc" || iss.DiscoveryPath() != "/dev/oidc/.well-known/openid-configuration" || iss.JWKSPath() != "/dev/oidc/jwks") {
				t.Fatalf("issuer %q paths %q %q", iss.IssuerURL(), iss.DiscoveryPath(), iss.JWKSPath())
			}
		})
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	iss, srv := newServer(t)
	var doc discoveryDoc
	if code := getJSON(t, srv.URL+"/dev/oidc/.well-known/openid-configuration", &doc); code != 200 {
		t.Fatalf("discovery status %d", code)
	}
	want := discoveryDoc{
		Issuer: srv.URL + "/dev/oidc", JWKSURI: srv.URL + "/dev/oidc/jwks", TokenEndpoint: srv.URL + "/dev/token",
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
	}
	if doc.Issuer != want.Issuer || doc.JWKSURI != want.JWKSURI || doc.TokenEndpoint != want.TokenEndpoint ||
		!reflect.DeepEqual(doc.IDTokenSigningAlgValuesSupported, want.IDTokenSigningAlgValuesSupported) {
		t.Fatalf("discovery = %+v", doc)
	}
	var set jose.JSONWebKeySet
	if code := getJSON(t, doc.JWKSURI, &set); code != 200 {
		t.Fatalf("jwks status %d", code)
	}
	if len(set.Keys) != 1 || set.Keys[0].KeyID != iss.KeyID() || set.Keys[0].Algorithm != "RS256" || !set.Keys[0].IsPublic() {
		t.Fatalf("jwks = %+v", set.Keys)
	}

	oldKid := iss.KeyID()
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	set = jose.JSONWebKeySet{}
	getJSON(t, doc.JWKSURI, &set)
	if len(set.Keys) != 2 || set.Keys[0].KeyID != iss.KeyID() || set.Keys[1].KeyID != oldKid {
		t.Fatalf("jwks after rotation = %+v", set.Keys)
	}

	for path, code := range map[string]int{"/dev/oidc/": 404, "/dev/oidc/jwks/x": 404, "/dev/oidc/.well-known/other": 404} {
		if got := getJSON(t, srv.URL+path, nil); got != code {
			t.Errorf("GET %s = %d, want %d", path, got, code)
		}
	}
	resp, err := http.Post(doc.JWKSURI, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST jwks = %d", resp.StatusCode)
	}
}

func postToken(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response is not JSON: %q", b)
	}
	return resp.StatusCode, m
}

func verify(t *testing.T, iss *Issuer, tok string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Headers[0].KeyID != iss.KeyID() {
		t.Fatalf("kid %q, want %q", parsed.Headers[0].KeyID, iss.KeyID())
	}
	var m map[string]any
	if err := parsed.Claims(iss.PublicKey(), &m); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return m
}

func TestTokenEndpoint(t *testing.T) {
	iss, srv := newServer(t)
	url := srv.URL + "/dev/token"
	tests := []struct {
		name     string
		body     string
		code     int
		errMsg   string
		ttl      int
		aud      string
		roles    []any
		groups   []any
		hasRoles bool
	}{
		{name: "minimal", body: `{"sub":"user-1000","roles":[],"groups":[]}`, code: 200, ttl: 3600, aud: aud},
		{name: "roles and groups", body: `{"sub":"user-1001","roles":["ProfileApprover"],"groups":["g1","g2"]}`, code: 200, ttl: 3600, aud: aud,
			roles: []any{"ProfileApprover"}, groups: []any{"g1", "g2"}, hasRoles: true},
		{name: "ttl and aud", body: `{"sub":"user-1002","ttlSeconds":60,"aud":"api://other"}`, code: 200, ttl: 60, aud: "api://other"},
		{name: "bad json", body: `{"sub":`, code: 400, errMsg: "invalid JSON"},
		{name: "not an object", body: `["sub"]`, code: 400, errMsg: "invalid JSON"},
		{name: "empty body", body: ``, code: 400, errMsg: "invalid JSON"},
		{name: "unknown field", body: `{"sub":"u","role":["x"]}`, code: 400, errMsg: "invalid JSON"},
		{name: "trailing data", body: `{"sub":"u"}{"sub":"v"}`, code: 400, errMsg: "trailing"},
		{name: "missing sub", body: `{"roles":[]}`, code: 400, errMsg: `"sub" is required`},
		{name: "blank sub", body: `{"sub":"  "}`, code: 400, errMsg: `"sub" is required`},
		{name: "wrong sub type", body: `{"sub":1000}`, code: 400, errMsg: "invalid JSON"},
		{name: "negative ttl", body: `{"sub":"u","ttlSeconds":-5}`, code: 400, errMsg: "ttlSeconds"},
		{name: "huge ttl", body: `{"sub":"u","ttlSeconds":86401}`, code: 400, errMsg: "ttlSeconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, m := postToken(t, url, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%v)", code, tc.code, m)
			}
			if code != 200 {
				if m["Status"] != "Rejected" || !strings.Contains(m["error"].(string), tc.errMsg) {
					t.Fatalf("error body %v, want error containing %q", m, tc.errMsg)
				}
				return
			}
			if len(m) != 3 || m["token_type"] != "Bearer" || m["expires_in"] != float64(tc.ttl) {
				t.Fatalf("body %v", m)
			}
			tok, _ := m["access_token"].(string)
			c := verify(t, iss, tok)
			var req TokenRequest
			_ = json.Unmarshal([]byte(tc.body), &req)
			if c["sub"] != req.Sub || c["aud"] != tc.aud || c["iss"] != srv.URL+"/dev/oidc" {
				t.Fatalf("claims %v", c)
			}
			exp, iat := c["exp"].(float64), c["iat"].(float64)
			if int(exp-iat) != tc.ttl || time.Unix(int64(iat), 0).Sub(time.Now()).Abs() > 5*time.Second {
				t.Fatalf("iat %v exp %v", iat, exp)
			}
			if _, ok := c["roles"]; ok != tc.hasRoles {
				t.Fatalf("roles present = %v", ok)
			}
			if tc.hasRoles && (!reflect.DeepEqual(c["roles"], tc.roles) || !reflect.DeepEqual(c["groups"], tc.groups)) {
				t.Fatalf("roles %v groups %v", c["roles"], c["groups"])
			}
		})
	}
}

func TestTokenEndpointMethodAndLoopback(t *testing.T) {
	iss, err := NewIssuer("http://127.0.0.1:7071/dev/oidc", aud)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, remote string
		code                 int
	}{
		{"get", http.MethodGet, "127.0.0.1:5000", http.StatusMethodNotAllowed},
		{"remote caller", http.MethodPost, "10.1.2.3:5000", http.StatusForbidden},
		{"ipv6 loopback", http.MethodPost, "[::1]:5000", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/dev/token", strings.NewReader(`{"sub":"u"}`))
			r.RemoteAddr = tc.remote
			w := httptest.NewRecorder()
			iss.TokenHandler().ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
		})
	}
}

func TestMintOptions(t *testing.T) {
	iss, err := NewIssuer("http://127.0.0.1:7071/dev/oidc", aud)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint("user-1", []string{"r"}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := verify(t, iss, tok)
	if _, ok := c["groups"]; ok || c["sub"] != "user-1" {
		t.Fatalf("claims %v", c)
	}
	if _, err := iss.Mint("", nil, nil, time.Minute); err == nil {
		t.Fatal("empty sub minted")
	}
	tok, err = iss.MintClaims(map[string]any{"sub": "x"}, WithKeyID("other"), WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if h := parsed.Headers[0]; h.KeyID != "other" || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Fatalf("header %+v", h)
	}
	tok, err = iss.MintClaims(map[string]any{"sub": "x"}, WithSigningKey("HS256", []byte("0123456789abcdef0123456789abcdef"), ""))
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err = jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.HS256}); err != nil || parsed.Headers[0].KeyID != "" {
		t.Fatalf("HS256 token: %v", err)
	}
}
