package storestest

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/stores"
)

func notices(t *testing.T, ctx context.Context, d docstore.Docs) {
	clock := NewClock(t0)
	s := stores.NewNotices(d, stores.WithClock(clock.Now))
	claim := func(key string, want notify.ClaimState, what string) {
		t.Helper()
		if got, err := s.Claim(ctx, key); err != nil || got != want {
			t.Fatalf("%s: claim %s = %v %v, want %v", what, key, got, err, want)
		}
	}
	claim("k1", notify.Claimed, "fresh key")
	claim("k1", notify.Busy, "claimed key")
	claim("k2", notify.Claimed, "another key")
	clock.Set(t0.Add(stores.NoticeClaimTimeout - time.Second))
	claim("k1", notify.Busy, "claim not stale yet")
	clock.Set(t0.Add(stores.NoticeClaimTimeout))
	claim("k1", notify.Claimed, "stale claim taken over")
	claim("k1", notify.Busy, "taken-over claim")
	if err := s.Release(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	claim("k1", notify.Claimed, "released key")
	sent := t0.Add(stores.NoticeClaimTimeout)
	for range 2 {
		if err := s.MarkSent(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	claim("k1", notify.AlreadySent, "marked key")
	if err := s.Release(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	claim("k1", notify.AlreadySent, "a release does not undo a send")
	if err := s.Release(ctx, "k3"); err != nil {
		t.Fatalf("releasing an unknown key: %v", err)
	}
	wantExpiry(t, ctx, d, "notice-k1", sent.Add(stores.NoticeTTL), int64(stores.NoticeTTL.Seconds()))
	clock.Set(sent.Add(stores.NoticeTTL))
	claim("k1", notify.Claimed, "after NoticeTTL")
	if err := s.MarkSent(ctx, "k1"); err != nil {
		t.Fatalf("marking an expired key again: %v", err)
	}
	claim("k1", notify.AlreadySent, "re-marked key")
}
