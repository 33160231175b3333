package request

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

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

// Effect is an effect saved with the record and dispatched after the save
// (a transactional outbox): a timer to schedule or a notice to send.
type Effect struct {
	ID     string          `json:"id"`
	Timer  *workflow.Timer `json:"timer,omitempty"`
	Notice *Notice         `json:"notice,omitempty"`
}

// Dispatcher delivers pending effects (Service Bus scheduled messages and
// the notifications queue in Azure). Implementations must be idempotent per
// Effect.ID. A nil Dispatcher keeps effects in the record.
type Dispatcher interface {
	Dispatch(ctx context.Context, p Effect) error
}

// MFAConsumer marks an MFA token as used; called once the request is accepted.
type MFAConsumer func(ctx context.Context) error

// Service runs change requests.
type Service struct {
	Requests   Store
	Locks      LockStore
	Profiles   domain.ProfileStore
	Definition *workflow.Definition
	Dispatcher Dispatcher
	Now        func() time.Time
	NewID      func() string
	Log        *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) newID() string {
	if s.NewID != nil {
		return s.NewID()
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Submit opens a request for an accepted change and runs the workflow until
// it ends (the change is applied: Completed) or waits (Running). The caller
// has validated the change, checked the MFA token and resolved attachments;
// accept consumes the MFA token once the fields are locked for this request.
func (s *Service) Submit(ctx context.Context, p domain.Principal, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error) {
	if ch.NeedsEvidence() && len(atts) == 0 {
		return Record{}, domain.E(domain.KindInvalid, "a change of %s needs at least one evidence document (uploadId or attachment1)", strings.Join(evidenceFields(ch), ", "))
	}
	now := s.now()
	id := s.newID()
	if err := s.acquire(ctx, prof.ID, id, ch.Names()); err != nil {
		return Record{}, err
	}
	// The caller validated against a profile read before the lock; a
	// request that finished in between may have changed it. Re-base the
	// change on the current profile (old values for the audit, and at least
	// one field must still differ).
	if cur, err := s.Profiles.GetProfile(ctx, prof.ID); err != nil {
		s.releaseQuietly(ctx, prof.ID, id)
		return Record{}, err
	} else if ch, err = ch.Rebase(cur); err != nil {
		s.releaseQuietly(ctx, prof.ID, id)
		return Record{}, err
	}
	if accept != nil {
		if err := accept(ctx); err != nil {
			s.releaseQuietly(ctx, prof.ID, id)
			return Record{}, err
		}
	}
	for i := range atts {
		if atts[i].Verdict == "" {
			atts[i].Verdict = VerdictPending
		}
	}
	rec := Record{
		ID: id, Type: "request", Name: "ProfileUpdate", ProfileID: prof.ID, Owner: p.Subject,
		Input: ch, Attachments: atts, RuntimeStatus: Pending, Output: map[string]any{},
		CreatedTime: now, LastUpdatedTime: now,
		History: []HistoryEntry{{At: now, Type: "RequestCreated", Actor: p.Subject, Detail: "changes: " + strings.Join(ch.Names(), ", ")}},
	}
	rec.CustomStatus = customStatus(rec)
	rec, err := s.create(ctx, rec)
	if err != nil {
		s.releaseQuietly(ctx, prof.ID, id)
		return Record{}, err
	}
	started, err := s.start(ctx, rec)
	if err != nil {
		// The request is recorded and accepted (the MFA token is spent): it
		// stays Pending and the sweeper starts it once the outage is over.
		s.log().WarnContext(ctx, "request accepted but its workflow could not start; left for the sweeper", "request", rec.ID, "err", err.Error())
		return rec, nil
	}
	return started, nil
}

// start runs a created (Pending) request's workflow until it ends or waits,
// saves it and dispatches its effects. Submit calls it at once; the sweeper
// calls it again for a request whose first start failed.
func (s *Service) start(ctx context.Context, rec Record) (Record, error) {
	now := s.now()
	vars := map[string]any{
		"changedFields":   rec.Input.Names(),
		"nameChanged":     rec.Input.Has(FieldFirstName) || rec.Input.Has(FieldLastName),
		"lastNameChanged": rec.Input.Has(FieldLastName),
		"attachmentCount": len(rec.Attachments),
		"requester":       rec.Owner,
		"profileId":       rec.ProfileID,
	}
	in, eff, err := workflow.Start(ctx, s.Definition, rec.ID, vars, now, s.handlers(rec))
	if err != nil {
		// The record stays Pending; the sweeper starts it again.
		return rec, err
	}
	rec.Workflow = in
	s.absorb(&rec, eff, now)
	// Verdicts that arrived before the workflow started (it was left for
	// the sweeper) are delivered now.
	if allClean, done := verdicts(rec); done && len(rec.Attachments) > 0 && slices.ContainsFunc(in.Messages, func(m workflow.MessageWait) bool { return m.Message == "attachmentsScanned" }) {
		eff, err := in.Deliver(ctx, s.Definition, scannedEvent(allClean), now, s.handlers(rec))
		if err != nil {
			return rec, err
		}
		s.absorb(&rec, eff, now)
	}
	saved, err := s.replace(ctx, rec)
	if err != nil {
		return rec, err
	}
	return s.afterSave(ctx, saved), nil
}

// verdicts reports whether every attachment has a verdict and all are clean.
func verdicts(rec Record) (allClean, done bool) {
	allClean, done = true, true
	for _, a := range rec.Attachments {
		done = done && a.Verdict != VerdictPending && a.Verdict != ""
		allClean = allClean && a.Verdict == VerdictClean
	}
	return allClean, done
}

func scannedEvent(allClean bool) workflow.Event {
	return workflow.Event{ID: "scanned", Type: workflow.EventMessage, Name: "attachmentsScanned", Vars: map[string]any{"allClean": allClean}}
}

func evidenceFields(ch Change) []string {
	var out []string
	for _, f := range ch.Names() {
		if f != FieldDescription {
			out = append(out, f)
		}
	}
	return out
}

// Deliver is the one entry point for later events (scan verdicts, decisions,
// timers, cancel). It is idempotent per event id and retries ETag conflicts
// from a fresh read; effects are dispatched after the save.
func (s *Service) Deliver(ctx context.Context, requestID string, ev workflow.Event) (Record, error) {
	return s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		if rec.Workflow == nil {
			return false, domain.E(domain.KindConflict, "request %s has not started yet", requestID)
		}
		if rec.RuntimeStatus.Terminal() {
			if slices.Contains(rec.Workflow.Processed, ev.ID) {
				return false, nil
			}
			return false, domain.E(domain.KindConflict, "request %s is already %s", requestID, rec.RuntimeStatus)
		}
		eff, err := rec.Workflow.Deliver(ctx, s.Definition, ev, now, s.handlers(*rec))
		if err != nil {
			return false, err
		}
		if eff.Duplicate || eff.Ignored != "" {
			return false, nil
		}
		s.absorb(rec, eff, now)
		return true, nil
	})
}

