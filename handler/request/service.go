package request

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/workflow"
)

// MFAConsumer marks an MFA token as used; called once the request is accepted.
type MFAConsumer func(ctx context.Context) error

// Service runs the lifecycle of change requests: it opens a request for an
// accepted change, runs the workflow engine at once and for every later
// event (scan verdicts, decisions, timers, cancel), and saves the record
// with its outbox (outbox.go). Field locks (locks.go), the status view
// (status.go) and the sweeper (sweep.go) sit beside it.
type Service struct {
	Requests   Store
	Locks      LockStore
	Profiles   domain.ProfileStore
	Definition *workflow.Definition
	Dispatcher Dispatcher
	// Evidence pins documents at acceptance into the Landing container.
	// Nil only where attachments arrive pinned already (tests).
	Evidence Evidence
	Landing  string
	// Links signs read links of documents in the Clean container.
	Links DocumentLinks
	Clean string
	Now   func() time.Time
	NewID func() string
	Log   *slog.Logger
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

// Open opens a request for an accepted change and runs the workflow until
// it ends or waits. The caller has validated the change, checked the MFA
// token and resolved attachments (Submitter does all that); accept consumes
// the MFA token once the fields are locked for this request. Errors:
// KindInvalid when evidence is missing or nothing is left to change,
// KindConflict naming the open request that holds a field, or the store's.
// A request whose workflow cannot start now is still accepted (Pending) and
// started by the sweeper.
func (s *Service) Open(ctx context.Context, p domain.Principal, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error) {
	if ch.NeedsEvidence() && len(atts) == 0 {
		return Record{}, domain.E(domain.KindInvalid, "a change of %s needs at least one evidence document (uploadId or attachment1)", strings.Join(evidenceFields(ch), ", "))
	}
	if !ch.NeedsEvidence() && len(atts) > 0 {
		// A change that applies at once would never wait for the scan:
		// documents are taken only as evidence of the fields that need it.
		return Record{}, domain.E(domain.KindInvalid, "documents are evidence of a name or marital-status change only; a description change takes none (leave out uploadId and attachments)")
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
	atts, err := s.pin(ctx, id, atts)
	if err != nil {
		s.releaseQuietly(ctx, prof.ID, id)
		return Record{}, err
	}
	if accept != nil {
		if err := accept(ctx); err != nil {
			s.unpin(ctx, id, atts)
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
	rec, err = s.create(ctx, rec)
	if err != nil {
		s.unpin(ctx, id, atts)
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
// saves it and runs its outbox. Open calls it at once; the sweeper calls it
// again for a request whose first start failed.
func (s *Service) start(ctx context.Context, rec Record) (Record, error) {
	now := s.now()
	vars := changeVars(rec)
	vars["requester"] = rec.Owner
	vars["profileId"] = rec.ProfileID
	st := &step{}
	in, eff, err := workflow.Start(ctx, s.Definition, rec.ID, vars, now, s.tasks(rec, st))
	if err != nil {
		// The record stays Pending; the sweeper starts it again.
		return rec, err
	}
	rec.Workflow = in
	s.absorb(&rec, eff, st, now)
	// Verdicts that arrived before the workflow started (it was left for
	// the sweeper) are delivered now.
	if _, done := verdicts(rec); done && len(rec.Attachments) > 0 && slices.ContainsFunc(in.Messages, func(m workflow.MessageWait) bool { return m.Message == "attachmentsScanned" }) {
		st := &step{}
		eff, err := in.Deliver(ctx, s.Definition, scannedEvent(rec), now, s.tasks(rec, st))
		if err != nil {
			return rec, err
		}
		s.absorb(&rec, eff, st, now)
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

// scannedEvent is the attachmentsScanned message once every document has a
// verdict: allClean, and scanProblem naming each document that is not
// clean and why (the definition's failed end takes it as its reason).
func scannedEvent(rec Record) workflow.Event {
	allClean, _ := verdicts(rec)
	vars := map[string]any{"allClean": allClean}
	var problems []string
	for _, a := range rec.Attachments {
		if a.Verdict == VerdictClean {
			continue
		}
		p := a.Name + ": " + string(a.Verdict)
		switch {
		case a.Signature != "":
			p += " (" + a.Signature + ")"
		case a.Detail != "":
			p += " (" + a.Detail + ")"
		}
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		vars["scanProblem"] = "an attachment did not pass the scan: " + strings.Join(problems, "; ")
	}
	return workflow.Event{ID: scanRound(rec), Type: workflow.EventMessage, Name: "attachmentsScanned", Vars: vars}
}

// scanRound is the event id of the attachmentsScanned message of rec's
// current documents: "scanned" for those submitted first, "scanned:<task>"
// after the answer that completed requester task <task>.
func scanRound(rec Record) string {
	id := "scanned"
	if rec.Workflow != nil {
		for _, t := range rec.Workflow.Tasks {
			if t.Performer == workflow.PerformerRequester && t.Decision != nil {
				id = "scanned:" + t.ID
			}
		}
	}
	return id
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
// from a fresh read (docstore.Retry); the outbox runs after the save.
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
		st := &step{}
		eff, err := rec.Workflow.Deliver(ctx, s.Definition, ev, now, s.tasks(*rec, st))
		if err != nil {
			return false, err
		}
		if eff.Duplicate || eff.Ignored != "" {
			return false, nil
		}
		s.absorb(rec, eff, st, now)
		return true, nil
	})
}

// RecordVerdict stores a document's scan verdict by document name (see
// recordVerdict); tests and tools use it, the scan records by blob.
func (s *Service) RecordVerdict(ctx context.Context, requestID, name string, v Verdict, sha256, detail string) (Record, error) {
	return s.recordVerdictBy(ctx, requestID, func(a Attachment) bool { return a.Name == name }, "attachment "+name,
		scan.Result{Verdict: scan.Verdict(v), SHA256: sha256, Reason: detail, Signature: signatureOf(v, detail)})
}

func signatureOf(v Verdict, detail string) string {
	if v == VerdictInfected {
		return detail
	}
	return ""
}

// recordVerdict stores the verdict r of the document stored as blob.
func (s *Service) recordVerdict(ctx context.Context, requestID, blob string, r scan.Result) (Record, error) {
	return s.recordVerdictBy(ctx, requestID, func(a Attachment) bool { return a.Blob == blob }, "document "+blob, r)
}

// recordVerdictBy stores a document's scan verdict and, once every document
// has one, delivers the attachmentsScanned message (allClean true only if
// all are clean). Safe to call twice with the same verdict; KindConflict
// when the document already has another one, KindNotFound when the request
// has no such document.
func (s *Service) recordVerdictBy(ctx context.Context, requestID string, match func(Attachment) bool, what string, r scan.Result) (Record, error) {
	v := Verdict(r.Verdict)
	rec, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		i := slices.IndexFunc(rec.Attachments, match)
		if i < 0 {
			return false, domain.E(domain.KindNotFound, "request %s has no %s", requestID, what)
		}
		a := &rec.Attachments[i]
		if a.Verdict == v && a.SHA256 == r.SHA256 {
			return false, nil
		}
		if a.Verdict != VerdictPending && a.Verdict != "" {
			return false, domain.E(domain.KindConflict, "attachment %q already has verdict %s", a.Name, a.Verdict)
		}
		at := r.At
		if at.IsZero() {
			at = now
		}
		at = at.UTC()
		a.Verdict, a.SHA256, a.Detail, a.Engine, a.Signature, a.ScannedAt = v, r.SHA256, r.Reason, r.Engine, r.Signature, &at
		detail := fmt.Sprintf("%s: %s", a.Name, v)
		switch {
		case r.Signature != "":
			detail += " (" + r.Signature + ")"
		case r.Reason != "":
			detail += ": " + r.Reason
		}
		if r.Engine != "" {
			detail += "; engine " + r.Engine
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "AttachmentScanned", Actor: "scanner", Detail: detail})
		rec.LastUpdatedTime = now
		rec.CustomStatus = customStatus(*rec)
		return true, nil
	})
	if err != nil {
		return rec, err
	}
	_, done := verdicts(rec)
	if !done || rec.RuntimeStatus.Terminal() || rec.Workflow == nil {
		// Not all scanned yet, over, or not started (start delivers it).
		return rec, nil
	}
	return s.Deliver(ctx, requestID, scannedEvent(rec))
}

// Cancel terminates an open request on its owner's behalf. Errors: the
// same KindNotFound as Get for a request p may not read, KindForbidden for
// an approver who is not the owner, KindConflict once it is terminal.
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

// update is an ETag-checked read-modify-write of one record, retried from a
// fresh read by docstore.Retry (KindTransient once it gives up). mutate
// reports whether it changed the record; either way the outbox runs after,
// so effects a crashed step left behind are finished.
func (s *Service) update(ctx context.Context, id string, mutate func(rec *Record, now time.Time) (bool, error)) (Record, error) {
	var out Record
	err := docstore.Retry(ctx, "request "+id, func(ctx context.Context) error {
		rec, err := s.Requests.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		out = rec
		changed, err := mutate(&rec, s.now())
		if err != nil || !changed {
			return err
		}
		saved, err := s.replace(ctx, rec)
		if err != nil {
			return err
		}
		out = saved
		return nil
	})
	if err != nil {
		return out, err
	}
	return s.afterSave(ctx, out), nil
}

// absorb folds an engine step into the record: status, history, and the
// outbox (effects the step's service tasks recorded, then the engine's
// timers and notices).
func (s *Service) absorb(rec *Record, eff workflow.Effects, st *step, now time.Time) {
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
	// History in the order things happened: decisions, timers that fired,
	// the tasks that follow, then the outcome.
	for _, t := range eff.TasksDecided {
		if d := t.Decision; d != nil && d.Decision != workflow.Resubmit {
			rec.History = append(rec.History, HistoryEntry{At: now, Type: "TaskDecided", Actor: d.Actor, Detail: fmt.Sprintf("%s %s%s", t.ID, d.Decision, reasonSuffix(d.Comment))})
		}
	}
	for _, n := range eff.Notifications {
		switch n.Kind {
		case "reminder":
			rec.History = append(rec.History, HistoryEntry{At: now, Type: "TaskReminder", Detail: fmt.Sprintf("%s: reminded %s", n.Task, strings.Join(n.Groups, ","))})
		case "escalated":
			rec.History = append(rec.History, HistoryEntry{At: now, Type: "TaskEscalated", Detail: fmt.Sprintf("%s: not decided in time by %s", n.Task, strings.Join(n.Groups, ","))})
		}
	}
	for _, t := range eff.TasksCreated {
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "TaskAssigned", Detail: t.ID + " to " + assignedTo(t)})
	}
	if eff.Outcome != nil {
		rec.Output = map[string]any{"outcome": string(eff.Outcome.Status)}
		if eff.Outcome.Reason != "" {
			rec.Output["reason"] = eff.Outcome.Reason
		}
		if rec.RuntimeStatus == Completed && st.applies() {
			rec.Output["applied"] = rec.Input.Fields
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "Request" + string(rec.RuntimeStatus), Actor: eff.Outcome.Actor, Detail: eff.Outcome.Reason})
	}
	for _, e := range st.effects {
		if e.Apply != nil || s.Dispatcher != nil {
			rec.Outbox = append(rec.Outbox, e)
		}
	}
	if s.Dispatcher != nil {
		for _, t := range eff.TimersScheduled {
			rec.Outbox = append(rec.Outbox, Effect{ID: "timer-" + t.ID, Timer: &t})
		}
		for _, id := range eff.TimersCancelled {
			withdrawTimer(rec, id)
		}
		for _, n := range eff.Notifications {
			rec.Outbox = append(rec.Outbox, Effect{ID: n.ID, Notice: &Notice{ID: n.ID, RequestID: rec.ID, ProfileID: rec.ProfileID, Owner: rec.Owner, Kind: n.Kind, Task: n.Task, Groups: n.Groups, Reason: n.Reason}})
		}
		forgetSettledTimers(rec)
	}
	// Without a Dispatcher nothing delivers timers and notices: they stay
	// out of the outbox so the sweeper settles. A profile change is applied
	// by the service itself.
	rec.LastUpdatedTime = now
	rec.CustomStatus = customStatus(*rec)
}

