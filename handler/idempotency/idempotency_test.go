package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/memory"
)

func TestKeys(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	k := &Keys{Store: memory.NewIdempotency(), Now: func() time.Time { return now }}
	h1, h2 := Hash("PATCH", "/p/1", []byte(`{"a":1}`)), Hash("PATCH", "/p/1", []byte(`{"a":2}`))

	lease, replay, err := k.Begin(ctx, "alice", "k1", h1)
	if err != nil || replay || lease.State != "processing" {
		t.Fatalf("first begin: %+v %v %v", lease, replay, err)
	}
	if _, _, err := k.Begin(ctx, "alice", "k1", h1); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("in-flight duplicate: %v", err)
	}
	if _, _, err := k.Begin(ctx, "alice", "k1", h2); !domain.Is(err, domain.KindUnprocessable) {
		t.Fatalf("other body: %v", err)
	}
	// Another caller's identical key is independent.
	if _, replay, err := k.Begin(ctx, "bob", "k1", h2); err != nil || replay {
		t.Fatalf("scoped per caller: %v %v", replay, err)
	}
	body := []byte(`{"Status":"Success","request":"/api/v1/requests/r1"}`)
	if err := k.Finish(ctx, lease, 200, map[string]string{"Location": "/x"}, body); err != nil {
		t.Fatal(err)
	}
	got, replay, err := k.Begin(ctx, "alice", "k1", h1)
	if err != nil || !replay || got.Status != 200 || string(got.Body) != string(body) || got.Headers["Location"] != "/x" {
		t.Fatalf("replay: %+v %v %v", got, replay, err)
	}
	if _, _, err := k.Begin(ctx, "alice", "k1", h2); !domain.Is(err, domain.KindUnprocessable) {
		t.Fatalf("other body after finish: %v", err)
	}

	// A lease older than LeaseTimeout is taken over; an abandoned key is free.
	l2, _, _ := k.Begin(ctx, "alice", "k2", h1)
	now = now.Add(LeaseTimeout + time.Second)
	taken, replay, err := k.Begin(ctx, "alice", "k2", h1)
	if err != nil || replay || taken.ID != l2.ID {
		t.Fatalf("takeover: %v %v", replay, err)
	}
	if err := k.Abandon(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if _, replay, err := k.Begin(ctx, "alice", "k2", h2); err != nil || replay {
		t.Fatalf("after abandon: %v %v", replay, err)
	}
	// After the TTL the key is new again.
	now = now.Add(TTL + time.Minute)
	if _, replay, err := k.Begin(ctx, "alice", "k1", h2); err != nil || replay {
		t.Fatalf("after TTL: %v %v", replay, err)
	}
}

func TestValidateKey(t *testing.T) {
	for key, ok := range map[string]bool{"abc-123": true, "": false, "has space": false, "é": false, string(make([]byte, 256)): false} {
		if (ValidateKey(key) == nil) != ok {
			t.Errorf("%q: want ok=%v", key, ok)
		}
	}
}

// vanishingStore: every create finds the key taken and every read finds it
// gone, as when other callers keep creating and abandoning it.
type vanishingStore struct {
	Store
	creates int
}

func (s *vanishingStore) CreateIdem(context.Context, Record) (Record, error) {
	s.creates++
	return Record{}, domain.E(domain.KindConflict, "idempotency record already exists")
}

func (s *vanishingStore) GetIdem(context.Context, string) (Record, error) {
	return Record{}, domain.E(domain.KindNotFound, "idempotency record not found")
}

// racingTakeover loses the first takeover of a stale lease to another
// caller, who finishes the request meanwhile.
type racingTakeover struct {
	Store
	raced bool
}

func (s *racingTakeover) ReplaceIdem(ctx context.Context, r Record) (Record, error) {
	if !s.raced && r.State == "processing" {
		s.raced = true
		other := r
		other.State, other.Status, other.Body = "done", 201, []byte("other")
		if _, err := s.Store.ReplaceIdem(ctx, other); err != nil {
			return Record{}, err
		}
		return Record{}, domain.E(domain.KindStale, "idempotency record was changed by another request")
	}
	return s.Store.ReplaceIdem(ctx, r)
}

func TestBeginRetriesByTheOneRule(t *testing.T) {
	ctx := context.Background()
	v := &vanishingStore{Store: memory.NewIdempotency()}
	_, _, err := (&Keys{Store: v}).Begin(ctx, "alice", "k", "h")
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindTransient || de.Msg != "Idempotency-Key is busy; retry shortly" || de.RetryAfter != docstore.BusyRetryAfter {
		t.Fatalf("err = %#v, want KindTransient busy with Retry-After", err)
	}
	if v.creates != docstore.MaxAttempts {
		t.Errorf("%d creates, want %d", v.creates, docstore.MaxAttempts)
	}

	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r := &racingTakeover{Store: memory.NewIdempotency()}
	k := &Keys{Store: r, Now: func() time.Time { return now }}
	if _, _, err := k.Begin(ctx, "alice", "k", "h"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(LeaseTimeout + time.Second)
	got, replay, err := k.Begin(ctx, "alice", "k", "h")
	if err != nil || !replay || got.Status != 201 || string(got.Body) != "other" {
		t.Fatalf("after a lost takeover: %+v %v %v; want the other caller's response replayed", got, replay, err)
	}
}