// RecordVerdict stores a document's scan verdict and, once every document
// has one, delivers the attachmentsScanned message (allClean true only if
// all are clean). Safe to call twice with the same verdict.
func (s *Service) RecordVerdict(ctx context.Context, requestID, name string, v Verdict, sha256, detail string) (Record, error) {
	rec, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		i := slices.IndexFunc(rec.Attachments, func(a Attachment) bool { return a.Name == name })
		if i < 0 {
			return false, domain.E(domain.KindNotFound, "request %s has no attachment %q", requestID, name)
		}
		a := &rec.Attachments[i]
		if a.Verdict == v && a.SHA256 == sha256 {
			return false, nil
		}
		if a.Verdict != VerdictPending && a.Verdict != "" {
			return false, domain.E(domain.KindConflict, "attachment %q already has verdict %s", name, a.Verdict)
		}
		a.Verdict, a.SHA256, a.Detail, a.ScannedAt = v, sha256, detail, &now
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "AttachmentScanned", Actor: "scanner", Detail: fmt.Sprintf("%s: %s", name, v)})
		rec.CustomStatus = customStatus(*rec)
		return true, nil
	})
	if err != nil {
		return rec, err
	}
	allClean, done := verdicts(rec)
	if !done || rec.RuntimeStatus.Terminal() || rec.Workflow == nil {
		// Not all scanned yet, over, or not started (start delivers it).
		return rec, nil
	}
	return s.Deliver(ctx, requestID, scannedEvent(allClean))
}

