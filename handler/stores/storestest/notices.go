package storestest

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/stores"
)

func notices(t *testing.T, ctx context.Context, d docstore.Docs) {
	clock := NewClock(t0)
	s := stores.NewNotices(d, stores.WithClock(clock.Now))
	if m, err := s.Lookup(ctx, "k1"); err != nil || m != (notify.Mark{}) {
		t.Fatalf("fresh key: %+v %v", m, err)
	}
	// An intent is created once: a second writer from the zero Mark loses.
	in, err := s.Intend(ctx, "k1", notify.Mark{})
	if err != nil || !in.Intent.Equal(t0) || in.Sent || in.Version == "" {
		t.Fatalf("intent: %+v %v", in, err)
	}
	if _, err := s.Intend(ctx, "k1", notify.Mark{}); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("second intent from nothing: %v", err)
	}
	if m, err := s.Lookup(ctx, "k1"); err != nil || m.Sent || !m.Intent.Equal(t0) {
		t.Fatalf("after intent: %+v %v", m, err)
	}
	// Renewing it needs the current version.
	clock.Set(t0.Add(time.Minute))
	renewed, err := s.Intend(ctx, "k1", in)
	if err != nil || !renewed.Intent.Equal(t0.Add(time.Minute)) {
		t.Fatalf("renewed intent: %+v %v", renewed, err)
	}
	if _, err := s.Intend(ctx, "k1", in); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("renewing from a stale version: %v", err)
	}
	for range 2 {
		if err := s.MarkSent(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := s.Lookup(ctx, "k1"); err != nil || !m.Sent {
		t.Fatalf("marked key: %+v %v", m, err)
	}
	if m, _ := s.Lookup(ctx, "k2"); m.Sent || !m.Intent.IsZero() {
		t.Fatal("another key has a mark")
	}
	// A key marked sent without an intent (a mark written by an older
	// version) is sent too.
	if err := s.MarkSent(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Lookup(ctx, "k3"); !m.Sent {
		t.Fatal("k3 not sent")
	}
	wantExpiry(t, ctx, d, "notice-k1", t0.Add(time.Minute).Add(stores.NoticeTTL), int64(stores.NoticeTTL.Seconds()))
	clock.Set(t0.Add(time.Minute).Add(stores.NoticeTTL))
	if m, err := s.Lookup(ctx, "k1"); err != nil || m.Sent || !m.Intent.IsZero() {
		t.Fatalf("after NoticeTTL: %+v %v", m, err)
	}
	if _, err := s.Intend(ctx, "k1", notify.Mark{}); err != nil {
		t.Fatalf("intent over an expired key: %v", err)
	}
	if err := s.MarkSent(ctx, "k1"); err != nil {
		t.Fatalf("marking an expired key again: %v", err)
	}
	if m, _ := s.Lookup(ctx, "k1"); !m.Sent {
		t.Fatal("re-marked key not sent")
	}
}
