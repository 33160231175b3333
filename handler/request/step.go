package request

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

// The workflow queue carries every later event of a request — a timer that
// fell due, a scan verdict, a decision — as one Step message, processed by
// the WorkflowStep function (Service.Step). The notifications queue carries
// Notices (NoticeMessage), sent by the Notify function.

// MessageVersion is the version of the Step and NoticeMessage formats.
const MessageVersion = 1

// MaxMessageBytes bounds a Step or NoticeMessage body: far below Service
// Bus Standard's 256 KB message limit, far above any real event.
const MaxMessageBytes = 64 << 10

// Event types of a Step besides the engine's own (workflow.EventMessage,
// EventTaskDecision, EventTimerFired, EventCancel).
const (
	// StepVerdict is a document's scan verdict: the step records it
	// (Service.RecordVerdict), which delivers attachmentsScanned once every
	// document has one.
	StepVerdict = "verdict"
)

// Step is one message of the workflow queue: an event for one request.
// Its body is JSON (content type application/json):
//
//	{"v":1,"requestId":"req-…","event":{"id":"timer:req-…/Approve1-5/Remind1","type":"timerFired","timerId":"req-…/Approve1-5/Remind1"}}
//
// The top-level names are chosen so that none equals a Service Bus message
// property: the Functions host merges a JSON body's top-level fields into
// the trigger metadata, overwriting same-named properties such as MessageId
// or DeliveryCount (case-insensitively).
type Step struct {
	V         int       `json:"v"`
	RequestID string    `json:"requestId"`
	Event     StepEvent `json:"event"`
}

// StepEvent is the event of a Step. ID is its idempotency key (an event
// whose id a request has processed changes nothing). Type is one of the
// engine's event types (message, taskDecision, timerFired, cancel) or
// StepVerdict; the other fields are those of workflow.Event, and for a
// verdict the document, its verdict and evidence.
type StepEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Name       string         `json:"name,omitempty"`
	Vars       map[string]any `json:"vars,omitempty"`
	TaskID     string         `json:"taskId,omitempty"`
	Decision   string         `json:"decision,omitempty"`
	Actor      string         `json:"actor,omitempty"`
	Groups     []string       `json:"groups,omitempty"`
	Comment    string         `json:"comment,omitempty"`
	TimerID    string         `json:"timerId,omitempty"`
	Attachment string         `json:"attachment,omitempty"`
	Verdict    Verdict        `json:"verdict,omitempty"`
	SHA256     string         `json:"sha256,omitempty"`
	Detail     string         `json:"detail,omitempty"`
}

// TimerStep is the Step a scheduled timer delivers when it falls due; its
// event id is derived from the timer's (so a timer fires once per request).
func TimerStep(requestID string, t workflow.Timer) Step {
	return Step{V: MessageVersion, RequestID: requestID, Event: StepEvent{ID: "timer:" + t.ID, Type: string(workflow.EventTimerFired), TimerID: t.ID}}
}

// VerdictStep is the Step of a document's scan verdict; its event id names
// the document, so a verdict is recorded once.
func VerdictStep(requestID, attachment string, v Verdict, sha256, detail string) Step {
	return Step{V: MessageVersion, RequestID: requestID, Event: StepEvent{ID: "verdict:" + attachment, Type: StepVerdict, Attachment: attachment, Verdict: v, SHA256: sha256, Detail: detail}}
}

