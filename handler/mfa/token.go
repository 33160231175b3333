package mfa

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// PurposeProfileUpdate is the only purpose MFA tokens are issued for.
const PurposeProfileUpdate = "profile-update"

// MaxTokenTTL is the longest lifetime an MFA token may have.
const MaxTokenTTL = 10 * time.Minute

// MinKeyBytes is the shortest accepted HMAC key.
const MinKeyBytes = 32

// maxTokenLen bounds the size of a token the parser looks at.
const maxTokenLen = 2048

// Claims are the contents of an MFA token. A token is a compact JWS
// (header.payload.signature, HS256) so it can be verified without a network
// call.
type Claims struct {
	Subject   string `json:"sub"`
	ProfileID string `json:"pid"`
	Purpose   string `json:"pur"`
	ID        string `json:"jti"`
	Challenge string `json:"cid,omitempty"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
}

// Expiry is the token's expiry as a time.
func (c Claims) Expiry() time.Time { return time.Unix(c.ExpiresAt, 0).UTC() }

// Signer issues and verifies MFA tokens with HMAC-SHA256. The first key signs;
// every key verifies (so keys can be rotated).
type Signer struct {
	keys [][]byte
	ttl  time.Duration
}

// NewSigner builds a signer. ttl must be in (0, 10m]; each key ≥ 32 bytes.
func NewSigner(ttl time.Duration, keys ...[]byte) (*Signer, error) {
	if ttl <= 0 || ttl > MaxTokenTTL {
		return nil, errors.New("mfa: token TTL must be between 1s and 10m")
	}
	if len(keys) == 0 {
		return nil, errors.New("mfa: no token key")
	}
	for _, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, errors.New("mfa: token key shorter than 32 bytes")
		}
	}
	return &Signer{keys: keys, ttl: ttl}, nil
}

// ParseKeys decodes a comma-separated list of base64 (std or URL, padded or
// not) keys, as held by the MFA_TOKEN_KEY setting.
func ParseKeys(s string) ([][]byte, error) {
	var out [][]byte
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var k []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err = enc.DecodeString(part); err == nil {
				break
			}
		}
		if err != nil {
			return nil, errors.New("mfa: MFA_TOKEN_KEY is not base64")
		}
		if len(k) < MinKeyBytes {
			return nil, errors.New("mfa: MFA_TOKEN_KEY must decode to at least 32 bytes")
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("mfa: MFA_TOKEN_KEY is empty")
	}
	return out, nil
}

// TTL is the lifetime of issued tokens.
func (s *Signer) TTL() time.Duration { return s.ttl }

var tokenHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Issue signs a token for subject and profile, valid from now for the TTL.
func (s *Signer) Issue(subject, profileID, challengeID string, now time.Time) (string, Claims, error) {
	jti, err := randomID()
	if err != nil {
		return "", Claims{}, err
	}
	c := Claims{
		Subject:   subject,
		ProfileID: profileID,
		Purpose:   PurposeProfileUpdate,
		ID:        jti,
		Challenge: challengeID,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(s.ttl).Unix(),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", Claims{}, err
	}
	signingInput := tokenHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(mac(s.keys[0], signingInput)), c, nil
}

func mac(key []byte, input string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(input))
	return h.Sum(nil)
}

var errBadToken = domain.E(domain.KindUnauthorized, "the MFA token is invalid; verify an SMS code again (POST /api/v1/mfa/challenge, then /api/v1/mfa/verify)")

// Parse verifies a token's signature and time window and returns its claims.
// It does not check the subject, profile or single use (see Service.Check).
// Every failure is KindUnauthorized.
func (s *Signer) Parse(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, domain.E(domain.KindUnauthorized, "an MFA token is required (X-MFA-Token); verify an SMS code first (POST /api/v1/mfa/challenge, then /api/v1/mfa/verify)")
	}
	if len(token) > maxTokenLen {
		return Claims{}, errBadToken
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errBadToken
	}
	hdr, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return Claims{}, errBadToken
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := strictUnmarshal(hdr, &h); err != nil || h.Alg != "HS256" {
		return Claims{}, errBadToken
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, errBadToken
	}
	signingInput := parts[0] + "." + parts[1]
	ok := false
	for _, k := range s.keys {
		if hmac.Equal(sig, mac(k, signingInput)) {
			ok = true
			break
		}
	}
	if !ok {
		return Claims{}, errBadToken
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return Claims{}, errBadToken
	}
	var c Claims
	if err := strictUnmarshal(payload, &c); err != nil {
		return Claims{}, errBadToken
	}
	if c.Subject == "" || c.ProfileID == "" || c.ID == "" || c.Purpose == "" || c.ExpiresAt == 0 {
		return Claims{}, errBadToken
	}
	if c.ExpiresAt-c.IssuedAt > int64(MaxTokenTTL/time.Second) || c.ExpiresAt < c.IssuedAt {
		return Claims{}, errBadToken
	}
	// Issued in the future (beyond a small skew between instances) is invalid.
	if c.IssuedAt > now.Add(time.Minute).Unix() {
		return Claims{}, errBadToken
	}
	if now.Unix() >= c.ExpiresAt {
		return Claims{}, domain.E(domain.KindUnauthorized, "the MFA token has expired; verify a new SMS code")
	}
	return c, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// randomID returns 128 random bits, base64url without padding (22 chars).
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
