package request

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

// Approvals: the approver's inbox (Service.Approvals) and decisions
// (Service.Decide). Four-eyes rules are the engine's (workflow.Instance
// Deliver): never the requester, only a candidate group or the assignee,
// and a pf:distinctFrom task never by an actor who approved the other.

// Page sizes of the approvals inbox.
const (
	DefaultApprovalsPage = 20
	MaxApprovalsPage     = 100
)

// MaxCommentRunes bounds a decision's comment (characters).
const MaxCommentRunes = 1000

// maxInboxScan bounds the records one inbox page reads per group (the
// query returns them unordered, so a page is cut from what it read).
const maxInboxScan = 5000

// ApprovalItem is one open approval task in an approver's inbox.
type ApprovalItem struct {
	RequestID       string               `json:"requestId"`
	ProfileID       string               `json:"profileId"`
	TaskID          string               `json:"taskId"`
	Task            string               `json:"task"` // BPMN userTask id
	Name            string               `json:"name,omitempty"`
	CandidateGroups []string             `json:"candidateGroups"`
	Since           time.Time            `json:"since"`
	Due             *time.Time           `json:"due,omitempty"`
	AgeSeconds      int64                `json:"ageSeconds"`
	Requester       string               `json:"requester"`
	StatusURL       string               `json:"statusUrl"`
	Change          []FieldChange        `json:"change"`
	Attachments     []ApprovalAttachment `json:"attachments"`
}

// ApprovalAttachment is a document of an inbox item: its scan verdict and,
// for a clean one, the read link (GET …/attachments/{name}).
type ApprovalAttachment struct {
	Name        string  `json:"name"`
	Verdict     Verdict `json:"verdict"`
	Size        int64   `json:"size"`
	ContentType string  `json:"contentType"`
	Link        string  `json:"link,omitempty"`
}

// ApprovalsPage is one page of the inbox; ContinuationToken (opaque) asks
// for the next, absent on the last page.
type ApprovalsPage struct {
	Items             []ApprovalItem `json:"items"`
	ContinuationToken string         `json:"continuationToken,omitempty"`
}

// inboxCursor is the position after the last item of a page.
type inboxCursor struct {
	Since string `json:"s"` // IndexTime of the task's creation
	Task  string `json:"t"` // request id + "/" + task id
}

func (c inboxCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(tok string) (inboxCursor, error) {
	var c inboxCursor
	bad := domain.E(domain.KindInvalid, "continuationToken is not a token this API issued")
	if len(tok) > 1024 {
		return c, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Task == "" {
		return c, bad
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000000Z", c.Since); err != nil {
		return c, bad
	}
	return c, nil
}

// taskIndex is rec's TaskIndex: its open approval tasks' groups and
// assignees (requester tasks are not an approver's), nil when none.
func taskIndex(rec Record) *TaskIndex {
	if rec.Workflow == nil || rec.RuntimeStatus.Terminal() {
		return nil
	}
	var ix TaskIndex
	var latest time.Time
	for _, t := range rec.Workflow.Tasks {
		if t.State != workflow.TaskOpen || t.Performer == workflow.PerformerRequester {
			continue
		}
		add := func(list *[]string, v string) {
			if !slices.Contains(*list, v) {
				*list = append(*list, v)
			}
		}
		switch {
		case t.Assignee != "":
			add(&ix.Actors, t.Assignee)
		case len(t.CandidateUsers) == 0 && len(t.CandidateGroups) == 0:
			add(&ix.Groups, AnyApprover)
		default:
			for _, u := range t.CandidateUsers {
				add(&ix.Actors, u)
			}
			for _, g := range t.CandidateGroups {
				add(&ix.Groups, g)
			}
		}
		if t.CreatedAt.After(latest) {
			latest = t.CreatedAt
		}
	}
	if latest.IsZero() {
		return nil
	}
	if ix.Groups == nil {
		ix.Groups = []string{}
	}
	if ix.Actors == nil {
		ix.Actors = []string{}
	}
	ix.Latest = IndexTime(latest)
	return &ix
}

// Approvals lists the open approval tasks p may decide, oldest first
// (by creation, then request and task id), pageSize of them (0 = DefaultApprovalsPage,
// at most MaxApprovalsPage) after the position continuation names ("" =
// from the start). A task is listed when p may decide it (the assignee;
// else a candidate user, a member of a candidate group, or any approver
// for a task restricted to nobody), unless p is the requester or already approved a
// task this one must be distinct from. Errors: KindForbidden without the
// ProfileApprover role, KindInvalid for a bad page size or token, the
// store's (KindTransient).
func (s *Service) Approvals(ctx context.Context, p domain.Principal, pageSize int, continuation string) (ApprovalsPage, error) {
	page := ApprovalsPage{Items: []ApprovalItem{}}
	if !p.HasRole(domain.RoleProfileApprover) {
		return page, domain.E(domain.KindForbidden, "only approvers (role %s) have an approvals inbox", domain.RoleProfileApprover)
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultApprovalsPage
	case pageSize < 1 || pageSize > MaxApprovalsPage:
		return page, domain.E(domain.KindInvalid, "pageSize must be 1–%d", MaxApprovalsPage)
	}
	var after inboxCursor
	if continuation != "" {
		c, err := parseCursor(continuation)
		if err != nil {
			return page, err
		}
		after = c
	}
	filters := []TaskFilter{{Actor: p.Subject, Since: after.Since}, {Group: AnyApprover, Since: after.Since}}
	for _, g := range p.Groups {
		filters = append(filters, TaskFilter{Group: g, Since: after.Since})
	}
	seen := map[string]bool{}
	var items []ApprovalItem
	now := s.now()
	for _, f := range filters {
		recs, err := s.Requests.OpenTasks(ctx, f, maxInboxScan)
		if err != nil {
			return page, err
		}
		for _, rec := range recs {
			for _, it := range s.inboxItems(rec, p, now) {
				key := it.RequestID + "/" + it.TaskID
				pos := inboxCursor{Since: IndexTime(it.Since), Task: key}
				if seen[key] || (continuation != "" && !after.before(pos)) {
					continue
				}
				seen[key] = true
				items = append(items, it)
			}
		}
	}
	slices.SortFunc(items, func(a, b ApprovalItem) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.RequestID+"/"+a.TaskID, b.RequestID+"/"+b.TaskID))
	})
	if len(items) > pageSize {
		last := items[pageSize-1]
		page.ContinuationToken = inboxCursor{Since: IndexTime(last.Since), Task: last.RequestID + "/" + last.TaskID}.encode()
		items = items[:pageSize]
	}
	page.Items = append(page.Items, items...)
	return page, nil
}

