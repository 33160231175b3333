package mfa_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
)

// racyStore loses every ETag-checked write it is told to (as if another
// request always wrote first) and counts the attempts.
type racyStore struct {
	mfa.Store
	staleLimits, staleChallenges bool
	limitSaves, challengeWrites  int
}

func (s *racyStore) SaveLimits(ctx context.Context, l mfa.Limits) (mfa.Limits, error) {
	s.limitSaves++
	if s.staleLimits {
		return mfa.Limits{}, domain.E(domain.KindStale, "MFA counters were changed by another request")
	}
	return s.Store.SaveLimits(ctx, l)
}

func (s *racyStore) ReplaceChallenge(ctx context.Context, c mfa.Challenge) (mfa.Challenge, error) {
	s.challengeWrites++
	if s.staleChallenges {
		return mfa.Challenge{}, domain.E(domain.KindStale, "challenge was changed by another request")
	}
	return s.Store.ReplaceChallenge(ctx, c)
}

func racyEnv(t *testing.T) (*mfa.Service, *racyStore, *fakeVerifier) {
	t.Helper()
	signer, err := mfa.NewSigner(10*time.Minute, key(0))
	if err != nil {
		t.Fatal(err)
	}
	store := &racyStore{Store: memory.NewMFAStore()}
	ver := &fakeVerifier{}
	svc, err := mfa.NewService(mfa.Options{Store: store, Verifier: ver, Signer: signer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store, ver
}

func wantBusy(t *testing.T, err error, msg string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindTransient || de.Msg != msg || de.RetryAfter != docstore.BusyRetryAfter {
		t.Fatalf("err = %#v, want KindTransient %q with Retry-After %v", err, msg, docstore.BusyRetryAfter)
	}
}

// The counters' read-modify-write gives up by the one rule of
// docstore.Retry, before any SMS is sent.
func TestChallengeGivesUpOnBusyCounters(t *testing.T) {
	svc, store, ver := racyEnv(t)
	store.staleLimits = true
	_, err := svc.Challenge(context.Background(), alice(), profA())
	wantBusy(t, err, "the MFA counter record is busy; retry shortly")
	if store.limitSaves != docstore.MaxAttempts {
		t.Errorf("%d counter writes, want %d", store.limitSaves, docstore.MaxAttempts)
	}
	if ver.starts != 0 {
		t.Errorf("%d SMS sent, want none", ver.starts)
	}
}

// Reserving a check on a challenge gives up by the same rule, before the
// code reaches the provider.
func TestVerifyGivesUpOnBusyChallenge(t *testing.T) {
	svc, store, ver := racyEnv(t)
	r, err := svc.Challenge(context.Background(), alice(), profA())
	if err != nil {
		t.Fatal(err)
	}
	store.staleChallenges = true
	_, err = svc.Verify(context.Background(), alice(), r.ChallengeID, goodCode)
	wantBusy(t, err, "the challenge is busy; retry shortly")
	if store.challengeWrites != docstore.MaxAttempts {
		t.Errorf("%d challenge writes, want %d", store.challengeWrites, docstore.MaxAttempts)
	}
	if ver.checkCount() != 0 {
		t.Errorf("%d provider checks, want none", ver.checkCount())
	}
}
