// Package oidc is the development host's local OpenID Connect issuer: a
// discovery document, a JWKS and a token endpoint that mints signed access
// tokens for any subject. It exists for local runs and tests only and is never
// part of the Azure deployment.
package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// DefaultTTL is the lifetime of tokens minted by the token endpoint when
	// the request does not say otherwise.
	DefaultTTL = time.Hour
	// MaxTTL bounds ttlSeconds on the token endpoint.
	MaxTTL = 24 * time.Hour

	maxTokenRequest = 64 << 10
	rsaBits         = 2048
)

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// Issuer is a local OIDC issuer with an in-memory RSA signing key.
type Issuer struct {
	issuer   string // exact "iss" value (issuerURL without trailing slash)
	audience string
	path     string // URL path of the issuer, no trailing slash ("" for the root)
	tokenURL string

	mu       sync.RWMutex
	current  signingKey
	previous []signingKey // still published in the JWKS after Rotate
}

// NewIssuer creates an issuer whose "iss" is issuerURL (e.g.
// http://127.0.0.1:7071/dev/oidc) and whose default audience is audience. It
// generates a fresh RSA-2048 key.
func NewIssuer(issuerURL, audience string) (*Issuer, error) {
	u, err := url.Parse(issuerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dev oidc: issuer URL %q must be an absolute http(s) URL without query", issuerURL)
	}
	if audience == "" {
		return nil, errors.New("dev oidc: audience must not be empty")
	}
	k, err := newKey()
	if err != nil {
		return nil, err
	}
	path := strings.TrimSuffix(u.Path, "/")
	return &Issuer{
		issuer:   strings.TrimSuffix(issuerURL, "/"),
		audience: audience,
		path:     path,
		tokenURL: u.Scheme + "://" + u.Host + "/dev/token",
		current:  k,
	}, nil
}

func newKey() (signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return signingKey{}, fmt.Errorf("dev oidc: generate key: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return signingKey{}, fmt.Errorf("dev oidc: key id: %w", err)
	}
	return signingKey{kid: "dev-" + hex.EncodeToString(b[:]), key: key}, nil
}

// IssuerURL is the exact "iss" value of minted tokens.
func (i *Issuer) IssuerURL() string { return i.issuer }

// Audience is the default "aud" value of minted tokens.
func (i *Issuer) Audience() string { return i.audience }

// KeyID is the kid of the current signing key.
func (i *Issuer) KeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.current.kid
}

// PublicKey is the public half of the current signing key.
func (i *Issuer) PublicKey() *rsa.PublicKey {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return &i.current.key.PublicKey
}

// Rotate replaces the signing key with a new one (new kid). The old public key
// stays in the JWKS so tokens already issued keep verifying, as real issuers do.
func (i *Issuer) Rotate() error {
	k, err := newKey()
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.previous = append([]signingKey{i.current}, i.previous...)
	if len(i.previous) > 2 {
		i.previous = i.previous[:2]
	}
	i.current = k
	return nil
}

// DiscoveryPath and JWKSPath are the full URL paths the Handler serves.
func (i *Issuer) DiscoveryPath() string { return i.path + "/.well-known/openid-configuration" }

// JWKSPath is the full URL path of the key set.
func (i *Issuer) JWKSPath() string { return i.path + "/jwks" }

// Handler serves GET <issuer path>/.well-known/openid-configuration and GET
// <issuer path>/jwks on full request paths (mount it without StripPrefix).
func (i *Issuer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body any
		switch r.URL.Path {
		case i.DiscoveryPath():
			body = i.discovery()
		case i.JWKSPath():
			body = i.JWKS()
		default:
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, body)
	})
}

type discoveryDoc struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

func (i *Issuer) discovery() discoveryDoc {
	return discoveryDoc{
		Issuer:                           i.issuer,
		JWKSURI:                          i.issuer + "/jwks",
		TokenEndpoint:                    i.tokenURL,
		IDTokenSigningAlgValuesSupported: []string{string(jose.RS256)},
		ResponseTypesSupported:           []string{"token"},
		SubjectTypesSupported:            []string{"public"},
		ClaimsSupported:                  []string{"iss", "sub", "aud", "exp", "nbf", "iat", "roles", "groups"},
	}
}

// JWKS returns the public key set (current key first, then recent ones).
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	i.mu.RLock()
	defer i.mu.RUnlock()
	set := jose.JSONWebKeySet{}
	for _, k := range append([]signingKey{i.current}, i.previous...) {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set
}