// Cancel terminates an open request on its owner's behalf.
func (s *Service) Cancel(ctx context.Context, p domain.Principal, requestID, comment string) (Record, error) {
	rec, err := s.Get(ctx, p, requestID)
	if err != nil {
		return rec, err
	}
	if rec.Owner != p.Subject {
		return rec, domain.E(domain.KindForbidden, "only the requester can cancel request %s", requestID)
	}
	if rec.RuntimeStatus.Terminal() {
		return rec, domain.E(domain.KindConflict, "request %s is already %s", requestID, rec.RuntimeStatus)
	}
	reason := "cancelled by the requester"
	if comment != "" {
		reason += ": " + comment
	}
	if rec.Workflow == nil {
		// Not started yet (left for the sweeper): terminate the record itself.
		return s.update(ctx, requestID, func(r *Record, now time.Time) (bool, error) {
			if r.Workflow != nil || r.RuntimeStatus.Terminal() {
				return false, domain.E(domain.KindConflict, "request %s changed meanwhile; retry", requestID)
			}
			r.RuntimeStatus = Terminated
			r.Output = map[string]any{"outcome": "terminated", "reason": reason}
			r.History = append(r.History, HistoryEntry{At: now, Type: "RequestTerminated", Actor: p.Subject, Detail: reason})
			r.LastUpdatedTime = now
			r.CustomStatus = customStatus(*r)
			return true, nil
		})
	}
	return s.Deliver(ctx, requestID, workflow.Event{ID: "cancel", Type: workflow.EventCancel, Actor: p.Subject, Comment: reason})
}

// Get returns a request readable by p (owner or an approver working on it).
func (s *Service) Get(ctx context.Context, p domain.Principal, requestID string) (Record, error) {
	rec, err := s.Requests.GetRequest(ctx, requestID)
	if err != nil {
		return rec, err
	}
	if rec.Type != "request" {
		return Record{}, domain.E(domain.KindNotFound, "request %s not found", requestID)
	}
	if !rec.CanRead(p) {
		return Record{}, domain.E(domain.KindNotFound, "request %s not found", requestID)
	}
	return rec, nil
}

// update is an ETag-checked read-modify-write with retries from a fresh read.
func (s *Service) update(ctx context.Context, id string, mutate func(rec *Record, now time.Time) (bool, error)) (Record, error) {
	for attempt := 0; ; attempt++ {
		rec, err := s.Requests.GetRequest(ctx, id)
		if err != nil {
			return rec, err
		}
		now := s.now()
		changed, err := mutate(&rec, now)
		if err != nil {
			return rec, err
		}
		if !changed {
			// Nothing new; still finish any effects a crashed step left behind.
			return s.afterSave(ctx, rec), nil
		}
		saved, err := s.replace(ctx, rec)
		if domain.Is(err, domain.KindStale) && attempt < 8 {
			continue
		}
		if err != nil {
			return rec, err
		}
		return s.afterSave(ctx, saved), nil
	}
}