// EncodeStep returns the message body of s (version MessageVersion).
func EncodeStep(s Step) ([]byte, error) {
	s.V = MessageVersion
	if err := s.check(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// ParseStep reads a message body of the workflow queue: one JSON object of
// version 1, no unknown fields, nothing after it, at most MaxMessageBytes,
// with a request id a document can have and the fields its event type
// needs. Every refusal is KindInvalid naming what is wrong.
func ParseStep(body []byte) (Step, error) {
	var s Step
	if err := decodeStrict(body, &s); err != nil {
		return Step{}, domain.Wrap(domain.KindInvalid, err, "workflow step: %v", err)
	}
	if err := s.check(); err != nil {
		return Step{}, err
	}
	return s, nil
}

func (s Step) check() error {
	bad := func(format string, args ...any) error {
		return domain.E(domain.KindInvalid, "workflow step: "+format, args...)
	}
	if s.V != MessageVersion {
		return bad("version %d, want %d", s.V, MessageVersion)
	}
	if docstore.CheckID(s.RequestID) != nil {
		return bad("requestId %q is not a request id", truncate(s.RequestID))
	}
	e := s.Event
	if e.ID == "" || len(e.ID) > 512 {
		return bad("event.id must be 1–512 characters")
	}
	switch workflow.EventType(e.Type) {
	case workflow.EventTimerFired:
		if e.TimerID == "" {
			return bad("a timerFired event needs timerId")
		}
	case workflow.EventMessage:
		if e.Name == "" {
			return bad("a message event needs name")
		}
	case workflow.EventTaskDecision:
		if e.TaskID == "" || e.Decision == "" || e.Actor == "" {
			return bad("a taskDecision event needs taskId, decision and actor")
		}
	case workflow.EventCancel:
	case StepVerdict:
		switch e.Verdict {
		case VerdictClean, VerdictInfected, VerdictRejected, VerdictError:
		default:
			return bad("verdict must be clean, infected, rejected or error, got %q", truncate(string(e.Verdict)))
		}
		if e.Attachment == "" {
			return bad("a verdict event needs attachment")
		}
	default:
		return bad("unknown event type %q", truncate(e.Type))
	}
	return nil
}

// engineEvent is the workflow event of a Step (not StepVerdict).
func (e StepEvent) engineEvent() workflow.Event {
	return workflow.Event{ID: e.ID, Type: workflow.EventType(e.Type), Name: e.Name, Vars: e.Vars, TaskID: e.TaskID,
		Decision: workflow.DecisionKind(e.Decision), Actor: e.Actor, Groups: e.Groups, Comment: e.Comment, TimerID: e.TimerID}
}

// NoticeMessage is one message of the notifications queue:
//
//	{"v":1,"notice":{"id":"req-…/taskAssigned/Approve1-5","requestId":"req-…","profileId":"1000","owner":"user-1000","kind":"taskAssigned","task":"Approve1-5","groups":["ProfileApprover"]}}
type NoticeMessage struct {
	V      int    `json:"v"`
	Notice Notice `json:"notice"`
}

// EncodeNotice returns the message body of n.
func EncodeNotice(n Notice) ([]byte, error) {
	m := NoticeMessage{V: MessageVersion, Notice: n}
	if err := m.check(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// ParseNotice reads a message body of the notifications queue (the rules
// of ParseStep). Every refusal is KindInvalid.
func ParseNotice(body []byte) (Notice, error) {
	var m NoticeMessage
	if err := decodeStrict(body, &m); err != nil {
		return Notice{}, domain.Wrap(domain.KindInvalid, err, "notice: %v", err)
	}
	if err := m.check(); err != nil {
		return Notice{}, err
	}
	return m.Notice, nil
}

func (m NoticeMessage) check() error {
	n := m.Notice
	switch {
	case m.V != MessageVersion:
		return domain.E(domain.KindInvalid, "notice: version %d, want %d", m.V, MessageVersion)
	case n.ID == "" || len(n.ID) > 512:
		return domain.E(domain.KindInvalid, "notice: id must be 1–512 characters")
	case docstore.CheckID(n.RequestID) != nil:
		return domain.E(domain.KindInvalid, "notice: requestId %q is not a request id", truncate(n.RequestID))
	case n.Kind == "":
		return domain.E(domain.KindInvalid, "notice: kind is required")
	}
	return nil
}

// decodeStrict decodes one JSON object into v: no unknown fields, nothing
// after it, at most MaxMessageBytes.
func decodeStrict(body []byte, v any) error {
	if len(body) > MaxMessageBytes {
		return fmt.Errorf("body larger than %d bytes", MaxMessageBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not the expected JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON object")
	}
	return nil
}

// Step processes one message of the workflow queue: a verdict is recorded
// (RecordVerdict), any other event delivered to the request's workflow
// (Deliver), and the outbox carried out. It is safe to repeat: a
// processed event changes nothing, and only finishes the effects it left.
//
// Errors keep their kinds, which decide whether the message is redelivered:
// KindNotFound (no such request), KindConflict (the request ended, or does
// not wait for this event), KindInvalid and KindForbidden are permanent;
// KindTransient covers the store's throttling and outages, an ETag race
// lost docstore.MaxAttempts times, and effects (timers, notices, the
// profile write) still undelivered after the save — the next delivery
// finishes them.
func (s *Service) Step(ctx context.Context, st Step) (Record, error) {
	var (
		rec Record
		err error
	)
	if st.Event.Type == StepVerdict {
		e := st.Event
		rec, err = s.RecordVerdict(ctx, st.RequestID, e.Attachment, e.Verdict, e.SHA256, e.Detail)
	} else {
		rec, err = s.Deliver(ctx, st.RequestID, st.Event.engineEvent())
	}
	if err != nil {
		return rec, err
	}
	if n := len(rec.Outbox); n > 0 {
		return rec, domain.E(domain.KindTransient, "request %s: %d effects still undelivered", st.RequestID, n)
	}
	return rec, nil
}

// StepDeadLettered ends the request of a Step that could not be processed
// in deliveries attempts (the broker dead-lettered it, with cause): a
// request still waiting for that event is Failed with the reason "step
// could not be processed after <deliveries> deliveries: <cause>", shown in
// its status. A request that ended, an event it already processed, or a
// timer it no longer waits for is left alone (the record is returned
// unchanged). Safe to repeat. Errors: KindNotFound for an unknown request;
// the store's (KindTransient).
func (s *Service) StepDeadLettered(ctx context.Context, st Step, deliveries int64, cause string) (Record, error) {
	reason := fmt.Sprintf("step could not be processed after %d deliveries: %s", deliveries, cause)
	incident := workflow.Event{ID: "deadletter:" + st.Event.ID, Type: workflow.EventIncident, Comment: reason}
	return s.update(ctx, st.RequestID, func(rec *Record, now time.Time) (bool, error) {
		if rec.RuntimeStatus.Terminal() || stepSettled(*rec, st.Event) {
			return false, nil
		}
		if rec.Workflow == nil {
			// Not started (left for the sweeper): fail the record itself.
			rec.RuntimeStatus = Failed
			rec.Output = map[string]any{"outcome": string(workflow.StatusFailed), "reason": reason}
			rec.History = append(rec.History, HistoryEntry{At: now, Type: "RequestFailed", Detail: reason})
			rec.LastUpdatedTime = now
			rec.CustomStatus = customStatus(*rec)
			return true, nil
		}
		st := &step{}
		eff, err := rec.Workflow.Deliver(ctx, s.Definition, incident, now, s.tasks(*rec, st))
		if err != nil || eff.Duplicate || eff.Ignored != "" {
			return false, err
		}
		s.absorb(rec, eff, st, now)
		return true, nil
	})
}

// stepSettled reports whether rec no longer waits for e: the event was
// processed, the document already has a verdict, or the timer is not
// pending.
func stepSettled(rec Record, e StepEvent) bool {
	switch {
	case e.Type == StepVerdict:
		i := slices.IndexFunc(rec.Attachments, func(a Attachment) bool { return a.Name == e.Attachment })
		return i < 0 || (rec.Attachments[i].Verdict != VerdictPending && rec.Attachments[i].Verdict != "")
	case rec.Workflow == nil:
		return false
	case slices.Contains(rec.Workflow.Processed, e.ID):
		return true
	case workflow.EventType(e.Type) == workflow.EventTimerFired:
		return !slices.ContainsFunc(rec.Workflow.Timers, func(t workflow.Timer) bool { return t.ID == e.TimerID })
	}
	return false
}
