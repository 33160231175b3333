package request_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/scan"
)

var deadlines = Deadlines{Attention: time.Hour, ScanRedrive: 30 * time.Minute, ScanFail: 2 * time.Hour, TimerGrace: 10 * time.Minute}

// pinnedDoc is a document pinned into the landing container of a shard.
var pinnedDoc = []Attachment{{Name: "marriage.pdf", UploadID: "u1", Account: "http://127.0.0.1:10000/acc", Container: "landing",
	Blob: "u1/0-marriage.pdf", ContentType: "application/pdf", Size: 1234}}

// A request waiting for a scan verdict past the deadlines: re-driven once
// ScanRedrive has passed, failed with a clear reason once ScanFail has.
func TestSweepStalledScans(t *testing.T) {
	for _, tc := range []struct {
		name       string
		after      time.Duration
		verdict    Verdict // what the re-driven scan records
		scanErr    error
		want       StalledResult
		wantStatus RuntimeStatus
		wantStage  string
		wantCalls  int
	}{
		{"before the re-drive deadline", 29 * time.Minute, VerdictClean, nil, StalledResult{}, Running, "waitingForScan", 0},
		{"re-driven scan records its verdict", 31 * time.Minute, VerdictClean, nil, StalledResult{Rescanned: 1}, Running, "waitingForApproval", 1},
		{"re-driven scan finds nothing yet", 31 * time.Minute, "", nil, StalledResult{Rescanned: 1}, Running, "waitingForScan", 1},
		{"re-driven scan fails", 31 * time.Minute, "", domain.E(domain.KindTransient, "clamd down"), StalledResult{Failed: 1}, Running, "waitingForScan", 1},
		{"no verdict by the fail deadline", 2 * time.Hour, "", nil, StalledResult{ScanTimedOut: 1}, Failed, "failed", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{LastName: str("Byron")}), append([]Attachment(nil), pinnedDoc...), nil)
			if err != nil || rec.CustomStatus.Stage != "waitingForScan" {
				t.Fatalf("open: %v %+v", err, rec.CustomStatus)
			}
			scans := &verdictScanner{f: f, rid: rec.ID, verdict: tc.verdict, err: tc.scanErr}
			f.now = f.now.Add(tc.after)
			res, err := f.svc.SweepStalled(ctx, f.store, scans, deadlines, 10)
			if err != nil || res != tc.want || len(scans.calls) != tc.wantCalls {
				t.Fatalf("sweep: %+v %v, %d scans; want %+v, %d", res, err, len(scans.calls), tc.want, tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				ev := scans.calls[0]
				if ev.URI != "http://127.0.0.1:10000/acc/landing/u1/0-marriage.pdf" || ev.UploadID != "u1" || ev.FileName != "0-marriage.pdf" {
					t.Errorf("re-driven event %+v", ev)
				}
			}
			got, _ := f.store.GetRequest(ctx, rec.ID)
			if got.RuntimeStatus != tc.wantStatus || got.CustomStatus.Stage != tc.wantStage {
				t.Fatalf("after the sweep: %s %+v", got.RuntimeStatus, got.CustomStatus)
			}
			if tc.wantStatus == Failed {
				reason, _ := got.Output["reason"].(string)
				if !strings.Contains(reason, "marriage.pdf: error (no scan verdict within 2h0m0s)") {
					t.Errorf("reason %q", reason)
				}
				if f.profile(t).LastName != "Lovelace" {
					t.Error("profile changed")
				}
			}
			// A second sweep at the same time does no more.
			again, err := f.svc.SweepStalled(ctx, f.store, scans, deadlines, 10)
			if err != nil || again.ScanTimedOut != 0 || (tc.wantStage != "waitingForScan" && again != (StalledResult{})) {
				t.Fatalf("second sweep: %+v %v", again, err)
			}
		})
	}
}

// verdictScanner is a Rescanner that records verdict (if any) for the
// document the way the scan does.
type verdictScanner struct {
	f       *fixture
	rid     string
	verdict Verdict
	err     error
	calls   []scan.Landed
}

func (v *verdictScanner) ScanLanded(ctx context.Context, ev scan.Landed) error {
	v.calls = append(v.calls, ev)
	if v.err != nil {
		return v.err
	}
	if v.verdict == "" {
		return nil
	}
	return v.f.svc.RecordScan(ctx, v.rid, ev.UploadID+"/"+ev.FileName, scan.Result{Verdict: scan.Verdict(v.verdict), SHA256: "abc"})
}

// Timers whose scheduled message never came are delivered by the sweeper
// once TimerGrace past due, earliest first, and only once.
func TestSweepStalledTimers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		after     time.Duration
		want      StalledResult
		wantTypes map[string]int
	}{
		{"reminder not due", 23 * time.Hour, StalledResult{}, map[string]int{"TaskReminder": 0}},
		{"reminder within grace", 24*time.Hour + 5*time.Minute, StalledResult{}, map[string]int{"TaskReminder": 0}},
		{"reminder lost", 24*time.Hour + 11*time.Minute, StalledResult{TimersFired: 1}, map[string]int{"TaskReminder": 1, "TaskEscalated": 0}},
		{"reminder and escalation lost", 73 * time.Hour, StalledResult{TimersFired: 2}, map[string]int{"TaskReminder": 1, "TaskEscalated": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rec := waitingForApproval(t, f, ChangeInput{LastName: str("Byron")})
			f.now = f.now.Add(tc.after)
			scans := &verdictScanner{f: f, rid: rec.ID}
			res, err := f.svc.SweepStalled(ctx, f.store, scans, deadlines, 10)
			if err != nil || res != tc.want || len(scans.calls) != 0 {
				t.Fatalf("sweep: %+v %v; want %+v", res, err, tc.want)
			}
			got, _ := f.store.GetRequest(ctx, rec.ID)
			types := historyTypes(got)
			for typ, n := range tc.wantTypes {
				if count(types, typ) != n {
					t.Errorf("%s: %d, want %d (history %v)", typ, count(types, typ), n, types)
				}
			}
			// The lost message arriving late, and another sweep, change nothing.
			for _, tm := range rec.Workflow.Timers {
				if !tm.Due.After(f.now.Add(-deadlines.TimerGrace)) {
					if _, err := f.svc.Step(ctx, TimerStep(rec.ID, tm)); err != nil && !domain.Is(err, domain.KindConflict) {
						t.Fatalf("late timer message: %v", err)
					}
				}
			}
			again, err := f.svc.SweepStalled(ctx, f.store, scans, deadlines, 10)
			after, _ := f.store.GetRequest(ctx, rec.ID)
			if err != nil || again != (StalledResult{}) || len(after.History) != len(got.History) {
				t.Fatalf("second sweep: %+v %v; history %v → %v", again, err, types, historyTypes(after))
			}
		})
	}
}
