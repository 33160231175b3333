package request

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

// Answering a send-back. An approver's send-back opens a requester task
// (pf:performer="requester"); the requester answers it once with a PATCH
// naming the request (answerTo): the answer's values become the request's
// change, its documents (if any) replace the earlier ones, which are kept
// as Superseded, and the workflow goes on — the documents are scanned and
// the request returns to the approvers who sent it back. The requester can
// instead cancel the request (Cancel).

// Answer applies p's answer ch (validated against prof, with atts already
// resolved, as for Open) to the sent-back request requestID. accept
// consumes the MFA token once the answer is certain to be taken. Errors:
// KindNotFound when the request is not p's (or not of this profile),
// KindConflict when it does not wait for an answer (never sent back,
// answered already, ended) or a new field is locked by another request,
// KindInvalid when the change needs evidence and neither the answer nor
// the request has any, or a description-only answer brings documents; the
// store's.
func (s *Service) Answer(ctx context.Context, p domain.Principal, requestID string, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error) {
	rec, err := s.Requests.GetRequest(ctx, requestID)
	if domain.Is(err, domain.KindNotFound) || (err == nil && (rec.Owner != p.Subject || rec.ProfileID != prof.ID)) {
		return Record{}, errNoRequest()
	}
	if err != nil {
		return Record{}, err
	}
	task, err := answerTask(rec)
	if err != nil {
		return Record{}, err
	}
	if !ch.NeedsEvidence() && len(atts) > 0 {
		return Record{}, domain.E(domain.KindInvalid, "documents are evidence of a name or marital-status change only; a description change takes none (leave out uploadId and attachments)")
	}
	if ch.NeedsEvidence() && len(atts) == 0 && len(rec.Attachments) == 0 {
		return Record{}, domain.E(domain.KindInvalid, "a change of %s needs at least one evidence document (uploadId or attachment1)", strings.Join(evidenceFields(ch), ", "))
	}
	// One answer at a time: a lease on the record, taken before anything
	// is spent, so a second answer sent at once is refused (409) with its
	// MFA token unspent.
	lease, err := s.takeAnswerLease(ctx, requestID, task)
	if err != nil {
		return Record{}, err
	}
	done := false
	defer func() {
		if !done {
			s.dropAnswerLease(context.WithoutCancel(ctx), requestID, lease)
		}
	}()
	if err := s.acquire(ctx, prof.ID, requestID, ch.Names()); err != nil {
		return Record{}, err
	}
	if cur, err := s.Profiles.GetProfile(ctx, prof.ID); err != nil {
		return Record{}, err
	} else if ch, err = ch.Rebase(cur); err != nil {
		return Record{}, err
	}
	pinned, err := s.pin(ctx, requestID, atts)
	if err != nil {
		return Record{}, err
	}
	if accept != nil {
		if err := accept(ctx); err != nil {
			s.unpin(ctx, requestID, pinned)
			return Record{}, err
		}
	}
	for i := range pinned {
		if pinned[i].Verdict == "" {
			pinned[i].Verdict = VerdictPending
		}
	}
	ev := workflow.Event{ID: "answer:" + task, Type: workflow.EventTaskDecision, TaskID: task, Decision: workflow.Resubmit, Actor: p.Subject}
	out, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		if rec.AnswerLease != lease {
			return false, domain.E(domain.KindConflict, "request %s was answered meanwhile", requestID)
		}
		if rec.RuntimeStatus.Terminal() {
			return false, domain.E(domain.KindConflict, "request %s is already %s", requestID, rec.RuntimeStatus)
		}
		rec.AnswerLease, rec.AnswerLeaseUntil = "", nil
		rec.Input = ch
		switch {
		case !ch.NeedsEvidence():
			// A description-only change takes no evidence: the earlier
			// documents no longer belong to it.
			rec.Superseded = append(rec.Superseded, rec.Attachments...)
			rec.Attachments = []Attachment{}
		case len(pinned) > 0:
			rec.Superseded = append(rec.Superseded, rec.Attachments...)
			rec.Attachments = slices.Clone(pinned)
		}
		ev.Vars = changeVars(*rec)
		st := &step{}
		eff, err := rec.Workflow.Deliver(ctx, s.Definition, ev, now, s.tasks(*rec, st))
		if err != nil {
			return false, err
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "RequestAnswered", Actor: p.Subject,
			Detail: "changes: " + strings.Join(ch.Names(), ", ") + documentsNote(len(pinned))})
		s.absorb(rec, eff, st, now)
		// Without new documents every verdict is known: deliver the scan
		// message of this round at once.
		if _, done := verdicts(*rec); done && slices.ContainsFunc(rec.Workflow.Messages, func(m workflow.MessageWait) bool { return m.Message == "attachmentsScanned" }) {
			st := &step{}
			eff, err := rec.Workflow.Deliver(ctx, s.Definition, scannedEvent(*rec), now, s.tasks(*rec, st))
			if err != nil {
				return false, err
			}
			s.absorb(rec, eff, st, now)
		}
		return true, nil
	})
	if err != nil {
		s.unpin(ctx, requestID, pinned)
		return out, err
	}
	done = true
	// Fields the answer no longer changes are free for other requests.
	if err := s.releaseExcept(ctx, prof.ID, requestID, ch.Names()); err != nil {
		s.log().WarnContext(ctx, "releasing the field locks an answer dropped failed", "request", requestID, "err", err.Error())
	}
	return out, nil
}

