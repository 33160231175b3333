package cosmosdb

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

func TestMFAStoreDocuments(t *testing.T) {
	ttl := int32(-1)
	s := NewMFAStore(testContainer(t, &ttl))
	ctx := testCtx(t)
	now := time.Now().UTC().Truncate(time.Second)

	// Challenges: create, read back, ETag-checked replace.
	c := mfa.Challenge{ID: "c1", ProfileID: "p1", Subject: "alice", Phone: "+15555551000", VerificationID: "VE1",
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Status: mfa.StatusPending}
	created, err := s.CreateChallenge(ctx, c)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateChallenge = %+v, %v", created, err)
	}
	_, err = s.CreateChallenge(ctx, c)
	wantKind(t, "duplicate challenge", err, domain.KindConflict)
	got, err := s.GetChallenge(ctx, "c1")
	if err != nil || got.ETag != created.ETag || got.Subject != "alice" || got.VerificationID != "VE1" || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("GetChallenge = %+v, %v", got, err)
	}
	got.Attempts = 1
	upd, err := s.ReplaceChallenge(ctx, got)
	if err != nil || upd.ETag == got.ETag {
		t.Fatalf("ReplaceChallenge = %+v, %v", upd, err)
	}
	got.Attempts = 2
	_, err = s.ReplaceChallenge(ctx, got) // stale ETag
	wantKind(t, "stale challenge replace", err, domain.KindStale)
	_, err = s.GetChallenge(ctx, "nope")
	wantKind(t, "missing challenge", err, domain.KindNotFound)
	_, err = s.GetChallenge(ctx, "bad/id")
	wantKind(t, "bad challenge id", err, domain.KindNotFound)

	// Limits: NotFound, create, replace, races are Stale.
	_, err = s.GetLimits(ctx, "p1")
	wantKind(t, "no limits yet", err, domain.KindNotFound)
	l, err := s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1", Sends: []time.Time{now}})
	if err != nil || l.ETag == "" {
		t.Fatalf("SaveLimits create = %+v, %v", l, err)
	}
	_, err = s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1"})
	wantKind(t, "second create", err, domain.KindStale)
	l.Failures = []time.Time{now}
	l2, err := s.SaveLimits(ctx, l)
	if err != nil {
		t.Fatalf("SaveLimits replace: %v", err)
	}
	_, err = s.SaveLimits(ctx, l) // old ETag
	wantKind(t, "stale replace", err, domain.KindStale)
	back, err := s.GetLimits(ctx, "p1")
	if err != nil || back.ETag != l2.ETag || len(back.Sends) != 1 || len(back.Failures) != 1 || !back.Sends[0].Equal(now) {
		t.Fatalf("GetLimits = %+v, %v", back, err)
	}

	// Token uses: single create.
	u := mfa.TokenUse{TokenID: "jti-1_x", ProfileID: "p1", Subject: "alice", UsedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.CreateTokenUse(ctx, u); err != nil {
		t.Fatalf("CreateTokenUse: %v", err)
	}
	wantKind(t, "token replay", s.CreateTokenUse(ctx, u), domain.KindConflict)

	// The stored documents carry their type and ttl.
	var raw map[string]any
	if _, err := s.c.Read(ctx, "tok_jti-1_x", &raw); err != nil || raw["type"] != "token-use" || raw["ttl"].(float64) < 3600 {
		t.Fatalf("token doc = %v, %v", raw, err)
	}
	if _, err := s.c.Read(ctx, "chal_c1", &raw); err != nil || raw["type"] != "challenge" || raw["challengeId"] != "c1" {
		t.Fatalf("challenge doc = %v, %v", raw, err)
	}
}

type stubVerifier struct{}

func (stubVerifier) StartVerification(context.Context, string) (string, error) { return "VE1", nil }
func (stubVerifier) CheckVerification(_ context.Context, _, _, code string) (bool, error) {
	return code == "123456", nil
}

// The service's limits hold against the real store under concurrency: the
// ETag-checked read-modify-write never lets more than 5 challenges through.
func TestMFAServiceLimitsOnCosmos(t *testing.T) {
	ttl := int32(-1)
	store := NewMFAStore(testContainer(t, &ttl))
	signer, err := mfa.NewSigner(10*time.Minute, []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mfa.NewService(mfa.Options{Store: store, Verifier: stubVerifier{}, Signer: signer, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	prof := domain.Profile{ID: "p1", Owner: "alice", Phone: "+15555551000"}
	p := domain.Principal{Subject: "alice"}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, rl   int
		ids      []string
		otherErr []error
	)
	for range 8 {
		wg.Go(func() {
			r, err := svc.Challenge(ctx, p, prof)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				ids = append(ids, r.ChallengeID)
			case domain.Is(err, domain.KindRateLimited):
				rl++
			default:
				otherErr = append(otherErr, err)
			}
		})
	}
	wg.Wait()
	if ok != 5 || rl != 3 || len(otherErr) > 0 {
		t.Fatalf("ok=%d rateLimited=%d other=%v; want 5 and 3", ok, rl, otherErr)
	}
	_, err = svc.Verify(ctx, p, ids[0], "000000")
	if domain.KindOf(err) != domain.KindUnauthorized {
		t.Fatalf("wrong code: %v", err)
	}
	res, err := svc.Verify(ctx, p, ids[0], "123456")
	if err != nil {
		t.Fatalf("right code: %v", err)
	}
	claims, err := svc.Check(ctx, res.Token, p, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Consume(ctx, claims); err != nil {
		t.Fatalf("consume: %v", err)
	}
	wantKind(t, "replay", svc.Consume(ctx, claims), domain.KindConflict)
	ch, err := store.GetChallenge(ctx, ids[0])
	if err != nil || ch.Status != mfa.StatusUsed {
		t.Fatalf("challenge after use = %+v, %v", ch, err)
	}
}
