// Package auth validates bearer JWTs against an OpenID Connect issuer (Entra
// ID in Azure, the development host's local issuer in dev) and turns them into
// a domain.Principal. It is the only package that knows about go-oidc and
// go-jose; callers see domain.Principal and *domain.Error values only.
//
// Discovery is lazy: New never touches the network, the first Authenticate
// fetches the discovery document (and retries on later calls if that failed),
// and signing keys come from the issuer's JWKS through go-oidc's RemoteKeySet,
// cached in memory and refetched when a token names an unknown key id.
package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/profileflow/profileflow/handler/domain"
)

// AllowedAlgorithms are the only JWS algorithms accepted. Never "none",
// never HS*.
var AllowedAlgorithms = []string{"RS256", "ES256"}

const (
	// MaxLeeway is the largest accepted clock-skew allowance.
	MaxLeeway      = 60 * time.Second
	defaultLeeway  = 60 * time.Second
	defaultTimeout = 5 * time.Second
	// defaultMinRefresh bounds how often the issuer is contacted after a
	// failed discovery, a failed key fetch or a key refetch caused by an
	// unknown kid / bad signature, so forged tokens cannot hammer it.
	defaultMinRefresh = 5 * time.Second
	maxTokenLen       = 16 << 10
	maxIssuerResponse = 1 << 20
)

// Verifier validates bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuer     string
	audience   string
	client     *http.Client // with the throttling transport
	cache      *jwksCache
	now        func() time.Time
	leeway     time.Duration
	minRefresh time.Duration
	log        *slog.Logger

	mu          sync.Mutex
	verifier    *oidc.IDTokenVerifier // nil until discovery succeeded
	lastAttempt time.Time
	lastErr     error
}

type options struct {
	client     *http.Client
	now        func() time.Time
	leeway     time.Duration
	minRefresh time.Duration
	log        *slog.Logger
}

// Option configures a Verifier.
type Option func(*options)

// WithHTTPClient sets the client used for discovery and JWKS requests
// (default: a client with a 5 s timeout). Its Transport is wrapped, not
// modified.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock sets the time source for expiry checks and refresh throttling.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLeeway sets the clock-skew allowance for exp/nbf/iat (default and
// maximum 60 s; negative values mean 0).
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithMinRefreshInterval sets the minimum time between contacts with the
// issuer after a failure or for a key refetch (default 5 s; 0 disables
// throttling).
func WithMinRefreshInterval(d time.Duration) Option { return func(o *options) { o.minRefresh = d } }

// WithLogger sets the logger for issuer failures (default slog.Default()).
// Tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New returns a Verifier for tokens issued by issuerURL (the exact "iss"
// value, e.g. https://login.microsoftonline.com/<tenant>/v2.0) for audience
// (the exact "aud" value). It does no network I/O; ctx is unused beyond
// argument symmetry and may be context.Background().
func New(ctx context.Context, issuerURL, audience string, opts ...Option) (*Verifier, error) {
	_ = ctx
	u, err := url.Parse(issuerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, domain.E(domain.KindInvalid, "OIDC issuer URL %q must be an absolute http(s) URL", issuerURL)
	}
	if strings.TrimSpace(audience) == "" {
		return nil, domain.E(domain.KindInvalid, "OIDC audience must not be empty")
	}
	o := options{now: time.Now, leeway: defaultLeeway, minRefresh: defaultMinRefresh, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.leeway > MaxLeeway {
		o.leeway = MaxLeeway
	}
	if o.leeway < 0 {
		o.leeway = 0
	}
	if o.minRefresh < 0 {
		o.minRefresh = 0
	}
	base := o.client
	if base == nil {
		base = &http.Client{Timeout: defaultTimeout}
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	cache := &jwksCache{base: rt, now: o.now, min: o.minRefresh}
	client := *base
	client.Transport = cache
	return &Verifier{
		issuer:     issuerURL,
		audience:   audience,
		client:     &client,
		cache:      cache,
		now:        o.now,
		leeway:     o.leeway,
		minRefresh: o.minRefresh,
		log:        o.log,
	}, nil
}

// Issuer is the configured issuer URL.
func (v *Verifier) Issuer() string { return v.issuer }

// Audience is the configured audience.
func (v *Verifier) Audience() string { return v.audience }

const errUnavailable = "identity provider unavailable; retry later"

func unauthorized(format string, args ...any) *domain.Error {
	return domain.E(domain.KindUnauthorized, format, args...)
}

// idVerifier returns the go-oidc verifier, running discovery if needed.
func (v *Verifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	now := v.now()
	if v.lastErr != nil && v.minRefresh > 0 && now.Sub(v.lastAttempt) < v.minRefresh {
		return nil, v.lastErr
	}
	v.lastAttempt = now
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, v.client), defaultTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			v.lastErr = domain.Wrap(domain.KindInternal, err, "identity provider misconfigured")
		} else {
			v.lastErr = domain.Wrap(domain.KindTransient, err, errUnavailable)
		}
		v.log.WarnContext(ctx, "oidc discovery failed", "issuer", v.issuer, "err", err)
		return nil, v.lastErr
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		if err == nil {
			err = errors.New("discovery document has no jwks_uri")
		}
		v.lastErr = domain.Wrap(domain.KindTransient, err, errUnavailable)
		v.log.WarnContext(ctx, "oidc discovery failed", "issuer", v.issuer, "err", err)
		return nil, v.lastErr
	}
	v.cache.setURL(meta.JWKSURI)
	keys := &keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), meta.JWKSURI)}
	v.verifier = oidc.NewVerifier(v.issuer, keys, &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: AllowedAlgorithms,
		SkipExpiryCheck:      true, // checked below with a bounded leeway
	})
	v.lastErr = nil
	return v.verifier, nil
}

