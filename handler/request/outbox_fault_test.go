package request_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
)

// The profile write succeeds but saving the emptied outbox fails: the
// stored record still holds the write, so the request must keep its field
// locks until the sweeper has finished it — otherwise a newer change of the
// same field is accepted and the sweeper later writes the older value over it.
func TestFailedOutboxSaveKeepsLocksAndNeverRevertsANewerChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	docs := memory.NewDocs()
	f.store = stores.NewRequests(docs, stores.WithClock(func() time.Time { return f.now }))
	f.svc.Requests, f.svc.Locks = f.store, f.store
	var replaces atomic.Int32
	docs.FailWith(func(op, id string) error {
		// The first record's second replace is the save after the profile write.
		if op == "replace" && strings.HasPrefix(id, "req-a") && replaces.Add(1) == 2 {
			return domain.E(domain.KindTransient, "throttled")
		}
		return nil
	})
	first, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("first")}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs.FailWith(nil)
	if f.profile(t).Description != "first" {
		t.Fatalf("profile not written: %+v", f.profile(t))
	}
	stored, _ := f.store.GetRequest(ctx, first.ID)
	if len(stored.Outbox) == 0 || stored.LocksReleased {
		t.Fatalf("stored record: outbox %d, locks released %v; want the write recorded as undone and the locks kept", len(stored.Outbox), stored.LocksReleased)
	}
	// A newer change of the same field waits for the sweeper (409).
	f.now = f.now.Add(time.Second)
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("second")}), nil, nil); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("newer change while the first is unfinished: %v, want KindConflict", err)
	}
	// The sweeper finishes the first request without writing the profile again.
	f.now = f.now.Add(3 * time.Minute)
	if res, err := f.svc.Sweep(ctx, time.Minute, 10); err != nil || res.Seen != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	if p := f.profile(t); p.Description != "first" || p.Version != 2 {
		t.Fatalf("after sweep: %q version %d, want first/2", p.Description, p.Version)
	}
	// Now the newer change applies, and no later sweep reverts it.
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("second")}), nil, nil); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(3 * time.Minute)
	if _, err := f.svc.Sweep(ctx, time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if p := f.profile(t); p.Description != "second" || p.Version != 3 {
		t.Fatalf("final profile %q version %d, want second/3", p.Description, p.Version)
	}
}
