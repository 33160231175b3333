package memory

import (
	"context"
	"slices"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFAStore is an in-memory mfa.Store with ETag semantics like Cosmos DB.
type MFAStore struct {
	challenges *Docs[mfa.Challenge]
	limits     *Docs[mfa.Limits]
	uses       *Docs[mfa.TokenUse]
}

var _ mfa.Store = (*MFAStore)(nil)

// NewMFAStore returns an empty store.
func NewMFAStore() *MFAStore {
	return &MFAStore{
		challenges: NewDocs[mfa.Challenge]("challenge"),
		limits:     NewDocs[mfa.Limits]("counters"),
		uses:       NewDocs[mfa.TokenUse]("token use"),
	}
}

func (s *MFAStore) GetChallenge(ctx context.Context, id string) (mfa.Challenge, error) {
	c, etag, err := s.challenges.Get(ctx, id)
	c.ETag = etag
	return c, err
}

func (s *MFAStore) CreateChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	etag, err := s.challenges.Create(ctx, c.ID, c)
	if err != nil {
		return mfa.Challenge{}, err
	}
	c.ETag = etag
	return c, nil
}

func (s *MFAStore) ReplaceChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	etag, err := s.challenges.Replace(ctx, c.ID, c, c.ETag)
	if err != nil {
		return mfa.Challenge{}, err
	}
	c.ETag = etag
	return c, nil
}

func (s *MFAStore) GetLimits(ctx context.Context, profileID string) (mfa.Limits, error) {
	l, etag, err := s.limits.Get(ctx, profileID)
	if err != nil {
		return mfa.Limits{}, err
	}
	l.Sends, l.Failures, l.ETag = slices.Clone(l.Sends), slices.Clone(l.Failures), etag
	return l, nil
}

// SaveLimits creates the counters (empty ETag) or replaces them (ETag
// checked); any mismatch is KindStale so the caller re-reads.
func (s *MFAStore) SaveLimits(ctx context.Context, l mfa.Limits) (mfa.Limits, error) {
	l.Sends, l.Failures = slices.Clone(l.Sends), slices.Clone(l.Failures)
	var etag string
	var err error
	if l.ETag == "" {
		etag, err = s.limits.Create(ctx, l.ProfileID, l)
	} else {
		etag, err = s.limits.Replace(ctx, l.ProfileID, l, l.ETag)
	}
	if domain.Is(err, domain.KindConflict) || domain.Is(err, domain.KindNotFound) {
		return mfa.Limits{}, domain.E(domain.KindStale, "counters changed meanwhile")
	}
	if err != nil {
		return mfa.Limits{}, err
	}
	l.ETag = etag
	return l, nil
}

func (s *MFAStore) CreateTokenUse(ctx context.Context, u mfa.TokenUse) error {
	_, err := s.uses.Create(ctx, u.TokenID, u)
	if domain.Is(err, domain.KindConflict) {
		return domain.E(domain.KindConflict, "token already used")
	}
	return err
}
