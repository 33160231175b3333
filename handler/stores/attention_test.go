package stores_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
)

// The index entry is written before the record: when it cannot be
// written, the record is not saved either (so no record needs attention
// without being listed), and a failed removal after a save leaves only a
// stale entry, which the next sweep skips.
func TestAttentionIndexWrittenBeforeTheRecord(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	now := t0
	d := memory.NewDocs()
	s := stores.NewRequests(d, stores.WithClock(func() time.Time { return now }), stores.WithAttentionIndex(2, 30*time.Minute))
	boom := domain.E(domain.KindTransient, "throttled")
	d.FailWith(func(op, id string) error {
		if strings.HasPrefix(id, "attention-") && op != "read" {
			return boom
		}
		return nil
	})
	r := request.Record{ID: "r-1", Type: "request", Attention: true, LastUpdatedTime: t0}
	if _, err := s.CreateRequest(ctx, r); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("CreateRequest with the index down = %v, want KindTransient", err)
	}
	if _, err := s.GetRequest(ctx, "r-1"); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("record saved without its index entry: %v", err)
	}
	d.FailWith(nil)
	saved, err := s.CreateRequest(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	// Clearing: the record is saved even when the index cannot be updated.
	d.FailWith(func(op, id string) error {
		if strings.HasPrefix(id, "attention-") && op != "read" {
			return boom
		}
		return nil
	})
	saved.Attention = false
	if saved, err = s.ReplaceRequest(ctx, saved); err != nil || saved.AttentionIndex != "" {
		t.Fatalf("ReplaceRequest with the index down = %+v, %v", saved, err)
	}
	d.FailWith(nil)
	now = t0.Add(5 * time.Minute)
	if ids, err := s.NeedingAttention(ctx, t0.Add(3*time.Minute), 10); err != nil || len(ids) != 0 {
		t.Fatalf("stale entry returned: %v, %v", ids, err)
	}
}
