package memory

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFAStore is an in-memory mfa.Store with ETag semantics like Cosmos DB.
type MFAStore struct {
	mu         sync.Mutex
	seq        int
	challenges map[string]mfa.Challenge
	limits     map[string]mfa.Limits
	uses       map[string]mfa.TokenUse
}

var _ mfa.Store = (*MFAStore)(nil)

// NewMFAStore returns an empty store.
func NewMFAStore() *MFAStore {
	return &MFAStore{
		challenges: map[string]mfa.Challenge{},
		limits:     map[string]mfa.Limits{},
		uses:       map[string]mfa.TokenUse{},
	}
}

func (s *MFAStore) nextETag() string {
	s.seq++
	return `"mfa-` + strconv.Itoa(s.seq) + `"`
}

func mfaCloneTimes(ts []time.Time) []time.Time { return append([]time.Time(nil), ts...) }

func (s *MFAStore) GetChallenge(_ context.Context, id string) (mfa.Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.challenges[id]
	if !ok {
		return mfa.Challenge{}, domain.E(domain.KindNotFound, "challenge not found")
	}
	return c, nil
}

func (s *MFAStore) CreateChallenge(_ context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.challenges[c.ID]; ok {
		return mfa.Challenge{}, domain.E(domain.KindConflict, "challenge exists")
	}
	c.ETag = s.nextETag()
	s.challenges[c.ID] = c
	return c, nil
}

func (s *MFAStore) ReplaceChallenge(_ context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.challenges[c.ID]
	if !ok {
		return mfa.Challenge{}, domain.E(domain.KindNotFound, "challenge not found")
	}
	if old.ETag != c.ETag {
		return mfa.Challenge{}, domain.E(domain.KindStale, "challenge changed meanwhile")
	}
	c.ETag = s.nextETag()
	s.challenges[c.ID] = c
	return c, nil
}

func (s *MFAStore) GetLimits(_ context.Context, profileID string) (mfa.Limits, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limits[profileID]
	if !ok {
		return mfa.Limits{}, domain.E(domain.KindNotFound, "no counters")
	}
	l.Sends, l.Failures = mfaCloneTimes(l.Sends), mfaCloneTimes(l.Failures)
	return l, nil
}

func (s *MFAStore) SaveLimits(_ context.Context, l mfa.Limits) (mfa.Limits, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.limits[l.ProfileID]
	if (l.ETag == "" && ok) || (l.ETag != "" && (!ok || old.ETag != l.ETag)) {
		return mfa.Limits{}, domain.E(domain.KindStale, "counters changed meanwhile")
	}
	l.Sends, l.Failures = mfaCloneTimes(l.Sends), mfaCloneTimes(l.Failures)
	l.ETag = s.nextETag()
	s.limits[l.ProfileID] = l
	return l, nil
}

func (s *MFAStore) CreateTokenUse(_ context.Context, u mfa.TokenUse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uses[u.TokenID]; ok {
		return domain.E(domain.KindConflict, "token already used")
	}
	s.uses[u.TokenID] = u
	return nil
}