// answerLeaseTTL bounds how long an answer in progress holds the request
// against a second one (a crashed call's lease expires).
const answerLeaseTTL = 2 * time.Minute

// takeAnswerLease marks requestID as being answered (task still open, no
// unexpired lease of another call) and returns the lease id; KindConflict
// when it is answered or being answered.
func (s *Service) takeAnswerLease(ctx context.Context, requestID, task string) (string, error) {
	lease := s.newID()
	_, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		if t, err := answerTask(*rec); err != nil || t != task {
			return false, domain.E(domain.KindConflict, "request %s is not waiting for your answer (it was answered already)", requestID)
		}
		if rec.AnswerLease != "" && rec.AnswerLeaseUntil != nil && now.Before(*rec.AnswerLeaseUntil) {
			return false, domain.E(domain.KindConflict, "another answer to request %s is being submitted", requestID)
		}
		until := now.Add(answerLeaseTTL)
		rec.AnswerLease, rec.AnswerLeaseUntil = lease, &until
		return true, nil
	})
	return lease, err
}

// dropAnswerLease clears lease if the request still holds it (best effort:
// it expires anyway).
func (s *Service) dropAnswerLease(ctx context.Context, requestID, lease string) {
	_, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		if rec.AnswerLease != lease {
			return false, nil
		}
		rec.AnswerLease, rec.AnswerLeaseUntil = "", nil
		return true, nil
	})
	if err != nil {
		s.log().WarnContext(ctx, "clearing an answer lease failed; it expires", "request", requestID, "err", err.Error())
	}
}

func documentsNote(n int) string {
	if n == 0 {
		return "; documents kept"
	}
	return fmt.Sprintf("; %d new document(s)", n)
}

// answerTask is the open requester task of rec (KindConflict when there is
// none).
func answerTask(rec Record) (string, error) {
	if rec.Workflow != nil {
		for _, t := range rec.Workflow.Tasks {
			if t.State == workflow.TaskOpen && t.Performer == workflow.PerformerRequester {
				return t.ID, nil
			}
		}
	}
	if rec.RuntimeStatus.Terminal() {
		return "", domain.E(domain.KindConflict, "request %s is already %s", rec.ID, rec.RuntimeStatus)
	}
	return "", domain.E(domain.KindConflict, "request %s is not waiting for your answer (it was not sent back, or was answered already)", rec.ID)
}

// changeVars are the workflow variables that describe rec's change and
// documents (set at start and again by an answer).
func changeVars(rec Record) map[string]any {
	return map[string]any{
		"changedFields":   rec.Input.Names(),
		"nameChanged":     rec.Input.Has(FieldFirstName) || rec.Input.Has(FieldLastName),
		"lastNameChanged": rec.Input.Has(FieldLastName),
		"attachmentCount": len(rec.Attachments),
	}
}
