package request

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

// StatusView is the Durable-style body of GET /api/v1/requests/{id}. Input
// and History are left out when StatusOptions say so (the JSON then has no
// "input" / "history" key).
type StatusView struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	RuntimeStatus   RuntimeStatus  `json:"runtimeStatus"`
	CustomStatus    CustomStatus   `json:"customStatus"`
	Input           *ViewInput     `json:"input,omitzero"`
	Output          map[string]any `json:"output"`
	CreatedTime     time.Time      `json:"createdTime"`
	LastUpdatedTime time.Time      `json:"lastUpdatedTime"`
	History         []HistoryEntry `json:"history,omitzero"`
}

// ViewInput is the redacted input: the change and the documents' names,
// never blob locations.
type ViewInput struct {
	ProfileID   string        `json:"profileId"`
	Changes     []FieldChange `json:"changes"`
	Timestamp   time.Time     `json:"timestamp"`
	Attachments []string      `json:"attachments"`
}

// StatusOptions choose the parts of a status view, as the showHistory and
// showInput query parameters of the Durable Functions status API do. That
// API defaults showHistory to false and showInput to true; this one shows
// both by default (DefaultStatusOptions), as it always has: a request's
// history is its audit trail and small.
type StatusOptions struct {
	History bool
	Input   bool
}

// DefaultStatusOptions show the history and the input.
var DefaultStatusOptions = StatusOptions{History: true, Input: true}

// View builds the full public status body.
func (r Record) View() StatusView { return r.ViewWith(DefaultStatusOptions) }

// ViewWith builds the public status body with the parts opts choose.
func (r Record) ViewWith(opts StatusOptions) StatusView {
	out := r.Output
	if out == nil {
		out = map[string]any{}
	}
	v := StatusView{
		ID: r.ID, Name: r.Name, RuntimeStatus: r.RuntimeStatus, CustomStatus: r.CustomStatus,
		Output: out, CreatedTime: r.CreatedTime, LastUpdatedTime: r.LastUpdatedTime,
	}
	if opts.Input {
		names := []string{}
		for _, a := range r.Attachments {
			names = append(names, a.Name)
		}
		v.Input = &ViewInput{ProfileID: r.ProfileID, Changes: r.Input.Fields, Timestamp: r.Input.Timestamp, Attachments: names}
	}
	if opts.History {
		v.History = r.History
		if v.History == nil {
			v.History = []HistoryEntry{}
		}
	}
	return v
}

// errNoRequest is the one answer for a request a caller may not see: an
// unknown id and another user's request are indistinguishable (status and
// message), so the answer tells nobody which ids exist.
func errNoRequest() error { return domain.E(domain.KindNotFound, "request not found") }

// Get returns a request readable by p (owner or an approver working on it).
// Anything else — unknown id, another user's request, a document that is
// not a request — is the same KindNotFound ("request not found").
func (s *Service) Get(ctx context.Context, p domain.Principal, requestID string) (Record, error) {
	rec, err := s.Requests.GetRequest(ctx, requestID)
	if domain.Is(err, domain.KindNotFound) {
		return Record{}, errNoRequest()
	}
	if err != nil {
		return Record{}, err
	}
	if rec.Type != "request" || !rec.CanRead(p) {
		return Record{}, errNoRequest()
	}
	return rec, nil
}

// Status is the status view of a request readable by p (errors as Get).
// It reads only the status part of the record (Store.GetRequestStatus).
func (s *Service) Status(ctx context.Context, p domain.Principal, requestID string, opts StatusOptions) (StatusView, error) {
	rec, err := s.Requests.GetRequestStatus(ctx, requestID)
	if domain.Is(err, domain.KindNotFound) {
		return StatusView{}, errNoRequest()
	}
	if err != nil {
		return StatusView{}, err
	}
	if rec.Type != "request" || !rec.CanRead(p) {
		return StatusView{}, errNoRequest()
	}
	return rec.ViewWith(opts), nil
}

func customStatus(rec Record) CustomStatus {
	cs := CustomStatus{WaitingFor: []string{}, Attachments: []AttachmentStatus{}, Approvals: []Approval{}, OpenTasks: []TaskView{}}
	for _, a := range rec.Attachments {
		st := AttachmentStatus{Name: a.Name, Verdict: a.Verdict, Size: a.Size, Detail: a.Detail, Engine: a.Engine, Signature: a.Signature, SHA256: a.SHA256, ScannedAt: a.ScannedAt}
		if a.Verdict == VerdictClean {
			st.Link = "/api/v1/requests/" + rec.ID + "/attachments/" + url.PathEscape(a.Name)
		}
		cs.Attachments = append(cs.Attachments, st)
	}
	in := rec.Workflow
	if in == nil {
		cs.Stage = "received"
		return cs
	}
	for _, m := range in.Messages {
		cs.WaitingFor = append(cs.WaitingFor, m.Message)
	}
	sentBack := false
	for _, t := range in.Tasks {
		if t.Decision != nil {
			cs.Approvals = append(cs.Approvals, Approval{Task: t.ID, Element: t.Element, Actor: t.Decision.Actor, Decision: string(t.Decision.Decision), Comment: t.Decision.Comment, At: t.Decision.At})
		}
		if t.State != workflow.TaskOpen {
			continue
		}
		tv := TaskView{ID: t.ID, Element: t.Element, Name: t.Name, CandidateGroups: t.CandidateGroups, CandidateUsers: t.CandidateUsers, Assignee: t.Assignee, Performer: t.Performer, Since: t.CreatedAt}
		for _, tm := range in.Timers {
			if tm.Task == t.ID && tm.Interrupting && (tv.Due == nil || tm.Due.Before(*tv.Due)) {
				due := tm.Due
				tv.Due = &due
			}
		}
		cs.OpenTasks = append(cs.OpenTasks, tv)
		if t.Performer == workflow.PerformerRequester {
			sentBack = true
			cs.WaitingFor = append(cs.WaitingFor, "requester")
		} else {
			cs.WaitingFor = append(cs.WaitingFor, "approval:"+strings.Join(t.CandidateGroups, ","))
		}
	}
	sort.Strings(cs.WaitingFor)
	switch {
	case rec.RuntimeStatus == Completed:
		cs.Stage = "applied"
	case rec.RuntimeStatus == Failed:
		cs.Stage = failedStage(in)
	case rec.RuntimeStatus == Terminated:
		cs.Stage = "cancelled"
	case slices.Contains(cs.WaitingFor, "attachmentsScanned"):
		cs.Stage = "waitingForScan"
	case sentBack:
		cs.Stage = "sentBack"
	case len(cs.OpenTasks) > 0:
		cs.Stage = "waitingForApproval"
	default:
		cs.Stage = "running"
	}
	return cs
}

// failedStage names how a failed request ended: "rejected" when its last
// work item was rejected, "expired" when the requester's answer to a
// send-back ran out of time, else "failed" (a scan, an incident, a
// missing document).
func failedStage(in *workflow.Instance) string {
	if n := len(in.Tasks); n > 0 {
		t := in.Tasks[n-1]
		switch {
		case t.Decision != nil && t.Decision.Decision == workflow.Reject:
			return "rejected"
		case t.State == workflow.TaskInterrupted && t.Performer == workflow.PerformerRequester:
			return "expired"
		}
	}
	return "failed"
}
