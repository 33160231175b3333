package request

import (
	"context"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/workflow"
)

// RuntimeStatus follows Durable Functions' names.
type RuntimeStatus string

// Runtime statuses.
const (
	Pending    RuntimeStatus = "Pending"
	Running    RuntimeStatus = "Running"
	Completed  RuntimeStatus = "Completed"
	Failed     RuntimeStatus = "Failed"
	Terminated RuntimeStatus = "Terminated"
)

// Terminal reports whether the status can no longer change.
func (s RuntimeStatus) Terminal() bool { return s == Completed || s == Failed || s == Terminated }

// Verdict of a document scan.
type Verdict string

// Verdicts.
const (
	VerdictPending  Verdict = "pending"
	VerdictClean    Verdict = "clean"
	VerdictInfected Verdict = "infected"
	VerdictRejected Verdict = "rejected"
	VerdictError    Verdict = "error"
)

// Attachment is an evidence document of a request. At acceptance the
// version the client committed (SourceETag in the Source container, which
// its SAS can write) is copied server-side into Container (landing, which
// no client SAS can write) as PinnedETag; the scan reads exactly that
// version and moves it to the clean or quarantine container (Stored).
type Attachment struct {
	Name         string `json:"name"`
	UploadID     string `json:"uploadId,omitempty"`
	Account      string `json:"account,omitempty"` // blob service URL of the shard
	Source       string `json:"source,omitempty"`  // container the client wrote to
	SourceETag   string `json:"sourceETag,omitempty"`
	Container    string `json:"container,omitempty"` // container of the pinned copy
	PinnedETag   string `json:"pinnedETag,omitempty"`
	Blob         string `json:"blob"`
	ContentType  string `json:"contentType"`  // declared
	Size         int64  `json:"size"`         // committed bytes
	DeclaredSize int64  `json:"declaredSize"` // bytes declared before upload
	MD5          []byte `json:"md5,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	// Scan outcome: Verdict with the deciding stage, engine and signature.
	Verdict      Verdict    `json:"verdict"`
	Detail       string     `json:"detail,omitempty"`
	Engine       string     `json:"engine,omitempty"`
	Signature    string     `json:"signature,omitempty"`
	ScannedAt    *time.Time `json:"scannedAt,omitempty"`
	ScanAttempts int        `json:"scanAttempts,omitempty"` // failed attempts so far
	// Stored is the container the scanned document was moved to (clean or
	// quarantine); "" until the move is done.
	Stored string `json:"stored,omitempty"`
}

// HistoryEntry is one append-only audit event.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Approval is a decision so far (approve, reject, sendBack, or the
// requester's resubmit).
type Approval struct {
	Task     string    `json:"task"`
	Element  string    `json:"element"`
	Actor    string    `json:"actor"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// AttachmentStatus is the public view of an attachment's scan.
type AttachmentStatus struct {
	Name      string     `json:"name"`
	Verdict   Verdict    `json:"verdict"`
	Size      int64      `json:"size"`
	Detail    string     `json:"detail,omitempty"`
	Engine    string     `json:"engine,omitempty"`
	Signature string     `json:"signature,omitempty"`
	SHA256    string     `json:"sha256,omitempty"`
	ScannedAt *time.Time `json:"scannedAt,omitempty"`
	// Link reads the document (a redirect to a short-lived read SAS); only
	// for clean documents.
	Link string `json:"link,omitempty"`
}

// TaskView is an open task: an approval, or the requester's answer to a
// send-back (Performer "requester").
type TaskView struct {
	ID              string    `json:"id"`
	Element         string    `json:"element"` // BPMN userTask id
	Name            string    `json:"name,omitempty"`
	CandidateGroups []string  `json:"candidateGroups,omitempty"`
	CandidateUsers  []string  `json:"candidateUsers,omitempty"`
	Assignee        string    `json:"assignee,omitempty"`
	Performer       string    `json:"performer,omitempty"`
	Since           time.Time `json:"since"`
	// Due is when the task escalates or expires (its earliest interrupting
	// boundary timer); absent when nothing interrupts it.
	Due *time.Time `json:"due,omitempty"`
}

// CustomStatus tells where a request stands.
type CustomStatus struct {
	Stage       string             `json:"stage"`
	WaitingFor  []string           `json:"waitingFor"`
	Attachments []AttachmentStatus `json:"attachments"`
	Approvals   []Approval         `json:"approvals"`
	OpenTasks   []TaskView         `json:"openTasks"`
}

// Record is a change request as stored in the requests container.
type Record struct {
	ID              string             `json:"id"`
	Type            string             `json:"type"` // "request"
	Name            string             `json:"name"` // "ProfileUpdate"
	ProfileID       string             `json:"profileId"`
	Owner           string             `json:"owner"`
	Input           Change             `json:"input"`
	Attachments     []Attachment       `json:"attachments"`
	RuntimeStatus   RuntimeStatus      `json:"runtimeStatus"`
	CustomStatus    CustomStatus       `json:"customStatus"`
	Output          map[string]any     `json:"output"`
	CreatedTime     time.Time          `json:"createdTime"`
	LastUpdatedTime time.Time          `json:"lastUpdatedTime"`
	History         []HistoryEntry     `json:"history"`
	Workflow        *workflow.Instance `json:"workflow,omitempty"`
	Outbox          []Effect           `json:"outbox"`
	LocksReleased   bool               `json:"locksReleased,omitempty"`
	// Applied: the change was written to the profile (the applyChange
	// task's effect was carried out).
	Applied bool `json:"applied,omitempty"`
	// Scheduled maps the id of each timer the Dispatcher scheduled to the
	// broker's sequence number of its message, so that the timer can be
	// withdrawn once the workflow no longer waits for it.
	Scheduled map[string]int64 `json:"scheduled,omitempty"`
	// Attention marks work a crash or outage may have left undone (see
	// Service.Sweep); kept in step on every save.
	Attention bool `json:"attention"`
	// AttentionIndex is set and kept by the Store: where it listed the
	// record for NeedingAttention while Attention is set ("" otherwise).
	// Callers carry it over unchanged from the record they read.
	AttentionIndex string `json:"attentionIndex,omitempty"`
	// AnswerLease marks an answer to a send-back in progress until
	// AnswerLeaseUntil (Service.Answer), so two answers cannot both pass.
	AnswerLease      string     `json:"answerLease,omitempty"`
	AnswerLeaseUntil *time.Time `json:"answerLeaseUntil,omitempty"`
	// Superseded are documents an answer to a send-back replaced; kept
	// for the audit trail, no longer evidence of the change.
	Superseded []Attachment `json:"superseded,omitempty"`
	// TaskIndex lists the open approval tasks for the approvals query
	// (Store.OpenTasks); nil when there are none. Kept by every save.
	TaskIndex *TaskIndex `json:"taskIndex,omitempty"`
	ETag      string     `json:"-"`
}

// StatusDoc is the part of a stored Record that a status view and CanRead
// use. Decoding it skips the rest of the document (the workflow's
// variables, tokens, timers and history, the outbox, the indexes): in
// the in-process benchmark of GET status most of the time went to
// decoding the whole record.
type StatusDoc struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Name            string         `json:"name"`
	ProfileID       string         `json:"profileId"`
	Owner           string         `json:"owner"`
	Input           Change         `json:"input"`
	Attachments     []Attachment   `json:"attachments"`
	RuntimeStatus   RuntimeStatus  `json:"runtimeStatus"`
	CustomStatus    CustomStatus   `json:"customStatus"`
	Output          map[string]any `json:"output"`
	CreatedTime     time.Time      `json:"createdTime"`
	LastUpdatedTime time.Time      `json:"lastUpdatedTime"`
	History         []HistoryEntry `json:"history"`
	Workflow        *struct {
		Tasks []workflow.Task `json:"tasks"`
	} `json:"workflow,omitempty"`
}