// Authenticate validates the Authorization header value ("Bearer <jwt>") and
// returns the caller. Errors are *domain.Error: KindUnauthorized for every
// missing or invalid token (with a caller-safe message that never contains
// the token), KindTransient when the issuer cannot be reached for discovery
// or keys, KindInternal when the issuer is misconfigured.
func (v *Verifier) Authenticate(ctx context.Context, authorizationHeader string) (domain.Principal, error) {
	raw, derr := bearerToken(authorizationHeader)
	if derr != nil {
		return domain.Principal{}, derr
	}
	iv, err := v.idVerifier(ctx)
	if err != nil {
		return domain.Principal{}, err
	}
	st := &verifyState{}
	_, err = iv.Verify(context.WithValue(ctx, stateKey{}, st), raw)
	if err != nil {
		return domain.Principal{}, v.classify(ctx, raw, st, err)
	}
	// The signature, issuer and audience are verified; st.payload holds the
	// verified claims.
	var c claims
	if err := json.Unmarshal(st.payload, &c); err != nil {
		return domain.Principal{}, unauthorized("bearer token claims are malformed")
	}
	return v.principal(c)
}

func (v *Verifier) classify(ctx context.Context, raw string, st *verifyState, err error) error {
	switch {
	case st.fetchErr != nil:
		v.log.WarnContext(ctx, "oidc key fetch failed", "issuer", v.issuer, "err", st.fetchErr)
		return domain.Wrap(domain.KindTransient, st.fetchErr, errUnavailable)
	case !st.called:
		// go-oidc rejected the token before looking at keys: not a JWS
		// or an algorithm we do not accept.
		if alg, ok := headerAlg(raw); ok && !allowedAlg(alg) {
			return domain.Wrap(domain.KindUnauthorized, err, "bearer token algorithm %q not accepted", safeAlg(alg))
		}
		return domain.Wrap(domain.KindUnauthorized, err, "malformed bearer token")
	case !st.sigOK:
		return domain.Wrap(domain.KindUnauthorized, err, "bearer token signature invalid or signing key unknown")
	}
	// The signature is valid: the issuer or audience check failed.
	var c claims
	if json.Unmarshal(st.payload, &c) == nil {
		if c.Issuer != v.issuer {
			return domain.Wrap(domain.KindUnauthorized, err, "bearer token issuer not accepted")
		}
		if !c.Audience.contains(v.audience) {
			return domain.Wrap(domain.KindUnauthorized, err, "bearer token audience not accepted")
		}
	}
	return domain.Wrap(domain.KindUnauthorized, err, "bearer token rejected")
}

func (v *Verifier) principal(c claims) (domain.Principal, error) {
	now := v.now()
	if c.Expiry == nil {
		return domain.Principal{}, unauthorized("bearer token has no expiry")
	}
	if now.After(c.Expiry.time().Add(v.leeway)) {
		return domain.Principal{}, unauthorized("bearer token expired")
	}
	if c.NotBefore != nil && now.Add(v.leeway).Before(c.NotBefore.time()) {
		return domain.Principal{}, unauthorized("bearer token not yet valid")
	}
	if c.IssuedAt != nil && now.Add(v.leeway).Before(c.IssuedAt.time()) {
		return domain.Principal{}, unauthorized("bearer token issued in the future")
	}
	if strings.TrimSpace(c.Subject) == "" {
		return domain.Principal{}, unauthorized("bearer token has no subject")
	}
	if c.Roles.bad || c.Groups.bad {
		return domain.Principal{}, unauthorized("bearer token has malformed roles or groups")
	}
	return domain.Principal{Subject: c.Subject, Roles: c.Roles.v, Groups: c.Groups.v}, nil
}

