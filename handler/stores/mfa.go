package stores

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFA is the mfa.Store on an mfa container (TTL on). It holds three kinds
// of documents, told apart by an id prefix and a "type" field:
//
//	chal_{challengeId}  a challenge (type "challenge", lives 24 h)
//	lim_{profileId}     the profile's send/failure counters (type "limits", lives 48 h, renewed on each save)
//	tok_{jti}           a consumed MFA token (type "token-use", lives until the token's expiry + 1 h, at least 1 h)
//
// Each document carries its end of life in docstore.ExpiryField and the
// matching "ttl" (docstore.Lifetime); past it the document is absent
// (docstore.Expiring) even before Cosmos DB's TTL deletes it, and a
// challenge, counters or token use can be created again under its id.
type MFA struct {
	docs docstore.Docs
	now  func() time.Time
}

var _ mfa.Store = (*MFA)(nil)

// NewMFA returns the MFA store on docs.
func NewMFA(docs docstore.Docs, opts ...Option) *MFA {
	o := newOptions(opts)
	return &MFA{docs: o.expiring(docs), now: o.now}
}

const (
	mfaChallengeTTL = 24 * time.Hour
	mfaLimitsTTL    = 48 * time.Hour
)

type mfaChallengeDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.Challenge
	DocExpiresAt time.Time `json:"docExpiresAt"`
	TTL          int64     `json:"ttl"`
}

type mfaLimitsDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.Limits
	DocExpiresAt time.Time `json:"docExpiresAt"`
	TTL          int64     `json:"ttl"`
}

type mfaTokenUseDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.TokenUse
	DocExpiresAt time.Time `json:"docExpiresAt"`
	TTL          int64     `json:"ttl"`
}

var (
	mfaChallengeMsgs = map[domain.Kind]string{
		domain.KindNotFound:  "challenge not found",
		domain.KindConflict:  "challenge already exists",
		domain.KindStale:     "challenge was changed by another request",
		domain.KindTransient: "MFA records are unavailable; retry later",
	}
	mfaLimitsMsgs = map[domain.Kind]string{
		domain.KindNotFound:  "no MFA counters",
		domain.KindConflict:  "MFA counters were changed by another request",
		domain.KindStale:     "MFA counters were changed by another request",
		domain.KindTransient: "MFA records are unavailable; retry later",
	}
	mfaTokenMsgs = map[domain.Kind]string{
		domain.KindConflict:  "MFA token already used",
		domain.KindTransient: "MFA records are unavailable; retry later",
	}
)

func challengeDocID(id string) string     { return "chal_" + id }
func limitsDocID(profileID string) string { return "lim_" + profileID }
func tokenDocID(jti string) string        { return "tok_" + jti }

// GetChallenge returns the challenge id: KindNotFound "challenge not found"
// if there is none (also for ids no document can have).
func (s *MFA) GetChallenge(ctx context.Context, id string) (mfa.Challenge, error) {
	if docstore.CheckID(challengeDocID(id)) != nil {
		return mfa.Challenge{}, domain.E(domain.KindNotFound, "challenge not found")
	}
	var d mfaChallengeDoc
	etag, err := s.docs.Read(ctx, challengeDocID(id), &d)
	if err != nil {
		return mfa.Challenge{}, docstore.Relabel(err, mfaChallengeMsgs)
	}
	d.Challenge.ETag = etag
	return d.Challenge, nil
}

func (s *MFA) challengeDoc(c mfa.Challenge) mfaChallengeDoc {
	exp, ttl := docstore.Lifetime(s.now(), mfaChallengeTTL)
	return mfaChallengeDoc{ID: challengeDocID(c.ID), Type: "challenge", Challenge: c, DocExpiresAt: exp, TTL: ttl}
}

// CreateChallenge stores a new challenge (KindConflict if the id exists).
func (s *MFA) CreateChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	etag, err := s.docs.Create(ctx, challengeDocID(c.ID), s.challengeDoc(c))
	if err != nil {
		return mfa.Challenge{}, docstore.Relabel(err, mfaChallengeMsgs)
	}
	c.ETag = etag
	return c, nil
}