// Record is the status part as a Record (Workflow holds only the tasks).
func (d StatusDoc) Record() Record {
	r := Record{ID: d.ID, Type: d.Type, Name: d.Name, ProfileID: d.ProfileID, Owner: d.Owner, Input: d.Input, Attachments: d.Attachments,
		RuntimeStatus: d.RuntimeStatus, CustomStatus: d.CustomStatus, Output: d.Output, CreatedTime: d.CreatedTime, LastUpdatedTime: d.LastUpdatedTime, History: d.History}
	if d.Workflow != nil {
		r.Workflow = &workflow.Instance{Tasks: d.Workflow.Tasks}
	}
	return r
}

// TaskIndex is what the approvals query filters on: the candidate groups
// (AnyApprover for a task open to every approver) and the assignees and
// candidate users of a record's open approval tasks, and the creation time
// of the newest of them in IndexTime's fixed-width form (so that string
// order is time order).
type TaskIndex struct {
	Groups []string `json:"groups"`
	Actors []string `json:"actors"`
	Latest string   `json:"latest"`
}

// AnyApprover is the TaskIndex group of a task without assignee,
// candidate users or groups: every approver may decide it.
const AnyApprover = "*"

// IndexTime formats t for TaskIndex.Latest: UTC, nanoseconds, fixed width.
func IndexTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// TaskFilter selects records for the approvals query: those with an open
// approval task of candidate group Group (or, with Actor set instead,
// assigned to Actor) whose TaskIndex.Latest is at least Since ("" = any).
type TaskFilter struct {
	Group, Actor, Since string
}