// before reports whether c sorts before pos.
func (c inboxCursor) before(pos inboxCursor) bool {
	return c.Since < pos.Since || (c.Since == pos.Since && c.Task < pos.Task)
}

// inboxItems are rec's open approval tasks p may decide.
func (s *Service) inboxItems(rec Record, p domain.Principal, now time.Time) []ApprovalItem {
	if rec.Owner == p.Subject || rec.RuntimeStatus.Terminal() {
		return nil
	}
	var out []ApprovalItem
	for _, t := range rec.CustomStatus.OpenTasks {
		if t.Performer == workflow.PerformerRequester {
			continue
		}
		who := workflow.Task{Assignee: t.Assignee, CandidateUsers: t.CandidateUsers, CandidateGroups: t.CandidateGroups}
		if !who.MayDecide(p.Subject, p.InGroup) {
			continue
		}
		if s.approvedDistinct(rec, t.Element, p.Subject) {
			continue
		}
		it := ApprovalItem{
			RequestID: rec.ID, ProfileID: rec.ProfileID, TaskID: t.ID, Task: t.Element, Name: t.Name,
			CandidateGroups: t.CandidateGroups, Since: t.Since, Due: t.Due, AgeSeconds: int64(now.Sub(t.Since) / time.Second),
			Requester: rec.Owner, StatusURL: "/api/v1/requests/" + rec.ID, Change: rec.Input.Fields,
			Attachments: []ApprovalAttachment{},
		}
		if it.CandidateGroups == nil {
			it.CandidateGroups = []string{}
		}
		for i, a := range rec.Attachments {
			aa := ApprovalAttachment{Name: a.Name, Verdict: a.Verdict, Size: a.Size, ContentType: a.ContentType}
			if i < len(rec.CustomStatus.Attachments) && rec.CustomStatus.Attachments[i].Name == a.Name {
				aa.Link = rec.CustomStatus.Attachments[i].Link
			}
			it.Attachments = append(it.Attachments, aa)
		}
		out = append(out, it)
	}
	return out
}

// approvedDistinct reports whether actor approved a task that element
// must be decided apart from (pf:distinctFrom).
func (s *Service) approvedDistinct(rec Record, element, actor string) bool {
	e := s.Definition.Element(element)
	if e == nil {
		return false
	}
	return slices.ContainsFunc(rec.CustomStatus.Approvals, func(a Approval) bool {
		return a.Decision == string(workflow.Approve) && a.Actor == actor && slices.Contains(e.DistinctFrom, a.Element)
	})
}