// absorb folds an engine step into the record: status, history, outbox.
func (s *Service) absorb(rec *Record, eff workflow.Effects, now time.Time) {
	switch rec.Workflow.Status {
	case workflow.StatusRunning:
		rec.RuntimeStatus = Running
	case workflow.StatusCompleted:
		rec.RuntimeStatus = Completed
	case workflow.StatusFailed:
		rec.RuntimeStatus = Failed
	case workflow.StatusTerminated:
		rec.RuntimeStatus = Terminated
	}
	if eff.Outcome != nil {
		rec.Output = map[string]any{"outcome": string(eff.Outcome.Status)}
		if eff.Outcome.Reason != "" {
			rec.Output["reason"] = eff.Outcome.Reason
		}
		if rec.RuntimeStatus == Completed {
			rec.Output["applied"] = rec.Input.Fields
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "Request" + string(rec.RuntimeStatus), Actor: eff.Outcome.Actor, Detail: eff.Outcome.Reason})
	}
	for _, t := range eff.TasksCreated {
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "TaskAssigned", Detail: fmt.Sprintf("%s to %s", t.ID, strings.Join(t.CandidateGroups, ","))})
	}
	if s.Dispatcher == nil {
		// Nothing delivers effects yet (timers and notifications arrive with
		// Service Bus): keep them out of the outbox so the sweeper settles.
		rec.LastUpdatedTime = now
		rec.CustomStatus = customStatus(*rec)
		return
	}
	for _, t := range eff.TimersScheduled {
		rec.Outbox = append(rec.Outbox, Effect{ID: "timer-" + t.ID, Timer: &t})
	}
	for _, n := range eff.Notifications {
		rec.Outbox = append(rec.Outbox, Effect{ID: n.ID, Notice: &Notice{ID: n.ID, RequestID: rec.ID, ProfileID: rec.ProfileID, Owner: rec.Owner, Kind: n.Kind, Task: n.Task, Groups: n.Groups, Reason: n.Reason}})
	}
	rec.LastUpdatedTime = now
	rec.CustomStatus = customStatus(*rec)
}