// assignedTo says who may decide t, for the history.
func assignedTo(t workflow.Task) string {
	switch {
	case t.Performer == workflow.PerformerRequester:
		return "the requester (" + t.Assignee + ")"
	case t.Assignee != "":
		return t.Assignee
	}
	var who []string
	who = append(who, t.CandidateGroups...)
	who = append(who, t.CandidateUsers...)
	if len(who) == 0 {
		return "any approver"
	}
	return strings.Join(who, ",")
}

// create and replace save a record, keeping its derived fields in step:
// Attention (see Sweep) and LastUpdatedTime, which is never earlier than
// any history event, whatever path appended it and whatever the clocks of
// the instances that wrote it.
func (s *Service) create(ctx context.Context, rec Record) (Record, error) {
	settle(&rec)
	return s.Requests.CreateRequest(ctx, rec)
}

func (s *Service) replace(ctx context.Context, rec Record) (Record, error) {
	settle(&rec)
	return s.Requests.ReplaceRequest(ctx, rec)
}

func settle(rec *Record) {
	rec.Attention = needsAttention(*rec)
	rec.TaskIndex = taskIndex(*rec)
	if rec.LastUpdatedTime.Before(rec.CreatedTime) {
		rec.LastUpdatedTime = rec.CreatedTime
	}
	for _, h := range rec.History {
		if h.At.After(rec.LastUpdatedTime) {
			rec.LastUpdatedTime = h.At
		}
	}
}