// Store is the port for request records. Replace is ETag-checked (KindStale).
type Store interface {
	// OpenTasks lists the records f selects, in no particular order, with
	// at least the fields an approvals page shows (id, profileId, owner,
	// input, attachments, customStatus, createdTime); at most limit.
	OpenTasks(ctx context.Context, f TaskFilter, limit int) ([]Record, error)
	CreateRequest(ctx context.Context, r Record) (Record, error)
	GetRequest(ctx context.Context, id string) (Record, error)
	// GetRequestStatus is GetRequest for reading only a status: the
	// record has the fields of StatusDoc (its workflow only the tasks;
	// no outbox, no timers, no variables), which cost less to decode.
	// It has no ETag: never save it.
	GetRequestStatus(ctx context.Context, id string) (Record, error)
	ReplaceRequest(ctx context.Context, r Record) (Record, error)
	// NeedingAttention lists ids of records with Attention set that were
	// last updated before the given time, at most limit. A record saved
	// with Attention set is listed by every later call until it is saved
	// without (within the Store's documented bounds).
	NeedingAttention(ctx context.Context, updatedBefore time.Time, limit int) ([]string, error)
}

// Locks is the per-profile document of fields with an open request.
type Locks struct {
	ID        string               `json:"id"` // "locks-<profileId>"
	Type      string               `json:"type"`
	ProfileID string               `json:"profileId"`
	Fields    map[string]string    `json:"fields"` // field → request id
	Since     map[string]time.Time `json:"since"`  // field → when it was locked
	ETag      string               `json:"-"`
}

// LockStore is the port for lock documents (KindNotFound when absent,
// KindConflict on duplicate create, KindStale on ETag mismatch).
type LockStore interface {
	GetLocks(ctx context.Context, profileID string) (Locks, error)
	CreateLocks(ctx context.Context, l Locks) (Locks, error)
	ReplaceLocks(ctx context.Context, l Locks) (Locks, error)
}

// LocksID is the lock document id of a profile.
func LocksID(profileID string) string { return "locks-" + profileID }

// CanRead reports whether p may see the request: its owner, or an approver
// who works on it (candidate of an open task, or decided one).
func (r Record) CanRead(p domain.Principal) bool {
	if p.Subject == r.Owner {
		return true
	}
	if !p.HasRole(domain.RoleProfileApprover) || r.Workflow == nil {
		return false
	}
	for _, t := range r.Workflow.Tasks {
		if t.Decision != nil && t.Decision.Actor == p.Subject {
			return true
		}
		if t.State == workflow.TaskOpen && (t.Assignee == p.Subject || slices.Contains(t.CandidateUsers, p.Subject) || slices.ContainsFunc(t.CandidateGroups, p.InGroup)) {
			return true
		}
	}
	return false
}
