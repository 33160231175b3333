package request_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

// lastUpdatedTime is never earlier than any history event (nor the
// creation), whatever runs — submit, verdicts, decisions, cancel, repeated
// events, sweeps after failed writes — and however the clocks of the
// instances that run it disagree (the clock here jumps back and forth).
func TestLastUpdatedNeverBeforeHistory(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		f := newFixture(t)
		ctx := context.Background()
		flaky := &flakyProfiles{Profiles: f.profiles}
		f.svc.Profiles = flaky
		var ids []string
		pick := func() string {
			if len(ids) == 0 {
				return "none"
			}
			return ids[rng.IntN(len(ids))]
		}
		for step := range 60 {
			f.now = f.now.Add(time.Duration(rng.IntN(40)-10) * time.Minute)
			flaky.fail = rng.IntN(4) / 3 // now and then a profile write fails
			op := rng.IntN(8)
			switch op {
			case 0, 1:
				field := []ChangeInput{{Description: str(f.now.String())}, {FirstName: str("Augusta")}, {LastName: str("Byron")}, {MaritalStatus: str("Married")}}[rng.IntN(4)]
				ts := f.now.Format(time.RFC3339)
				field.Timestamp = &ts
				ch, err := Validate(field, f.profile(t), f.now)
				if err != nil {
					continue
				}
				var atts []Attachment
				if ch.NeedsEvidence() {
					atts = []Attachment{{Name: "doc.pdf", Blob: "b", ContentType: "application/pdf", Size: 1}}
				}
				if rec, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, atts, nil); err == nil {
					ids = append(ids, rec.ID)
				}
			case 2:
				v := []Verdict{VerdictClean, VerdictClean, VerdictInfected}[rng.IntN(3)]
				_, _ = f.svc.RecordVerdict(ctx, pick(), "doc.pdf", v, "sha", "")
			case 3, 4:
				id := pick()
				rec, err := f.store.GetRequest(ctx, id)
				if err != nil || rec.Workflow == nil || len(rec.Workflow.OpenTasks()) == 0 {
					continue
				}
				d := []workflow.DecisionKind{workflow.Approve, workflow.Approve, workflow.Reject}[rng.IntN(3)]
				actor := []string{"alice", "bob"}[rng.IntN(2)]
				evID := []string{"d1", "d2", "d3"}[rng.IntN(3)] // now and then an event id seen before
				_, _ = f.svc.Deliver(ctx, id, workflow.Event{ID: evID, Type: workflow.EventTaskDecision, TaskID: rec.Workflow.OpenTasks()[0].ID, Decision: d, Actor: actor, Groups: []string{"ProfileApprover"}})
			case 5:
				_, _ = f.svc.Cancel(ctx, f.owner, pick(), "")
			case 6:
				_, _ = f.svc.Sweep(ctx, 0, 50)
			case 7:
				f.disp.fail = !f.disp.fail
			}
			for _, id := range ids {
				rec, err := f.store.GetRequest(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if rec.LastUpdatedTime.Before(rec.CreatedTime) {
					t.Fatalf("seed %d step %d op %d: %s lastUpdatedTime %v before createdTime %v", seed, step, op, id, rec.LastUpdatedTime, rec.CreatedTime)
				}
				for _, h := range rec.History {
					if rec.LastUpdatedTime.Before(h.At) {
						t.Fatalf("seed %d step %d op %d: %s lastUpdatedTime %v before %s at %v", seed, step, op, id, rec.LastUpdatedTime, h.Type, h.At)
					}
				}
			}
		}
	}
}

// staleRequests answers every replace with KindStale (a writer that always
// loses the race).
type staleRequests struct {
	Store
	replaces int
}

func (s *staleRequests) ReplaceRequest(context.Context, Record) (Record, error) {
	s.replaces++
	return Record{}, domain.E(domain.KindStale, "etag mismatch")
}

// Every read-modify-write gives up the same way: KindTransient after
// docstore.MaxAttempts lost races.
func TestUpdateGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := &staleRequests{Store: f.store}
	f.svc.Requests = stale
	_, err = f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictClean, "s", "")
	if !domain.Is(err, domain.KindTransient) || stale.replaces != docstore.MaxAttempts {
		t.Fatalf("err %v after %d replaces; want KindTransient after %d", err, stale.replaces, docstore.MaxAttempts)
	}
}