// Decision is an approver's decision as the API takes it.
type Decision struct {
	Kind    workflow.DecisionKind // approve, reject or sendBack
	Comment string                // required for reject and sendBack
	TaskID  string                // the work item; "" = the one open approval task
}

// ValidateComment checks a decision's comment: at most MaxCommentRunes
// characters of valid UTF-8 without control characters other than line
// breaks (LF, CR) and tabs, required (non-blank) when required. It returns the
// comment trimmed. KindInvalid otherwise.
func ValidateComment(c string, required bool) (string, error) {
	c = strings.TrimSpace(c)
	switch {
	case !utf8.ValidString(c):
		return "", domain.E(domain.KindInvalid, "comment must be UTF-8 text")
	case utf8.RuneCountInString(c) > MaxCommentRunes:
		return "", domain.E(domain.KindInvalid, "comment must be at most %d characters", MaxCommentRunes)
	case strings.ContainsFunc(c, func(r rune) bool {
		return (unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') || isBidiControl(r)
	}):
		return "", domain.E(domain.KindInvalid, "comment must not hold control characters")
	case required && c == "":
		return "", domain.E(domain.KindInvalid, "comment is required: tell the requester why")
	}
	return c, nil
}

// Decide records p's decision on an open approval task of the request and
// runs the workflow on (the change is applied, or the request ends, or
// goes to the next approver or back to the requester). Repeating the same
// decision by the same approver changes nothing and returns the record.
// Errors: KindInvalid (unknown decision, a bad or missing comment, a task
// id that is not the request's), KindForbidden (no approver role, the
// requester, not a candidate of the task, a second approval by the same
// approver), KindNotFound (no such request), KindConflict (no open
// approval task: decided by someone else, escalated, cancelled, ended, or
// waiting for the requester's answer — a refusal on a task p could decide
// is recorded in the history as DecisionRefused, once per actor, task and
// decision), KindNotFound also when nothing is open and p was never a
// candidate of any of its tasks; the store's.
func (s *Service) Decide(ctx context.Context, p domain.Principal, requestID string, d Decision) (Record, error) {
	if !p.HasRole(domain.RoleProfileApprover) {
		return Record{}, domain.E(domain.KindForbidden, "only approvers (role %s) decide requests", domain.RoleProfileApprover)
	}
	switch d.Kind {
	case workflow.Approve, workflow.Reject, workflow.SendBack:
	default:
		return Record{}, domain.E(domain.KindInvalid, "decision must be approve, reject or send-back")
	}
	comment, err := ValidateComment(d.Comment, d.Kind != workflow.Approve)
	if err != nil {
		return Record{}, err
	}
	if len(d.TaskID) > 200 {
		return Record{}, domain.E(domain.KindInvalid, "taskId is too long")
	}
	// The task is resolved once, from the record as the approver's call
	// found it: a decision that loses a race is refused, never carried
	// over to the task its rival opened.
	first, err := s.Requests.GetRequest(ctx, requestID)
	if err != nil {
		return Record{}, err
	}
	if first.Owner == p.Subject {
		return first, domain.E(domain.KindForbidden, "the requester cannot decide their own request")
	}
	if first.Workflow == nil {
		return first, domain.E(domain.KindConflict, "request %s has no open approval task yet", requestID)
	}
	task, err := decisionTask(first, d.TaskID)
	if domain.Is(err, domain.KindConflict) && len(openApprovals(first)) > 1 {
		return first, err
	} else if domain.Is(err, domain.KindConflict) {
		if !involved(first, p) {
			// Nothing to decide for p, and p never could: the same answer
			// as for a request that does not exist.
			return Record{}, errNoRequest()
		}
		task = lastApprovalTask(first)
	} else if err != nil {
		return first, err
	}
	ev := workflow.Event{
		ID: "decision:" + task + ":" + p.Subject + ":" + string(d.Kind), Type: workflow.EventTaskDecision,
		TaskID: task, Decision: d.Kind, Actor: p.Subject, Groups: p.Groups, Comment: comment,
	}
	var refused error
	rec, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		refused = nil
		if slices.Contains(rec.Workflow.Processed, ev.ID) {
			return false, nil // this decision was recorded already
		}
		if task == "" || rec.RuntimeStatus.Terminal() {
			refused = nothingToDecide(*rec)
		} else {
			st := &step{}
			eff, err := rec.Workflow.Deliver(ctx, s.Definition, ev, now, s.tasks(*rec, st))
			switch {
			case domain.Is(err, domain.KindConflict):
				refused = err
			case err != nil:
				return false, err
			case eff.Duplicate || eff.Ignored != "":
				return false, nil
			default:
				s.absorb(rec, eff, st, now)
				return true, nil
			}
		}
		// A decision on a task p could decide that is no longer open: keep
		// the attempt in the audit trail, once per actor, task and
		// decision (so repeated calls cannot grow the record).
		i := slices.IndexFunc(rec.Workflow.Tasks, func(t workflow.Task) bool { return t.ID == task })
		if i < 0 || !rec.Workflow.Tasks[i].MayDecide(p.Subject, p.InGroup) {
			return false, nil
		}
		key := fmt.Sprintf("%s %s", task, d.Kind)
		if slices.ContainsFunc(rec.History, func(o HistoryEntry) bool {
			return o.Type == "DecisionRefused" && o.Actor == p.Subject && (strings.HasPrefix(o.Detail, key+" (") || strings.HasPrefix(o.Detail, key+":"))
		}) {
			return false, nil
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "DecisionRefused", Actor: p.Subject,
			Detail: key + reasonSuffix(clipComment(comment)) + ": " + safeMessage(refused)})
		rec.LastUpdatedTime = now
		return true, nil
	})
	if err != nil {
		return rec, err
	}
	if refused != nil {
		return rec, refused
	}
	return rec, nil
}

