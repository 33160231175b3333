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
	"github.com/profileflow/profileflow/handler/stores"
)

type stubVerifier struct{}

func (stubVerifier) StartVerification(context.Context, string) (string, error) { return "VE1", nil }
func (stubVerifier) CheckVerification(_ context.Context, _, _, code string) (bool, error) {
	return code == "123456", nil
}

// The service's limits hold against the real store under concurrency: the
// ETag-checked read-modify-write never lets more than 5 challenges through.
func TestMFAServiceLimitsOnCosmos(t *testing.T) {
	ttl := int32(-1)
	store := stores.NewMFA(testContainer(t, &ttl))
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
