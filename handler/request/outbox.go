package request

import (
	"context"
	"maps"
	"slices"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/workflow"
)

// The outbox: effects of a workflow step are saved with the record (a
// transactional outbox) and carried out after the save, in order, by
// afterSave; what fails stays in the outbox for the next event or the
// sweeper. Every effect is idempotent per Effect.ID.

// Notice is a notification to send (SMS to the requester or approvers).
// ID is deterministic so senders can drop duplicates.
type Notice struct {
	ID        string   `json:"id"`
	RequestID string   `json:"requestId"`
	ProfileID string   `json:"profileId"`
	Owner     string   `json:"owner"`
	Kind      string   `json:"kind"`
	Task      string   `json:"task,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// ApplyChange is the effect of the applyChange service task: write the
// request's change (Record.Input) to its profile.
type ApplyChange struct {
	ProfileID string `json:"profileId"`
}

// TimerCancel withdraws a scheduled timer that the workflow no longer
// waits for (its task was decided, the request ended). Sequence is the
// number the Dispatcher returned when it scheduled the timer (0 when
// unknown: nothing can be withdrawn, and the timer, should it fire, is
// ignored by the engine as not pending).
type TimerCancel struct {
	TimerID  string `json:"timerId"`
	Sequence int64  `json:"sequence,omitempty"`
}

// Effect is one entry of a record's outbox: exactly one of Apply (carried
// out by the service itself), Timer (to schedule), Cancel (a scheduled
// timer to withdraw) or Notice (to send), the last three delivered by the
// Dispatcher.
type Effect struct {
	ID     string          `json:"id"`
	Apply  *ApplyChange    `json:"apply,omitempty"`
	Timer  *workflow.Timer `json:"timer,omitempty"`
	Cancel *TimerCancel    `json:"cancel,omitempty"`
	Notice *Notice         `json:"notice,omitempty"`
}

// Dispatcher delivers timers, their cancellations and notices (in Azure:
// Service Bus scheduled messages on the workflow queue, their
// cancellation, and messages on the notifications queue). requestID is the
// request whose outbox holds e. Implementations must be idempotent per
// Effect.ID. For a Timer, Dispatch returns the broker's sequence number of
// the scheduled message (kept in Record.Scheduled, so that a later Cancel
// can name it); 0 for other effects. A Cancel of a timer that already
// fired, was already withdrawn or was never known succeeds. Errors are
// KindTransient when the broker is unreachable or throttles, and leave the
// effect in the outbox for the next run. With a nil Dispatcher, timers,
// cancellations and notices are not recorded at all.
type Dispatcher interface {
	Dispatch(ctx context.Context, requestID string, e Effect) (sequence int64, err error)
}

// pendingApply reports whether the record still has a change to apply.
func pendingApply(rec Record) bool {
	for _, e := range rec.Outbox {
		if e.Apply != nil {
			return true
		}
	}
	return false
}

// afterSave carries out the outbox and releases the field locks of a
// terminal request. Failures are logged and left for the next event or the
// sweeper; everything here is idempotent.
func (s *Service) afterSave(ctx context.Context, rec Record) Record {
	rec = s.runOutbox(ctx, rec)
	if rec.RuntimeStatus.Terminal() && !rec.LocksReleased && !pendingApply(rec) {
		if err := s.release(ctx, rec.ProfileID, rec.ID); err != nil {
			s.log().WarnContext(ctx, "releasing field locks failed", "request", rec.ID, "err", err.Error())
			return rec
		}
		rec.LocksReleased = true
		if saved, err := s.replace(ctx, rec); err == nil {
			rec = saved
		}
	}
	return rec
}

// runOutbox carries out the outbox in order. A change that cannot be
// applied now holds back the effects after it (the completion notice must
// not go out before the change is made); a dispatch failure keeps only that
// effect. The record is saved without what was done (a lost race leaves it
// for another run: every effect is idempotent).
func (s *Service) runOutbox(ctx context.Context, rec Record) Record {
	// stored is the record as saved: what is returned when the outbox's new
	// state cannot be saved, so that callers see the work still recorded as
	// undone (and keep the field locks that guard it).
	stored := rec
	stored.Outbox = slices.Clone(rec.Outbox)
	stored.History = slices.Clone(rec.History)
	stored.Scheduled = maps.Clone(rec.Scheduled)
	if len(rec.Outbox) == 0 {
		return rec
	}
	rec.Scheduled = maps.Clone(rec.Scheduled)
	var left []Effect
	held := false
	for _, e := range rec.Outbox {
		switch {
		case held:
			left = append(left, e)
		case e.Apply != nil:
			if err := s.applyChange(ctx, rec); err != nil {
				s.log().WarnContext(ctx, "applying the change failed; left for the sweeper", "request", rec.ID, "err", err.Error())
				left, held = append(left, e), true
				continue
			}
			rec.Applied = true
			rec.History = append(rec.History, HistoryEntry{At: s.now(), Type: "ChangeApplied", Detail: "profile " + rec.ProfileID})
		case s.Dispatcher == nil:
			left = append(left, e)
		case e.Cancel != nil && e.Cancel.Sequence == 0:
			// Never known to be scheduled: nothing to withdraw.
		default:
			seq, err := s.Dispatcher.Dispatch(ctx, rec.ID, e)
			if err != nil {
				s.log().WarnContext(ctx, "dispatch failed; kept in the record's outbox", "request", rec.ID, "effect", e.ID, "err", err.Error())
				left = append(left, e)
				continue
			}
			switch {
			case e.Timer != nil && seq != 0:
				if rec.Scheduled == nil {
					rec.Scheduled = map[string]int64{}
				}
				rec.Scheduled[e.Timer.ID] = seq
			case e.Cancel != nil:
				delete(rec.Scheduled, e.Cancel.TimerID)
			}
		}
	}
	if len(left) == len(rec.Outbox) {
		return rec
	}
	rec.Outbox = left
	if len(rec.Scheduled) == 0 {
		rec.Scheduled = nil
	}
	saved, err := s.replace(ctx, rec)
	if err != nil {
		s.log().WarnContext(ctx, "recording the outbox failed; left for the sweeper", "request", rec.ID, "err", err.Error())
		return stored
	}
	return saved
}

// applyChange writes the change to the profile, ETag-checked and retried by
// docstore.Retry, once: a profile already carrying this request id is left
// alone (a repeated run).
func (s *Service) applyChange(ctx context.Context, rec Record) error {
	return docstore.Retry(ctx, "profile "+rec.ProfileID, func(ctx context.Context) error {
		prof, err := s.Profiles.GetProfile(ctx, rec.ProfileID)
		if err != nil {
			return err
		}
		if prof.LastRequestID == rec.ID {
			return nil
		}
		next := rec.Input.Apply(prof)
		next.Version = prof.Version + 1
		next.UpdatedAt = s.now()
		next.LastRequestID = rec.ID
		_, err = s.Profiles.ReplaceProfile(ctx, next)
		return err
	})
}

// withdrawTimer records that the workflow no longer waits for timer id: a
// timer still in the outbox was never scheduled and is dropped; one already
// scheduled gets a Cancel naming its sequence number.
func withdrawTimer(rec *Record, id string) {
	if i := slices.IndexFunc(rec.Outbox, func(e Effect) bool { return e.Timer != nil && e.Timer.ID == id }); i >= 0 {
		rec.Outbox = slices.Delete(rec.Outbox, i, i+1)
		return
	}
	rec.Outbox = append(rec.Outbox, Effect{ID: "cancel-" + id, Cancel: &TimerCancel{TimerID: id, Sequence: rec.Scheduled[id]}})
}

// forgetSettledTimers drops the sequence numbers of timers that neither
// wait in the workflow nor wait to be withdrawn (fired or withdrawn).
func forgetSettledTimers(rec *Record) {
	if len(rec.Scheduled) == 0 {
		return
	}
	live := map[string]bool{}
	if rec.Workflow != nil {
		for _, t := range rec.Workflow.Timers {
			live[t.ID] = true
		}
	}
	for _, e := range rec.Outbox {
		if e.Cancel != nil {
			live[e.Cancel.TimerID] = true
		}
	}
	rec.Scheduled = maps.Clone(rec.Scheduled)
	maps.DeleteFunc(rec.Scheduled, func(id string, _ int64) bool { return !live[id] })
	if len(rec.Scheduled) == 0 {
		rec.Scheduled = nil
	}
}