// Claims returns the standard claims of an access token for sub that lives
// for ttl: iss, aud, sub, iat, nbf, exp. Tests modify the map and pass it to
// MintClaims.
func (i *Issuer) Claims(sub string, ttl time.Duration) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.issuer,
		"aud": i.audience,
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
}

// Mint signs an access token for sub with the given app roles and groups
// (omitted from the token when empty, as Entra does) and lifetime.
func (i *Issuer) Mint(sub string, roles, groups []string, ttl time.Duration) (string, error) {
	if sub == "" {
		return "", errors.New("dev oidc: sub must not be empty")
	}
	c := i.Claims(sub, ttl)
	if len(roles) > 0 {
		c["roles"] = roles
	}
	if len(groups) > 0 {
		c["groups"] = groups
	}
	return i.MintClaims(c)
}

type mintOptions struct {
	alg    jose.SignatureAlgorithm
	key    any
	kid    string
	kidSet bool
	typ    string
}

// MintOption changes how MintClaims signs.
type MintOption func(*mintOptions)

// WithSigningKey signs with key (e.g. *rsa.PrivateKey, *ecdsa.PrivateKey or
// []byte for HS256) using alg (e.g. "RS256", "ES256", "HS256") and sets the
// header kid to kid ("" for no kid). For negative tests.
func WithSigningKey(alg string, key any, kid string) MintOption {
	return func(o *mintOptions) { o.alg, o.key, o.kid, o.kidSet = jose.SignatureAlgorithm(alg), key, kid, true }
}

// WithKeyID overrides the header kid while still signing with the issuer's
// current key (e.g. an unknown kid).
func WithKeyID(kid string) MintOption {
	return func(o *mintOptions) { o.kid, o.kidSet = kid, true }
}

// WithType sets the typ header (default "JWT").
func WithType(typ string) MintOption { return func(o *mintOptions) { o.typ = typ } }

// MintClaims signs exactly claims (no defaults are added) as a compact JWS.
// By default it signs with the issuer's current key, RS256, header kid set.
func (i *Issuer) MintClaims(claims map[string]any, opts ...MintOption) (string, error) {
	i.mu.RLock()
	cur := i.current
	i.mu.RUnlock()
	o := mintOptions{alg: jose.RS256, key: cur.key, kid: cur.kid, typ: "JWT"}
	for _, opt := range opts {
		opt(&o)
	}
	so := (&jose.SignerOptions{}).WithType(jose.ContentType(o.typ))
	if o.kid != "" {
		so = so.WithHeader("kid", o.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: o.alg, Key: o.key}, so)
	if err != nil {
		return "", fmt.Errorf("dev oidc: signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("dev oidc: sign: %w", err)
	}
	return tok, nil
}

// TokenRequest is the body of POST /dev/token.
type TokenRequest struct {
	Sub        string   `json:"sub"`
	Roles      []string `json:"roles"`
	Groups     []string `json:"groups"`
	TTLSeconds int      `json:"ttlSeconds,omitempty"`
	Aud        string   `json:"aud,omitempty"`
}

// TokenResponse is the 200 body of POST /dev/token.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// TokenHandler serves POST /dev/token: JSON TokenRequest in, TokenResponse
// out; 400 {"Status":"Rejected","error":...} for bad JSON, a missing sub or
// an out-of-range ttlSeconds. It answers loopback callers only.
func (i *Issuer) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		if !isLoopback(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "the dev token endpoint answers loopback callers only")
			return
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenRequest))
		dec.DisallowUnknownFields()
		var req TokenRequest
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, http.StatusBadRequest, "invalid JSON body: trailing data")
			return
		}
		if strings.TrimSpace(req.Sub) == "" {
			writeError(w, http.StatusBadRequest, `"sub" is required`)
			return
		}
		ttl := DefaultTTL
		if req.TTLSeconds != 0 {
			ttl = time.Duration(req.TTLSeconds) * time.Second
			if req.TTLSeconds < 0 || ttl > MaxTTL {
				writeError(w, http.StatusBadRequest, fmt.Sprintf(`"ttlSeconds" must be between 1 and %d`, int(MaxTTL/time.Second)))
				return
			}
		}
		c := i.Claims(req.Sub, ttl)
		if req.Aud != "" {
			c["aud"] = req.Aud
		}
		if len(req.Roles) > 0 {
			c["roles"] = req.Roles
		}
		if len(req.Groups) > 0 {
			c["groups"] = req.Groups
		}
		tok, err := i.MintClaims(c)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "could not sign token")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(ttl / time.Second)})
	})
}

func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"Status": "Rejected", "error": msg})
}
