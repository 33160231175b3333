package request

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/workflow"
)

// Rescanner scans a landed document again (*scan.Service): safe to run any
// number of times; a document whose verdict is stored is only recorded
// again (which moves a workflow on that a stopped run left waiting).
// KindTransient when the engine or storage is unavailable.
type Rescanner interface {
	ScanLanded(ctx context.Context, ev scan.Landed) error
}

// Deadlines of the sweeper's watch over waiting requests.
type Deadlines struct {
	// Attention: a record needing attention untouched this long is also
	// found by a query, in case no sweep read the attention index within
	// its window (SWEEP_ATTENTION_FALLBACK_AFTER).
	Attention time.Duration
	// ScanRedrive: a request waiting this long for a scan verdict has each
	// document without one scanned again (SWEEP_SCAN_REDRIVE_AFTER).
	ScanRedrive time.Duration
	// ScanFail: one still waiting this long fails; each document without
	// a verdict gets VerdictError (SWEEP_SCAN_FAIL_AFTER, > ScanRedrive).
	ScanFail time.Duration
	// TimerGrace: a timer this long past due whose message never came is
	// delivered by the sweeper (SWEEP_TIMER_GRACE).
	TimerGrace time.Duration
}

// StalledResult counts what SweepStalled did: requests needing attention
// found by the fallback query (Attended, as Sweep counts them), documents scanned again,
// requests failed for verdicts that never came, timers delivered, and
// requests whose handling failed (logged; the next sweep tries again).
type StalledResult struct {
	Attended                                     SweepResult
	Rescanned, ScanTimedOut, TimersFired, Failed int
}

// SweepStalled handles requests waiting past a deadline d, at most limit
// of each kind per call, listed by find:
//
//   - needing attention (see Sweep) and untouched for d.Attention: finished
//     as Sweep does, for records the attention index lost sight of;
//   - waiting for a scan verdict longer than d.ScanRedrive: each document
//     without a verdict is scanned again through scans (a lost blob event,
//     a scan that stopped half-way; an accepted copy that is missing gets
//     the verdict Error); longer than d.ScanFail: each still without a
//     verdict gets VerdictError "no scan verdict within …", which fails
//     the request with that reason through the workflow (not scanned is
//     never clean);
//   - a timer more than d.TimerGrace past due (its scheduled message was
//     lost): its timerFired step is delivered as the message would have
//     (idempotent per timer: a message that still comes changes nothing).
//
// Only listing can fail the call (the store's KindTransient); a request
// that fails counts in Failed.
func (s *Service) SweepStalled(ctx context.Context, find StalledFinder, scans Rescanner, d Deadlines, limit int) (StalledResult, error) {
	var res StalledResult
	now := s.now()
	ids, err := find.LeftNeedingAttention(ctx, now.Add(-d.Attention), limit)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		s.attend(ctx, id, &res.Attended)
	}
	ids, err = find.WaitingForScan(ctx, now.Add(-d.ScanRedrive), limit)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		if err := s.redriveScans(ctx, id, scans, d, now, &res); err != nil {
			s.log().WarnContext(ctx, "sweep: re-driving the scan failed", "request", id, "err", err.Error())
			res.Failed++
		}
	}
	ids, err = find.TimersOverdue(ctx, now.Add(-d.TimerGrace), limit)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		if err := s.fireOverdue(ctx, id, d, now, &res); err != nil {
			s.log().WarnContext(ctx, "sweep: delivering an overdue timer failed", "request", id, "err", err.Error())
			res.Failed++
		}
	}
	return res, nil
}

// redriveScans scans request id's unscanned documents again, or fails them
// once d.ScanFail has passed.
func (s *Service) redriveScans(ctx context.Context, id string, scans Rescanner, d Deadlines, now time.Time, res *StalledResult) error {
	rec, err := s.Requests.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	w := WaitsOf(rec)
	if w.ScanSince == nil || now.Sub(*w.ScanSince) < d.ScanRedrive {
		return nil // moved on since it was listed
	}
	giveUp := now.Sub(*w.ScanSince) >= d.ScanFail
	var errs []string
	for _, a := range rec.Attachments {
		if a.Verdict != VerdictPending && a.Verdict != "" {
			continue
		}
		if giveUp {
			detail := fmt.Sprintf("no scan verdict within %s", d.ScanFail)
			_, err := s.RecordVerdict(ctx, id, a.Name, VerdictError, "", detail)
			if err != nil && !domain.Is(err, domain.KindConflict) {
				errs = append(errs, a.Name+": "+err.Error())
				continue
			}
			res.ScanTimedOut++
			continue
		}
		uploadID, file, ok := strings.Cut(a.Blob, "/")
		if !ok || a.Account == "" || a.Container == "" {
			errs = append(errs, a.Name+": the document was never pinned")
			continue
		}
		ev := scan.Landed{URI: strings.TrimRight(a.Account, "/") + "/" + a.Container + "/" + a.Blob, UploadID: uploadID, FileName: file}
		if err := scans.ScanLanded(ctx, ev); err != nil {
			errs = append(errs, a.Name+": "+err.Error())
			continue
		}
		res.Rescanned++
	}
	if len(errs) > 0 {
		return domain.E(domain.KindTransient, "request %s: %s", id, strings.Join(errs, "; "))
	}
	return nil
}

// fireOverdue delivers the timerFired step of each of request id's timers
// more than d.TimerGrace past due, earliest first.
func (s *Service) fireOverdue(ctx context.Context, id string, d Deadlines, now time.Time, res *StalledResult) error {
	rec, err := s.Requests.GetRequest(ctx, id)
	if err != nil || rec.Workflow == nil || rec.RuntimeStatus.Terminal() {
		return err
	}
	timers := slices.Clone(rec.Workflow.Timers)
	slices.SortFunc(timers, func(a, b workflow.Timer) int { return a.Due.Compare(b.Due) })
	for _, t := range timers {
		if now.Sub(t.Due) < d.TimerGrace {
			continue
		}
		_, err := s.Step(ctx, TimerStep(id, t))
		if domain.Is(err, domain.KindConflict) {
			return nil // the request ended meanwhile (an earlier timer ended it)
		}
		if err != nil {
			return err
		}
		s.log().InfoContext(ctx, "sweep: delivered a timer whose message never came", "request", id, "timer", t.ID, "due", t.Due)
		res.TimersFired++
	}
	return nil
}
