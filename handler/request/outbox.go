package request

import (
	"context"
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

// Effect is one entry of a record's outbox: exactly one of Apply (carried
// out by the service itself), Timer (to schedule) or Notice (to send), both
// delivered by the Dispatcher.
type Effect struct {
	ID     string          `json:"id"`
	Apply  *ApplyChange    `json:"apply,omitempty"`
	Timer  *workflow.Timer `json:"timer,omitempty"`
	Notice *Notice         `json:"notice,omitempty"`
}

// Dispatcher delivers timers and notices (Service Bus scheduled messages
// and the notifications queue in Azure). Implementations must be
// idempotent per Effect.ID. With a nil Dispatcher timers and notices are
// not recorded at all.
type Dispatcher interface {
	Dispatch(ctx context.Context, p Effect) error
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
	if len(rec.Outbox) == 0 {
		return rec
	}
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
		default:
			if err := s.Dispatcher.Dispatch(ctx, e); err != nil {
				s.log().WarnContext(ctx, "dispatch failed; kept in the record's outbox", "request", rec.ID, "effect", e.ID, "err", err.Error())
				left = append(left, e)
			}
		}
	}
	if len(left) == len(rec.Outbox) {
		return rec
	}
	rec.Outbox = left
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
