package request

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// SweepResult counts what a sweep did.
type SweepResult struct {
	Seen, Started, Flushed, Failed int
}

// needsAttention: work a crash or an outage may have left undone — a
// workflow never started, effects still in the outbox (a change to apply,
// timers and notices to dispatch), field locks of a terminal request.
func needsAttention(rec Record) bool {
	return rec.RuntimeStatus == Pending || len(rec.Outbox) > 0 || (rec.RuntimeStatus.Terminal() && !rec.LocksReleased)
}

// Sweep finishes work left behind (the timer-triggered Sweep function):
// requests still Pending after quiet (their workflow never started), effects
// not yet carried out, and field locks of terminal requests not yet
// released; at most limit requests untouched for quiet. Every action is
// idempotent, so overlapping sweeps are safe. Only listing the requests can
// fail the sweep; a request that still fails counts in Failed.
func (s *Service) Sweep(ctx context.Context, quiet time.Duration, limit int) (SweepResult, error) {
	var res SweepResult
	ids, err := s.Requests.NeedingAttention(ctx, s.now().Add(-quiet), limit)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		s.attend(ctx, id, &res)
	}
	return res, nil
}

// attend finishes the work left undone on request id (see Sweep), counting
// it in res.
func (s *Service) attend(ctx context.Context, id string, res *SweepResult) {
	res.Seen++
	rec, err := s.Requests.GetRequest(ctx, id)
	if err != nil {
		res.Failed++
		return
	}
	if !needsAttention(rec) {
		return // finished meanwhile
	}
	if rec.RuntimeStatus == Pending && rec.Workflow == nil {
		if _, err := s.start(ctx, rec); err != nil {
			s.log().WarnContext(ctx, "sweep: starting request failed", "request", id, "err", err.Error())
			res.Failed++
			return
		}
		res.Started++
		return
	}
	if after := s.afterSave(ctx, rec); needsAttention(after) {
		res.Failed++
	} else {
		res.Flushed++
	}
}

// Flush carries out effects left in a request's outbox and releases the
// locks of a terminal request (idempotent). KindTransient when effects are
// still undelivered.
func (s *Service) Flush(ctx context.Context, requestID string) (Record, error) {
	rec, err := s.Requests.GetRequest(ctx, requestID)
	if err != nil {
		return rec, err
	}
	rec = s.afterSave(ctx, rec)
	if len(rec.Outbox) > 0 {
		return rec, domain.E(domain.KindTransient, "request %s: %d effects still undelivered", requestID, len(rec.Outbox))
	}
	return rec, nil
}
