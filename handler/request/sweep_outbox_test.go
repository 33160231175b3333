package request_test

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
)

// Outbox entries a step left behind are dispatched by the sweep: through
// the attention index while sweeps run, and through SweepStalled's
// fallback query when the sweeper was stopped for longer than the index's
// window. Each effect is dispatched once.
func TestSweepRedispatchesOutboxLeftBehind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gap   time.Duration // time without any sweep
		every time.Duration // sweeps during the gap (0: none)
	}{
		{"next sweep", 5 * time.Minute, 0},
		{"sweeps every 5 minutes for a day", 24 * time.Hour, 5 * time.Minute},
		{"no sweep for longer than the window", 3 * stores.DefaultAttentionWindow, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
			if err != nil {
				t.Fatal(err)
			}
			f.disp.fail = true
			if _, err := f.svc.Step(ctx, VerdictStep(rec.ID, "marriage.pdf", VerdictClean, "abc", "")); !domain.Is(err, domain.KindTransient) {
				t.Fatalf("step with the queue down: %v", err)
			}
			start := f.now
			for tc.every > 0 && f.now.Sub(start) < tc.gap {
				f.now = f.now.Add(tc.every)
				if res, err := f.svc.Sweep(ctx, 2*time.Minute, 10); err != nil || res.Flushed != 0 {
					t.Fatalf("sweep with the queue down: %+v %v", res, err)
				}
			}
			f.now = start.Add(tc.gap)
			f.disp.fail = false
			res, err := f.svc.Sweep(ctx, 2*time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			stalled, err := f.svc.SweepStalled(ctx, f.store, &verdictScanner{f: f}, deadlines, 10)
			if err != nil || res.Flushed+stalled.Attended.Flushed != 1 || (tc.gap > stores.DefaultAttentionWindow && tc.every == 0) != (stalled.Attended.Flushed == 1) {
				t.Fatalf("sweep: %+v, fallback %+v %v", res, stalled, err)
			}
			stored, _ := f.store.GetRequest(ctx, rec.ID)
			if len(stored.Outbox) != 0 || stored.Attention || f.disp.seen[rec.ID+"/taskAssigned/"+stored.Workflow.OpenTasks()[0].ID] > 1 {
				t.Fatalf("after the sweep: outbox %+v attention %v seen %v", stored.Outbox, stored.Attention, f.disp.seen)
			}
			for _, tm := range stored.Workflow.Timers {
				if f.disp.seen["timer-"+tm.ID] != 1 {
					t.Fatalf("timer %s dispatched %d times", tm.ID, f.disp.seen["timer-"+tm.ID])
				}
			}
		})
	}
}
