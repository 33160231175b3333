package storestest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

// waits: the sweeper's queries select records by the waits saved with
// them, times compared across fraction digits, and follow replaces.
func waits(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewRequests(d)
	base := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	running := func(id string, updated time.Time, verdict request.Verdict, timerDue time.Time) request.Record {
		in := &workflow.Instance{Status: workflow.StatusRunning}
		if !timerDue.IsZero() {
			in.Timers = []workflow.Timer{{ID: id + "/T/R", Element: "R", Task: "T", Due: timerDue}}
		}
		return request.Record{ID: id, Type: "request", ProfileID: "1000", Owner: "u", RuntimeStatus: request.Running,
			Attachments: []request.Attachment{{Name: "a.pdf", Blob: "u1/0-a.pdf", Verdict: verdict}},
			CreatedTime: updated, LastUpdatedTime: updated, Workflow: in}
	}
	recs := []request.Record{
		running("w-scan-old", base.Add(-2*time.Hour+123*time.Millisecond), request.VerdictPending, time.Time{}),
		running("w-scan-new", base.Add(-time.Minute), request.VerdictPending, time.Time{}),
		running("w-timer-old", base.Add(-48*time.Hour), request.VerdictClean, base.Add(-time.Hour)),
		running("w-timer-new", base.Add(-48*time.Hour), request.VerdictClean, base.Add(time.Hour)),
	}
	done := running("w-done", base.Add(-5*time.Hour), request.VerdictPending, base.Add(-5*time.Hour))
	done.RuntimeStatus = request.Failed
	attention := running("w-attention", base.Add(-3*time.Hour), request.VerdictClean, time.Time{})
	attention.Attention = true
	recs = append(recs, done, attention)
	saved := map[string]request.Record{}
	for _, r := range recs {
		got, err := s.CreateRequest(ctx, r)
		if err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
		saved[r.ID] = got
	}
	for _, tc := range []struct {
		name   string
		list   func(context.Context, time.Time, int) ([]string, error)
		before time.Time
		want   []string
	}{
		{"waiting for a scan", s.WaitingForScan, base.Add(-30 * time.Minute), []string{"w-scan-old"}},
		{"waiting for a scan, just after", s.WaitingForScan, base.Add(-2*time.Hour + 124*time.Millisecond), []string{"w-scan-old"}},
		{"waiting for a scan, just before", s.WaitingForScan, base.Add(-2*time.Hour + 123*time.Millisecond), nil},
		{"timers overdue", s.TimersOverdue, base.Add(-10 * time.Minute), []string{"w-timer-old"}},
		{"attention left", s.LeftNeedingAttention, base.Add(-time.Hour), []string{"w-attention"}},
	} {
		got, err := tc.list(ctx, tc.before, 10)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
	// A verdict arrives: the record leaves the scan list.
	r := saved["w-scan-old"]
	r.Attachments[0].Verdict = request.VerdictClean
	if _, err := s.ReplaceRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.WaitingForScan(ctx, base, 10); err != nil || !slices.Equal(got, []string{"w-scan-new"}) {
		t.Errorf("after the verdict: %v %v", got, err)
	}
	if got, err := s.TimersOverdue(ctx, base.Add(48*time.Hour), 1); err != nil || len(got) != 1 {
		t.Errorf("limit 1: %v %v", got, err)
	}
}
