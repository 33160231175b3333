package storestest

import (
	"context"
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/stores"
)

func notices(t *testing.T, ctx context.Context, d docstore.Docs) {
	clock := NewClock(t0)
	s := stores.NewNotices(d, stores.WithClock(clock.Now))
	if sent, err := s.WasSent(ctx, "k1"); err != nil || sent {
		t.Fatalf("fresh key: %v %v", sent, err)
	}
	for range 2 {
		if err := s.MarkSent(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	if sent, err := s.WasSent(ctx, "k1"); err != nil || !sent {
		t.Fatalf("marked key: %v %v", sent, err)
	}
	if sent, _ := s.WasSent(ctx, "k2"); sent {
		t.Fatal("another key counts as sent")
	}
	wantExpiry(t, ctx, d, "notice-k1", t0.Add(stores.NoticeTTL), int64(stores.NoticeTTL.Seconds()))
	clock.Set(t0.Add(stores.NoticeTTL))
	if sent, err := s.WasSent(ctx, "k1"); err != nil || sent {
		t.Fatalf("after NoticeTTL: %v %v", sent, err)
	}
	if err := s.MarkSent(ctx, "k1"); err != nil {
		t.Fatalf("marking an expired key again: %v", err)
	}
	if sent, _ := s.WasSent(ctx, "k1"); !sent {
		t.Fatal("re-marked key not sent")
	}
}