// ReplaceChallenge writes c if the stored ETag equals c.ETag (KindStale
// otherwise; a challenge without ETag is KindInternal).
func (s *MFA) ReplaceChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	if c.ETag == "" {
		return mfa.Challenge{}, domain.E(domain.KindInternal, "challenge replaced without an ETag")
	}
	etag, err := s.docs.Replace(ctx, challengeDocID(c.ID), s.challengeDoc(c), c.ETag)
	if err != nil {
		return mfa.Challenge{}, docstore.Relabel(err, mfaChallengeMsgs)
	}
	c.ETag = etag
	return c, nil
}

// GetLimits returns the profile's counters (KindNotFound when none yet;
// KindInvalid for a profile id no document can have).
func (s *MFA) GetLimits(ctx context.Context, profileID string) (mfa.Limits, error) {
	if docstore.CheckID(limitsDocID(profileID)) != nil {
		return mfa.Limits{}, domain.E(domain.KindInvalid, "invalid profile id")
	}
	var d mfaLimitsDoc
	etag, err := s.docs.Read(ctx, limitsDocID(profileID), &d)
	if err != nil {
		return mfa.Limits{}, docstore.Relabel(err, mfaLimitsMsgs)
	}
	d.Limits.ETag = etag
	return d.Limits, nil
}

// SaveLimits creates (empty ETag) or replaces (ETag-checked) the counters;
// losing a race either way — including counters deleted by their TTL since
// they were read — is KindStale.
func (s *MFA) SaveLimits(ctx context.Context, l mfa.Limits) (mfa.Limits, error) {
	exp, ttl := docstore.Lifetime(s.now(), mfaLimitsTTL)
	d := mfaLimitsDoc{ID: limitsDocID(l.ProfileID), Type: "limits", Limits: l, DocExpiresAt: exp, TTL: ttl}
	var (
		etag string
		err  error
	)
	if l.ETag == "" {
		etag, err = s.docs.Create(ctx, d.ID, d)
		if domain.Is(err, domain.KindConflict) {
			return mfa.Limits{}, domain.Wrap(domain.KindStale, err, "MFA counters were changed by another request")
		}
	} else {
		etag, err = s.docs.Replace(ctx, d.ID, d, l.ETag)
		if domain.Is(err, domain.KindNotFound) {
			return mfa.Limits{}, domain.Wrap(domain.KindStale, err, "MFA counters were changed by another request")
		}
	}
	if err != nil {
		return mfa.Limits{}, docstore.Relabel(err, mfaLimitsMsgs)
	}
	l.ETag = etag
	return l, nil
}

// GetTokenUse reads the use of token id (KindNotFound when it is unused or
// its record expired).
func (s *MFA) GetTokenUse(ctx context.Context, id string) (mfa.TokenUse, error) {
	var d mfaTokenUseDoc
	if _, err := s.docs.Read(ctx, tokenDocID(id), &d); err != nil {
		return mfa.TokenUse{}, docstore.Relabel(err, mfaTokenMsgs)
	}
	return d.TokenUse, nil
}

// CreateTokenUse records a consumed token (KindConflict "MFA token already
// used" if it is recorded).
func (s *MFA) CreateTokenUse(ctx context.Context, u mfa.TokenUse) error {
	now := s.now()
	exp, ttl := docstore.Lifetime(now, max(u.ExpiresAt.Add(time.Hour).Sub(now), time.Hour))
	d := mfaTokenUseDoc{ID: tokenDocID(u.TokenID), Type: "token-use", TokenUse: u, DocExpiresAt: exp, TTL: ttl}
	if _, err := s.docs.Create(ctx, d.ID, d); err != nil {
		return docstore.Relabel(err, mfaTokenMsgs)
	}
	return nil
}