// involved reports whether p could decide, or decided, an approval task
// of rec (open or not).
func involved(rec Record, p domain.Principal) bool {
	return slices.ContainsFunc(rec.Workflow.Tasks, func(t workflow.Task) bool {
		return t.Performer != workflow.PerformerRequester &&
			(t.MayDecide(p.Subject, p.InGroup) || t.Decision != nil && t.Decision.Actor == p.Subject)
	})
}

// openApprovals are rec's open approval work items.
func openApprovals(rec Record) []workflow.Task {
	var out []workflow.Task
	for _, t := range rec.Workflow.Tasks {
		if t.State == workflow.TaskOpen && t.Performer != workflow.PerformerRequester {
			out = append(out, t)
		}
	}
	return out
}

// lastApprovalTask is the most recent approval work item of rec ("" when
// it never had one): the one a late decision was meant for.
func lastApprovalTask(rec Record) string {
	for i := len(rec.Workflow.Tasks) - 1; i >= 0; i-- {
		if rec.Workflow.Tasks[i].Performer != workflow.PerformerRequester {
			return rec.Workflow.Tasks[i].ID
		}
	}
	return ""
}

// nothingToDecide is the KindConflict of a request without an open
// approval task.
func nothingToDecide(rec Record) error {
	if rec.RuntimeStatus.Terminal() {
		return domain.E(domain.KindConflict, "request %s is already %s", rec.ID, rec.RuntimeStatus)
	}
	return domain.E(domain.KindConflict, "request %s has no open approval task", rec.ID)
}

// clipComment keeps a history entry's copy of a comment short (the
// decision itself keeps it whole).
func clipComment(c string) string {
	if r := []rune(c); len(r) > 200 {
		return string(r[:199]) + "…"
	}
	return c
}

// safeMessage is err's caller-safe message (a *domain.Error's Msg).
func safeMessage(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Msg
	}
	return "refused"
}

func reasonSuffix(c string) string {
	if c == "" {
		return ""
	}
	return " (" + c + ")"
}

// decisionTask resolves the task a decision names: the given work item id
// (or userTask element id) of the request, or else its one open approval
// task. KindInvalid for an id the request never had; KindConflict when
// nothing is open for approval or several are.
func decisionTask(rec Record, taskID string) (string, error) {
	in := rec.Workflow
	if taskID != "" {
		// A work item id, or a userTask element id standing for its
		// latest work item (so a retry naming the element finds the
		// decision it made).
		for i := len(in.Tasks) - 1; i >= 0; i-- {
			if t := in.Tasks[i]; t.ID == taskID || t.Element == taskID {
				if t.Performer == workflow.PerformerRequester {
					return "", domain.E(domain.KindConflict, "task %q is the requester's answer, not an approval", truncate(taskID))
				}
				return t.ID, nil
			}
		}
		return "", domain.E(domain.KindInvalid, "taskId %q is not a task of request %s", truncate(taskID), rec.ID)
	}
	open := openApprovals(rec)
	waitsForRequester := slices.ContainsFunc(in.Tasks, func(t workflow.Task) bool {
		return t.State == workflow.TaskOpen && t.Performer == workflow.PerformerRequester
	})
	switch {
	case len(open) == 1:
		return open[0].ID, nil
	case len(open) > 1:
		return "", domain.E(domain.KindConflict, "request %s has %d open approval tasks; name one with taskId", rec.ID, len(open))
	case waitsForRequester:
		return "", domain.E(domain.KindConflict, "request %s was sent back and waits for the requester's answer", rec.ID)
	}
	return "", nothingToDecide(rec)
}
