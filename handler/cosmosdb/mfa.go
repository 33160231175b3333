package cosmosdb

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFAStore implements mfa.Store on the mfa container (pk /id). It holds
// three kinds of documents, told apart by an id prefix and a "type" field:
//
//	chal_{challengeId}  a challenge (ttl 24 h)
//	lim_{profileId}     the profile's send/failure counters (ttl 48 h, renewed on each update)
//	tok_{jti}           a consumed MFA token (ttl: until the token's expiry + 1 h)
//
// The ttl fields take effect when the container has TTL on (DefaultTTL -1).
type MFAStore struct {
	c *Container
}

var _ mfa.Store = (*MFAStore)(nil)

// NewMFAStore returns an MFA store on c (the mfa container).
func NewMFAStore(c *Container) *MFAStore { return &MFAStore{c: c} }

const (
	mfaChallengeTTL = 24 * time.Hour
	mfaLimitsTTL    = 48 * time.Hour
)

type mfaChallengeDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.Challenge
	TTL int64 `json:"ttl"`
}

type mfaLimitsDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.Limits
	TTL int64 `json:"ttl"`
}

type mfaTokenUseDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	mfa.TokenUse
	TTL int64 `json:"ttl"`
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

func (s *MFAStore) GetChallenge(ctx context.Context, id string) (mfa.Challenge, error) {
	if checkID(challengeDocID(id)) != nil {
		return mfa.Challenge{}, domain.E(domain.KindNotFound, "challenge not found")
	}
	var d mfaChallengeDoc
	etag, err := s.c.Read(ctx, challengeDocID(id), &d)
	if err != nil {
		return mfa.Challenge{}, relabel(err, mfaChallengeMsgs)
	}
	d.Challenge.ETag = etag
	return d.Challenge, nil
}

func (s *MFAStore) challengeDoc(c mfa.Challenge) mfaChallengeDoc {
	return mfaChallengeDoc{ID: challengeDocID(c.ID), Type: "challenge", Challenge: c, TTL: int64(mfaChallengeTTL / time.Second)}
}

func (s *MFAStore) CreateChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	etag, err := s.c.Create(ctx, challengeDocID(c.ID), s.challengeDoc(c))
	if err != nil {
		return mfa.Challenge{}, relabel(err, mfaChallengeMsgs)
	}
	c.ETag = etag
	return c, nil
}

func (s *MFAStore) ReplaceChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	if c.ETag == "" {
		return mfa.Challenge{}, domain.E(domain.KindInternal, "challenge replaced without an ETag")
	}
	etag, err := s.c.Replace(ctx, challengeDocID(c.ID), s.challengeDoc(c), c.ETag)
	if err != nil {
		return mfa.Challenge{}, relabel(err, mfaChallengeMsgs)
	}
	c.ETag = etag
	return c, nil
}

func (s *MFAStore) GetLimits(ctx context.Context, profileID string) (mfa.Limits, error) {
	if checkID(limitsDocID(profileID)) != nil {
		return mfa.Limits{}, domain.E(domain.KindInvalid, "invalid profile id")
	}
	var d mfaLimitsDoc
	etag, err := s.c.Read(ctx, limitsDocID(profileID), &d)
	if err != nil {
		return mfa.Limits{}, relabel(err, mfaLimitsMsgs)
	}
	d.Limits.ETag = etag
	return d.Limits, nil
}

// SaveLimits creates (empty ETag) or replaces (ETag-checked) the counters;
// losing a race either way is KindStale.
func (s *MFAStore) SaveLimits(ctx context.Context, l mfa.Limits) (mfa.Limits, error) {
	d := mfaLimitsDoc{ID: limitsDocID(l.ProfileID), Type: "limits", Limits: l, TTL: int64(mfaLimitsTTL / time.Second)}
	var (
		etag string
		err  error
	)
	if l.ETag == "" {
		etag, err = s.c.Create(ctx, d.ID, d)
		if domain.Is(err, domain.KindConflict) {
			return mfa.Limits{}, domain.Wrap(domain.KindStale, err, "MFA counters were changed by another request")
		}
	} else {
		etag, err = s.c.Replace(ctx, d.ID, d, l.ETag)
		if domain.Is(err, domain.KindNotFound) {
			// Deleted (TTL) since it was read: start over from a fresh read.
			return mfa.Limits{}, domain.Wrap(domain.KindStale, err, "MFA counters were changed by another request")
		}
	}
	if err != nil {
		return mfa.Limits{}, relabel(err, mfaLimitsMsgs)
	}
	l.ETag = etag
	return l, nil
}

func (s *MFAStore) CreateTokenUse(ctx context.Context, u mfa.TokenUse) error {
	ttl := int64(time.Until(u.ExpiresAt.Add(time.Hour)) / time.Second)
	d := mfaTokenUseDoc{ID: tokenDocID(u.TokenID), Type: "token-use", TokenUse: u, TTL: max(ttl, 3600)}
	if _, err := s.c.Create(ctx, d.ID, d); err != nil {
		return relabel(err, mfaTokenMsgs)
	}
	return nil
}
