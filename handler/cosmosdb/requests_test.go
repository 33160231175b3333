package cosmosdb

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

// The request service over the real Cosmos stand-in: records, field locks
// and the ETag-checked profile update, end to end.
func TestRequestServiceOnCosmos(t *testing.T) {
	ctx := testCtx(t)
	profiles := stores.NewProfiles(testContainer(t, nil))
	store := stores.NewRequests(testContainer(t, nil))
	def, err := workflow.ParseFile("../../workflows/profile-update.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	svc := &request.Service{Requests: store, Locks: store, Profiles: profiles, Definition: def, Log: slog.New(slog.DiscardHandler)}
	if _, err := profiles.CreateProfile(ctx, domain.Profile{ID: "1000", Owner: "user-1000", FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Version: 1}); err != nil {
		t.Fatal(err)
	}
	owner := domain.Principal{Subject: "user-1000"}
	prof, _ := profiles.GetProfile(ctx, "1000")
	ts := time.Now().UTC().Format(time.RFC3339)
	last := "Byron"
	ch, err := request.Validate(request.ChangeInput{LastName: &last, Timestamp: &ts}, prof, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := svc.Open(ctx, owner, prof, ch, []request.Attachment{{Name: "a.pdf", Blob: "x/a.pdf", ContentType: "application/pdf", Size: 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != request.Running || rec.ETag == "" {
		t.Fatalf("submit: %s etag %q", rec.RuntimeStatus, rec.ETag)
	}
	// The lock document blocks a second change of the field.
	if _, err := svc.Open(ctx, owner, prof, ch, []request.Attachment{{Name: "b.pdf", Blob: "x/b.pdf"}}, nil); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("second submit: %v", err)
	}
	got, err := store.GetRequest(ctx, rec.ID)
	if err != nil || got.Workflow == nil || len(got.Workflow.Messages) != 1 {
		t.Fatalf("stored record: %v %+v", err, got.Workflow)
	}
	// Stale ETag is refused.
	got.ETag = rec.ETag + "x"
	if _, err := store.ReplaceRequest(ctx, got); !domain.Is(err, domain.KindStale) {
		t.Fatalf("stale replace: %v", err)
	}
	if _, err := store.GetRequest(ctx, "no-such"); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("missing request: %v", err)
	}
	rec, err = svc.RecordVerdict(ctx, rec.ID, "a.pdf", request.VerdictClean, "sha", "")
	if err != nil || rec.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("verdict: %v %s", err, rec.CustomStatus.Stage)
	}
	for i, actor := range []string{"alice", "bob"} {
		open := rec.Workflow.OpenTasks()
		rec, err = svc.Deliver(ctx, rec.ID, workflow.Event{ID: "d" + actor, Type: workflow.EventTaskDecision, TaskID: open[0].ID, Decision: workflow.Approve, Actor: actor, Groups: []string{"ProfileApprover"}})
		if err != nil {
			t.Fatalf("approval %d: %v", i, err)
		}
	}
	p, _ := profiles.GetProfile(ctx, "1000")
	if rec.RuntimeStatus != request.Completed || p.LastName != "Byron" || p.LastRequestID != rec.ID || !rec.LocksReleased {
		t.Fatalf("final: %s %+v", rec.RuntimeStatus, p)
	}
}

func TestIdempotencyOnCosmos(t *testing.T) {
	ctx := context.Background()
	ttl := int32(-1)
	k := &idempotency.Keys{Store: stores.NewIdempotency(testContainer(t, &ttl))}
	lease, replay, err := k.Begin(ctx, "alice", "key", "h1")
	if err != nil || replay {
		t.Fatal(err)
	}
	if _, _, err := k.Begin(ctx, "alice", "key", "h1"); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("in flight: %v", err)
	}
	if err := k.Finish(ctx, lease, 202, map[string]string{"Location": "/r"}, []byte(`{"Status":"InProgress"}`)); err != nil {
		t.Fatal(err)
	}
	rec, replay, err := k.Begin(ctx, "alice", "key", "h1")
	if err != nil || !replay || rec.Status != 202 || string(rec.Body) != `{"Status":"InProgress"}` || rec.TTL != 86400 {
		t.Fatalf("replay: %+v %v %v", rec, replay, err)
	}
	if _, _, err := k.Begin(ctx, "alice", "key", "h2"); !domain.Is(err, domain.KindUnprocessable) {
		t.Fatalf("other body: %v", err)
	}
	l2, _, _ := k.Begin(ctx, "alice", "key2", "h1")
	if err := k.Abandon(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if _, replay, err := k.Begin(ctx, "alice", "key2", "h1"); err != nil || replay {
		t.Fatalf("after abandon: %v", err)
	}
}