// RequireRole returns nil when p holds the app role, else a KindForbidden error.
func RequireRole(p domain.Principal, role string) error {
	if p.HasRole(role) {
		return nil
	}
	return domain.E(domain.KindForbidden, "the %s role is required", role)
}

// bearerToken extracts the compact JWS from an Authorization header value.
func bearerToken(h string) (string, *domain.Error) {
	h = strings.TrimSpace(h)
	if h == "" || strings.EqualFold(h, "Bearer") {
		return "", unauthorized("missing bearer token")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", unauthorized("authorization header must be \"Bearer <token>\"")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", unauthorized("missing bearer token")
	}
	if len(tok) > maxTokenLen {
		return "", unauthorized("bearer token too large")
	}
	if strings.Count(tok, ".") != 2 {
		return "", unauthorized("malformed bearer token")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", unauthorized("malformed bearer token")
		}
	}
	return tok, nil
}

func allowedAlg(alg string) bool {
	for _, a := range AllowedAlgorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// headerAlg reads the (unverified) alg of a compact JWS, for error messages.
func headerAlg(raw string) (string, bool) {
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}

// safeAlg keeps attacker-chosen header text short and printable in messages.
func safeAlg(a string) string {
	if len(a) > 16 {
		a = a[:16]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, a)
}

// claims are the token claims profileflow reads.
type claims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  audience     `json:"aud"`
	Expiry    *numericDate `json:"exp"`
	NotBefore *numericDate `json:"nbf"`
	IssuedAt  *numericDate `json:"iat"`
	Roles     stringList   `json:"roles"`
	Groups    stringList   `json:"groups"`
}

type numericDate float64

func (d numericDate) time() time.Time {
	sec := float64(d)
	return time.Unix(int64(sec), int64((sec-float64(int64(sec)))*1e9))
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

func (a audience) contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// stringList accepts a JSON array of strings; anything else marks it bad
// instead of failing the whole claims decode (so the message can say which).
type stringList struct {
	v   []string
	bad bool
}

func (l *stringList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, &l.v); err != nil {
		l.v, l.bad = nil, true
	}
	return nil
}

// verifyState carries what the key set saw back out of go-oidc's Verify,
// whose errors are flattened strings.
type verifyState struct {
	called   bool
	sigOK    bool
	payload  []byte
	fetchErr error
}

type stateKey struct{}

// keySet wraps go-oidc's RemoteKeySet to record whether the signature
// verified and whether fetching keys failed (transient) as opposed to the
// keys not matching (unauthorized).
type keySet struct{ remote *oidc.RemoteKeySet }

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	st, _ := ctx.Value(stateKey{}).(*verifyState)
	if st == nil {
		return payload, err
	}
	st.called = true
	switch {
	case err == nil:
		st.sigOK, st.payload = true, payload
	case errors.Unwrap(err) != nil:
		// RemoteKeySet wraps key-fetch failures ("fetching keys: %w");
		// a key mismatch is a plain error without a cause.
		st.fetchErr = err
	}
	return payload, err
}

// jwksCache is the HTTP transport for issuer requests. It bounds response
// sizes and throttles JWKS refetches: within the minimum refresh interval a
// successful JWKS body is replayed and a failure is repeated, so tokens with
// unknown kids or bad signatures cannot make us hammer the issuer.
type jwksCache struct {
	base http.RoundTripper
	now  func() time.Time
	min  time.Duration

	mu       sync.Mutex
	url      string
	last     time.Time
	body     []byte
	header   http.Header
	lastFail error
}

func (c *jwksCache) setURL(u string) {
	c.mu.Lock()
	c.url = u
	c.mu.Unlock()
}

func (c *jwksCache) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	isJWKS := req.Method == http.MethodGet && c.url != "" && req.URL.String() == c.url
	if isJWKS && c.min > 0 && !c.last.IsZero() && c.now().Sub(c.last) < c.min {
		body, hdr, fail := c.body, c.header, c.lastFail
		c.mu.Unlock()
		if fail != nil {
			return nil, fmt.Errorf("recent key fetch failed, not retrying yet: %w", fail)
		}
		return &http.Response{
			StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: hdr.Clone(), Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
		}, nil
	}
	c.mu.Unlock()

	resp, err := c.base.RoundTrip(req)
	if !isJWKS {
		if err == nil {
			resp.Body = limitBody(resp.Body)
		}
		return resp, err
	}
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxIssuerResponse))
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("jwks: %s", resp.Status)
		}
	}
	c.mu.Lock()
	c.last = c.now()
	if err != nil {
		c.lastFail = err
		c.mu.Unlock()
		return nil, err
	}
	c.lastFail, c.body, c.header = nil, body, resp.Header.Clone()
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

func limitBody(b io.ReadCloser) io.ReadCloser {
	return limitedBody{Reader: io.LimitReader(b, maxIssuerResponse), Closer: b}
}
