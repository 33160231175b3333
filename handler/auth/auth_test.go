package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	devoidc "github.com/profileflow/profileflow/dev/oidc"
	"github.com/profileflow/profileflow/handler/auth"
	"github.com/profileflow/profileflow/handler/domain"
)

const audience = "api://profileflow"

// clock is a test clock: real time plus an adjustable offset.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a dev issuer served by httptest plus a Verifier pointed at it.
type env struct {
	srv       *httptest.Server
	iss       *devoidc.Issuer
	v         *auth.Verifier
	clk       *clock
	jwksDown  atomic.Bool  // JWKS answers 503 while set
	jwksCalls atomic.Int64 // JWKS requests that reached the issuer
}

func (e *env) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == e.iss.JWKSPath() {
			e.jwksCalls.Add(1)
			if e.jwksDown.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		}
		if r.URL.Path == "/dev/token" {
			e.iss.TokenHandler().ServeHTTP(w, r)
			return
		}
		e.iss.Handler().ServeHTTP(w, r)
	})
}

func newEnv(t testing.TB, opts ...auth.Option) *env {
	t.Helper()
	e := &env{clk: &clock{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.handler().ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	var err error
	if e.iss, err = devoidc.NewIssuer(e.srv.URL+"/dev/oidc", audience); err != nil {
		t.Fatal(err)
	}
	opts = append([]auth.Option{auth.WithClock(e.clk.now), auth.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	if e.v, err = auth.New(context.Background(), e.iss.IssuerURL(), audience, opts...); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) mint(t testing.TB, claims map[string]any, opts ...devoidc.MintOption) string {
	t.Helper()
	tok, err := e.iss.MintClaims(claims, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(e.iss.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	kid := e.iss.KeyID()

	std := func(mod func(map[string]any)) map[string]any {
		c := e.iss.Claims("user-1000", 10*time.Minute)
		c["roles"] = []string{domain.RoleProfileApprover}
		c["groups"] = []string{"g-approvers", "g-hr"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	valid := e.mint(t, std(nil))
	noneTok := b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(std(nil)) + "."
	noneKid := b64(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(std(nil)) + "."

	tests := []struct {
		name    string
		header  string
		want    *domain.Principal
		wantMsg string // substring of the unauthorized message
	}{
		{name: "valid", header: "Bearer " + valid,
			want: &domain.Principal{Subject: "user-1000", Roles: []string{"ProfileApprover"}, Groups: []string{"g-approvers", "g-hr"}}},
		{name: "valid lower-case scheme", header: "bearer " + valid,
			want: &domain.Principal{Subject: "user-1000", Roles: []string{"ProfileApprover"}, Groups: []string{"g-approvers", "g-hr"}}},
		{name: "valid without roles or groups", header: "Bearer " + e.mint(t, e.iss.Claims("user-1001", time.Minute)),
			want: &domain.Principal{Subject: "user-1001"}},
		{name: "valid audience array", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["aud"] = []string{"other", audience} })),
			want: &domain.Principal{Subject: "user-1000", Roles: []string{"ProfileApprover"}, Groups: []string{"g-approvers", "g-hr"}}},
		{name: "expired within leeway", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["exp"] = now.Add(-20 * time.Second).Unix() })),
			want: &domain.Principal{Subject: "user-1000", Roles: []string{"ProfileApprover"}, Groups: []string{"g-approvers", "g-hr"}}},

		{name: "missing", header: "", wantMsg: "missing bearer token"},
		{name: "blank", header: "   ", wantMsg: "missing bearer token"},
		{name: "scheme only", header: "Bearer", wantMsg: "missing bearer token"},
		{name: "scheme glued", header: "Bearer" + valid, wantMsg: "Bearer <token>"},
		{name: "scheme and spaces", header: "Bearer    ", wantMsg: "missing bearer token"},
		{name: "not bearer basic", header: "Basic dXNlcjpwYXNz", wantMsg: "Bearer <token>"},
		{name: "not bearer token scheme", header: "Token " + valid, wantMsg: "Bearer <token>"},
		{name: "malformed one segment", header: "Bearer abc", wantMsg: "malformed"},
		{name: "malformed garbage segments", header: "Bearer a.b.c", wantMsg: "malformed"},
		{name: "malformed bad chars", header: "Bearer a+b.c/d.e=", wantMsg: "malformed"},
		{name: "malformed two tokens", header: "Bearer " + valid + " " + valid, wantMsg: "malformed"},
		{name: "malformed truncated", header: "Bearer " + valid[:len(valid)-10] + "." + "x", wantMsg: "malformed"},
		{name: "too large", header: "Bearer " + strings.Repeat("a", 20000) + ".b.c", wantMsg: "too large"},
		{name: "tampered payload", header: "Bearer " + tamper(valid, std(func(c map[string]any) { c["sub"] = "user-1001" })), wantMsg: "signature invalid"},
		{name: "badly signed same kid", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("RS256", otherRSA, kid)), wantMsg: "signature invalid"},
		{name: "unknown kid other key", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("RS256", otherRSA, "unknown-kid")), wantMsg: "signing key unknown"},
		{name: "unknown kid issuer key", header: "Bearer " + e.mint(t, std(nil), devoidc.WithKeyID("unknown-kid")), wantMsg: "signing key unknown"},
		{name: "ES256 unknown key", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("ES256", otherEC, kid)), wantMsg: "signature invalid"},
		{name: "expired", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), wantMsg: "bearer token expired"},
		{name: "no exp", header: "Bearer " + e.mint(t, std(func(c map[string]any) { delete(c, "exp") })), wantMsg: "no expiry"},
		{name: "not yet valid", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), wantMsg: "not yet valid"},
		{name: "issued in future", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() })), wantMsg: "issued in the future"},
		{name: "wrong audience", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["aud"] = "api://someone-else" })), wantMsg: "audience not accepted"},
		{name: "no audience", header: "Bearer " + e.mint(t, std(func(c map[string]any) { delete(c, "aud") })), wantMsg: "audience not accepted"},
		{name: "wrong issuer", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["iss"] = "https://evil.example/dev/oidc" })), wantMsg: "issuer not accepted"},
		{name: "issuer trailing slash", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["iss"] = e.iss.IssuerURL() + "/" })), wantMsg: "issuer not accepted"},
		{name: "no subject", header: "Bearer " + e.mint(t, std(func(c map[string]any) { delete(c, "sub") })), wantMsg: "no subject"},
		{name: "roles not array", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["roles"] = "ProfileApprover" })), wantMsg: "malformed roles or groups"},
		{name: "groups not strings", header: "Bearer " + e.mint(t, std(func(c map[string]any) { c["groups"] = []int{1, 2} })), wantMsg: "malformed roles or groups"},
		{name: "alg none", header: "Bearer " + noneTok, wantMsg: `algorithm "none" not accepted`},
		{name: "alg none with kid", header: "Bearer " + noneKid, wantMsg: `algorithm "none" not accepted`},
		{name: "HS256 with public key bytes", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("HS256", pubPEM, kid)), wantMsg: `algorithm "HS256" not accepted`},
		{name: "HS256 with public key DER", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("HS256", pubDER, kid)), wantMsg: `algorithm "HS256" not accepted`},
		{name: "RS384 not allowed", header: "Bearer " + e.mint(t, std(nil), devoidc.WithSigningKey("RS384", otherRSA, kid)), wantMsg: `algorithm "RS384" not accepted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.v.Authenticate(context.Background(), tc.header)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if !reflect.DeepEqual(p, *tc.want) {
					t.Fatalf("principal = %+v, want %+v", p, *tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Authenticate succeeded with %+v, want unauthorized", p)
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != domain.KindUnauthorized {
				t.Fatalf("err = %v (kind %v), want KindUnauthorized", err, domain.KindOf(err))
			}
			if !strings.Contains(de.Msg, tc.wantMsg) {
				t.Fatalf("message %q does not contain %q", de.Msg, tc.wantMsg)
			}
			if tok := strings.TrimSpace(strings.TrimPrefix(tc.header, "Bearer")); len(tok) > 8 && strings.Contains(de.Msg, tok) {
				t.Fatalf("message echoes the token: %q", de.Msg)
			}
			if !reflect.DeepEqual(p, domain.Principal{}) {
				t.Fatalf("principal %+v returned with an error", p)
			}
		})
	}
}

// eventually retries Authenticate briefly: go-oidc's RemoteKeySet hands the
// result of a finished key fetch to callers that arrive just before it clears
// its in-flight marker, so the first call after a change may see the previous
// result.
func eventually(v *auth.Verifier, h string) error {
	var err error
	for range 50 {
		if _, err = v.Authenticate(context.Background(), h); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// tamper swaps the payload of a signed token.
func tamper(tok string, claims map[string]any) string {
	parts := strings.Split(tok, ".")
	return parts[0] + "." + b64(claims) + "." + parts[2]
}

func TestClockAndLeeway(t *testing.T) {
	e := newEnv(t, auth.WithLeeway(0))
	tok, err := e.iss.Mint("user-1000", nil, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Authenticate(context.Background(), "Bearer "+tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	e.clk.advance(61 * time.Second)
	_, err = e.v.Authenticate(context.Background(), "Bearer "+tok)
	if domain.KindOf(err) != domain.KindUnauthorized || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after expiry with zero leeway: %v", err)
	}
}

func TestIssuerDownAtFirstUse(t *testing.T) {
	// Reserve a port, release it so nothing listens there yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	e := &env{clk: &clock{}}
	if e.iss, err = devoidc.NewIssuer("http://"+addr+"/dev/oidc", audience); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if e.v, err = auth.New(context.Background(), e.iss.IssuerURL(), audience, auth.WithClock(e.clk.now), auth.WithLogger(slog.New(slog.DiscardHandler))); err != nil {
		t.Fatalf("New must not need the issuer: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("New took %v", d)
	}
	tok, err := e.iss.Mint("user-1000", []string{"r"}, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second call is answered from the throttled failure
		_, err = e.v.Authenticate(context.Background(), "Bearer "+tok)
		if domain.KindOf(err) != domain.KindTransient {
			t.Fatalf("call %d with issuer down: err = %v, want KindTransient", i, err)
		}
		if strings.Contains(err.(*domain.Error).Msg, tok) {
			t.Fatal("message echoes the token")
		}
	}
	// A bad header is still rejected as unauthorized without the issuer.
	if _, err := e.v.Authenticate(context.Background(), "Basic x"); domain.KindOf(err) != domain.KindUnauthorized {
		t.Fatalf("bad header with issuer down: %v", err)
	}

	// Bring the issuer up on the reserved address.
	var l2 net.Listener
	for i := 0; i < 50; i++ {
		if l2, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("re-listen on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(e.handler())
	srv.Listener.Close()
	srv.Listener = l2
	srv.Start()
	defer srv.Close()

	// Within the retry interval the cached failure is returned.
	if _, err := e.v.Authenticate(context.Background(), "Bearer "+tok); domain.KindOf(err) != domain.KindTransient {
		t.Fatalf("within retry interval: %v", err)
	}
	e.clk.advance(6 * time.Second)
	p, err := e.v.Authenticate(context.Background(), "Bearer "+tok)
	if err != nil {
		t.Fatalf("after issuer came up: %v", err)
	}
	if p.Subject != "user-1000" || !p.HasRole("r") {
		t.Fatalf("principal = %+v", p)
	}
}

func TestJWKSDownIsTransient(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.iss.Mint("user-1000", nil, nil, time.Minute)
	e.jwksDown.Store(true)
	_, err := e.v.Authenticate(context.Background(), "Bearer "+tok)
	if domain.KindOf(err) != domain.KindTransient {
		t.Fatalf("jwks down: err = %v, want KindTransient", err)
	}
	e.jwksDown.Store(false)
	e.clk.advance(6 * time.Second)
	if err := eventually(e.v, "Bearer "+tok); err != nil {
		t.Fatalf("jwks back: %v", err)
	}
	// Keys are now cached: the JWKS going down does not affect known keys.
	e.jwksDown.Store(true)
	if _, err := e.v.Authenticate(context.Background(), "Bearer "+tok); err != nil {
		t.Fatalf("cached keys with jwks down: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)
	if _, err := e.v.Authenticate(ctx, "Bearer "+old); err != nil {
		t.Fatal(err)
	}
	if got := e.jwksCalls.Load(); got != 1 {
		t.Fatalf("jwks fetched %d times, want 1", got)
	}
	oldKid := e.iss.KeyID()
	if err := e.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if e.iss.KeyID() == oldKid {
		t.Fatal("kid unchanged after Rotate")
	}
	fresh, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)

	// Within the refresh interval, an unknown kid does not reach the issuer.
	_, err := e.v.Authenticate(ctx, "Bearer "+fresh)
	if domain.KindOf(err) != domain.KindUnauthorized {
		t.Fatalf("new kid within throttle: %v", err)
	}
	if got := e.jwksCalls.Load(); got != 1 {
		t.Fatalf("jwks fetched %d times within the refresh interval, want 1", got)
	}
	e.clk.advance(6 * time.Second)
	if err := eventually(e.v, "Bearer "+fresh); err != nil {
		t.Fatalf("new kid after refresh: %v", err)
	}
	if got := e.jwksCalls.Load(); got != 2 {
		t.Fatalf("jwks fetched %d times, want 2", got)
	}
	// Tokens signed with the previous key still verify (it is still published).
	if _, err := e.v.Authenticate(ctx, "Bearer "+old); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	// Repeated forged kids do not make the verifier refetch.
	forged, _ := e.iss.MintClaims(e.iss.Claims("user-1000", time.Hour), devoidc.WithKeyID("nope"))
	for range 20 {
		if _, err := e.v.Authenticate(ctx, "Bearer "+forged); domain.KindOf(err) != domain.KindUnauthorized {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if got := e.jwksCalls.Load(); got != 2 {
		t.Fatalf("forged kids caused %d jwks fetches, want none", got-2)
	}
}

func TestRotationWithoutThrottle(t *testing.T) {
	e := newEnv(t, auth.WithMinRefreshInterval(0))
	ctx := context.Background()
	a, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)
	if _, err := e.v.Authenticate(ctx, "Bearer "+a); err != nil {
		t.Fatal(err)
	}
	if err := e.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	b, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)
	if _, err := e.v.Authenticate(ctx, "Bearer "+b); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := e.v.Authenticate(context.Background(), "Bearer "+tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, issuer, aud string
		wantErr           bool
	}{
		{"ok", "https://login.microsoftonline.com/tid/v2.0", "api://x", false},
		{"ok http", "http://127.0.0.1:7071/dev/oidc", "api://x", false},
		{"relative issuer", "/dev/oidc", "api://x", true},
		{"bad scheme", "ftp://host/x", "api://x", true},
		{"empty issuer", "", "api://x", true},
		{"empty audience", "https://issuer.example", " ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.New(context.Background(), tc.issuer, tc.aud)
			if tc.wantErr {
				if domain.KindOf(err) != domain.KindInvalid {
					t.Fatalf("err = %v, want KindInvalid", err)
				}
				return
			}
			if err != nil || v.Issuer() != tc.issuer || v.Audience() != tc.aud {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

func TestIssuerMismatchIsInternal(t *testing.T) {
	e := newEnv(t)
	// A verifier configured with a different spelling of the issuer than the
	// discovery document advertises.
	v, err := auth.New(context.Background(), e.iss.IssuerURL()+"/", audience, auth.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := e.iss.Mint("user-1000", nil, nil, time.Hour)
	if _, err := v.Authenticate(context.Background(), "Bearer "+tok); domain.KindOf(err) != domain.KindInternal {
		t.Fatalf("err = %v, want KindInternal", err)
	}
}

func TestRequireRole(t *testing.T) {
	tests := []struct {
		name  string
		roles []string
		ok    bool
	}{
		{"has role", []string{"Other", domain.RoleProfileApprover}, true},
		{"no roles", nil, false},
		{"other role", []string{"profileapprover"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.RequireRole(domain.Principal{Subject: "u", Roles: tc.roles}, domain.RoleProfileApprover)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && domain.KindOf(err) != domain.KindForbidden {
				t.Fatalf("kind = %v, want forbidden", domain.KindOf(err))
			}
		})
	}
}

func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	c := e.iss.Claims("user-1000", time.Hour)
	forged := e.mint(f, c, devoidc.WithSigningKey("RS256", other, e.iss.KeyID()))
	expired := e.mint(f, e.iss.Claims("user-1000", -time.Hour))
	wrongAud := e.mint(f, map[string]any{"iss": e.iss.IssuerURL(), "aud": "x", "sub": "u", "exp": time.Now().Add(time.Hour).Unix()})
	none := b64(map[string]string{"alg": "none"}) + "." + b64(c) + "."
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer a.b.c", "Basic x", "Bearer " + forged, "Bearer " + expired,
		"Bearer " + wrongAud, "Bearer " + none, "bearer " + forged + " x", "Bearer ...", "Bearer e30.e30.", "\x00Bearer \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		p, err := e.v.Authenticate(context.Background(), h)
		if err == nil {
			t.Fatalf("Authenticate(%q) succeeded: %+v", h, p)
		}
		if k := domain.KindOf(err); k != domain.KindUnauthorized {
			t.Fatalf("Authenticate(%q): kind %v (%v), want unauthorized", h, k, err)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b)
	tok, err := e.iss.Mint("user-1000", []string{domain.RoleProfileApprover}, []string{"g1", "g2"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h := "Bearer " + tok
	ctx := context.Background()
	if _, err := e.v.Authenticate(ctx, h); err != nil { // warm the key cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.v.Authenticate(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}