// afterSave dispatches outstanding effects and releases field locks of a
// terminal request; both are retried by the next event or the sweeper if
// they fail now, and are idempotent.
func (s *Service) afterSave(ctx context.Context, rec Record) Record {
	// The change is written to the profile only once the Completed record is
	// saved, so a racing cancel or rejection (whose save wins) can never
	// leave a profile changed by a request that did not complete.
	if rec.RuntimeStatus == Completed && !rec.Applied {
		if err := s.applyChange(ctx, rec, s.now()); err != nil {
			s.log().WarnContext(ctx, "applying the change failed; left for the sweeper", "request", rec.ID, "err", err.Error())
			return rec
		}
		rec.Applied = true
		rec.History = append(rec.History, HistoryEntry{At: s.now(), Type: "ChangeApplied", Detail: "profile " + rec.ProfileID})
		saved, err := s.replace(ctx, rec)
		if err != nil {
			s.log().WarnContext(ctx, "recording the applied change failed; left for the sweeper", "request", rec.ID, "err", err.Error())
			return rec
		}
		rec = saved
	}
	if s.Dispatcher != nil && len(rec.Outbox) > 0 {
		var left []Effect
		for _, p := range rec.Outbox {
			if err := s.Dispatcher.Dispatch(ctx, p); err != nil {
				s.log().WarnContext(ctx, "dispatch failed; kept in the record's outbox", "request", rec.ID, "effect", p.ID, "err", err.Error())
				left = append(left, p)
			}
		}
		if len(left) != len(rec.Outbox) {
			rec.Outbox = left
			if saved, err := s.replace(ctx, rec); err == nil {
				rec = saved
			}
		}
	}
	if rec.RuntimeStatus.Terminal() && !rec.LocksReleased {
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

func customStatus(rec Record) CustomStatus {
	cs := CustomStatus{WaitingFor: []string{}, Attachments: []AttachmentStatus{}, Approvals: []Approval{}, OpenTasks: []TaskView{}}
	for _, a := range rec.Attachments {
		cs.Attachments = append(cs.Attachments, AttachmentStatus{Name: a.Name, Verdict: a.Verdict, Size: a.Size, Detail: a.Detail})
	}
	in := rec.Workflow
	if in == nil {
		cs.Stage = "received"
		return cs
	}
	for _, m := range in.Messages {
		cs.WaitingFor = append(cs.WaitingFor, m.Message)
	}
	for _, t := range in.Tasks {
		if t.Decision != nil {
			cs.Approvals = append(cs.Approvals, Approval{Task: t.ID, Actor: t.Decision.Actor, Decision: string(t.Decision.Decision), Comment: t.Decision.Comment, At: t.Decision.At})
		}
		if t.State == workflow.TaskOpen {
			cs.OpenTasks = append(cs.OpenTasks, TaskView{ID: t.ID, Name: t.Name, CandidateGroups: t.CandidateGroups, Since: t.CreatedAt})
			cs.WaitingFor = append(cs.WaitingFor, "approval:"+strings.Join(t.CandidateGroups, ","))
		}
	}
	sort.Strings(cs.WaitingFor)
	switch {
	case rec.RuntimeStatus == Completed:
		cs.Stage = "applied"
	case rec.RuntimeStatus == Failed:
		cs.Stage = "failed"
	case rec.RuntimeStatus == Terminated:
		cs.Stage = "cancelled"
	case slices.Contains(cs.WaitingFor, "attachmentsScanned"):
		cs.Stage = "waitingForScan"
	case len(cs.OpenTasks) > 0:
		cs.Stage = "waitingForApproval"
	default:
		cs.Stage = "running"
	}
	return cs
}

// Handlers are the service tasks this service provides (for
// Definition.CheckHandlers at start-up).
func (s *Service) Handlers() workflow.ServiceHandlers { return s.handlers(Record{}) }

// handlers are the service tasks of the default definition.
func (s *Service) handlers(rec Record) workflow.ServiceHandlers {
	return workflow.ServiceHandlers{
		// The profile is written after the Completed record is saved
		// (afterSave), not inside the engine step: see afterSave.
		"applyChange": func(sc *workflow.ServiceContext) error { return nil },
		// Notification of the outcome is an effect of the terminal state
		// (Effects.Notifications → outbox); the task itself has nothing to do
		// synchronously.
		"notify": func(sc *workflow.ServiceContext) error { return nil },
	}
}

// applyChange writes the change to the profile, ETag-checked, once: a
// profile already carrying this request id is left alone (a retried step).
func (s *Service) applyChange(ctx context.Context, rec Record, now time.Time) error {
	for attempt := 0; ; attempt++ {
		prof, err := s.Profiles.GetProfile(ctx, rec.ProfileID)
		if err != nil {
			return err
		}
		if prof.LastRequestID == rec.ID {
			return nil
		}
		next := rec.Input.Apply(prof)
		next.Version = prof.Version + 1
		next.UpdatedAt = now
		next.LastRequestID = rec.ID
		_, err = s.Profiles.ReplaceProfile(ctx, next)
		if domain.Is(err, domain.KindStale) && attempt < 8 {
			continue
		}
		return err
	}
}

// acquire locks the fields for requestID, or fails with KindConflict naming
// the open request that holds one of them.
func (s *Service) acquire(ctx context.Context, profileID, requestID string, fields []string) error {
	for attempt := 0; ; attempt++ {
		l, err := s.Locks.GetLocks(ctx, profileID)
		create := domain.Is(err, domain.KindNotFound)
		if err != nil && !create {
			return err
		}
		if create {
			l = Locks{ID: LocksID(profileID), Type: "locks", ProfileID: profileID, Fields: map[string]string{}}
		}
		if l.Fields == nil {
			l.Fields = map[string]string{}
		}
		for _, f := range fields {
			holder, ok := l.Fields[f]
			if !ok || holder == requestID {
				continue
			}
			if s.lockIsStale(ctx, holder, l.Since[f]) {
				s.log().WarnContext(ctx, "taking over a stale field lock", "profile", profileID, "field", f, "holder", holder)
				continue
			}
			e := domain.E(domain.KindConflict, "%s has a pending change in request /api/v1/requests/%s", f, holder)
			e.Details = map[string]any{"request": "/api/v1/requests/" + holder}
			return e
		}
		if l.Since == nil {
			l.Since = map[string]time.Time{}
		}
		for _, f := range fields {
			l.Fields[f] = requestID
			l.Since[f] = s.now()
		}
		if create {
			_, err = s.Locks.CreateLocks(ctx, l)
		} else {
			_, err = s.Locks.ReplaceLocks(ctx, l)
		}
		if (domain.Is(err, domain.KindStale) || domain.Is(err, domain.KindConflict)) && attempt < 8 {
			continue
		}
		return err
	}
}

// lockGrace is how long a lock may name a request that does not exist yet
// (it is taken just before the record is created).
const lockGrace = 2 * time.Minute

// lockIsStale reports whether a lock's holder can no longer need it: the
// request ended (its release failed) or was never created (a crash between
// taking the lock and creating the record).
func (s *Service) lockIsStale(ctx context.Context, holder string, since time.Time) bool {
	rec, err := s.Requests.GetRequest(ctx, holder)
	switch {
	case err == nil:
		return rec.RuntimeStatus.Terminal()
	case domain.Is(err, domain.KindNotFound):
		return s.now().Sub(since) > lockGrace
	default:
		return false
	}
}

func (s *Service) release(ctx context.Context, profileID, requestID string) error {
	for attempt := 0; ; attempt++ {
		l, err := s.Locks.GetLocks(ctx, profileID)
		if domain.Is(err, domain.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		changed := false
		for f, holder := range l.Fields {
			if holder == requestID {
				delete(l.Fields, f)
				delete(l.Since, f)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = s.Locks.ReplaceLocks(ctx, l)
		if domain.Is(err, domain.KindStale) && attempt < 8 {
			continue
		}
		return err
	}
}

func (s *Service) releaseQuietly(ctx context.Context, profileID, requestID string) {
	if err := s.release(ctx, profileID, requestID); err != nil {
		s.log().WarnContext(ctx, "releasing field locks failed", "profile", profileID, "request", requestID, "err", err.Error())
	}
}

// Flush dispatches effects left in a request's outbox and releases the locks
// of a terminal request (used by the sweeper; idempotent).
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

// needsAttention: work a crash or an outage may have left undone.
func needsAttention(rec Record) bool {
	return rec.RuntimeStatus == Pending || len(rec.Outbox) > 0 ||
		(rec.RuntimeStatus == Completed && !rec.Applied) || (rec.RuntimeStatus.Terminal() && !rec.LocksReleased)
}

func (s *Service) create(ctx context.Context, rec Record) (Record, error) {
	rec.Attention = needsAttention(rec)
	return s.Requests.CreateRequest(ctx, rec)
}

func (s *Service) replace(ctx context.Context, rec Record) (Record, error) {
	rec.Attention = needsAttention(rec)
	return s.Requests.ReplaceRequest(ctx, rec)
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	Seen, Started, Flushed, Failed int
}

// Sweep finishes work left behind (the timer-triggered Sweep function):
// requests still Pending after quiet (their workflow never started), effects
// not yet dispatched, and field locks of terminal requests not yet released.
// Every action is idempotent, so overlapping sweeps are safe.
func (s *Service) Sweep(ctx context.Context, quiet time.Duration, limit int) (SweepResult, error) {
	var res SweepResult
	ids, err := s.Requests.NeedingAttention(ctx, s.now().Add(-quiet), limit)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		res.Seen++
		rec, err := s.Requests.GetRequest(ctx, id)
		if err != nil {
			res.Failed++
			continue
		}
		if rec.RuntimeStatus == Pending && rec.Workflow == nil {
			if _, err := s.start(ctx, rec); err != nil {
				s.log().WarnContext(ctx, "sweep: starting request failed", "request", id, "err", err.Error())
				res.Failed++
				continue
			}
			res.Started++
			continue
		}
		if after := s.afterSave(ctx, rec); needsAttention(after) {
			res.Failed++
		} else {
			res.Flushed++
		}
	}
	return res, nil
}
