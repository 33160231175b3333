package workflow

import (
	"context"
	"slices"
	"time"
)

// Status is an instance's lifecycle state.
type Status string

// Instance statuses.
const (
	StatusRunning    Status = "running"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusTerminated Status = "terminated"
)

// Terminal reports whether no further events can change the instance.
func (s Status) Terminal() bool { return s != StatusRunning }

// TokenState tells where a token waits.
type TokenState string

// Token states (tokens only rest at wait states).
const (
	TokenWaiting TokenState = "waiting" // at a userTask or message catch event
	TokenJoining TokenState = "joining" // arrived at a parallel join, waiting for the other branches
)

// TaskState is the state of a userTask work item.
type TaskState string

// Work item states.
const (
	TaskOpen        TaskState = "open"
	TaskCompleted   TaskState = "completed"
	TaskInterrupted TaskState = "interrupted" // an interrupting boundary timer fired (escalated)
	TaskCancelled   TaskState = "cancelled"   // instance ended or was terminated
)

// DecisionKind is an approver's decision on a userTask.
type DecisionKind string

// Decisions.
const (
	Approve  DecisionKind = "approve"
	Reject   DecisionKind = "reject"
	SendBack DecisionKind = "sendBack"
	// Resubmit completes a requester task (pf:performer="requester"): the
	// requester answers a send-back; the event's Vars replace variables.
	Resubmit DecisionKind = "resubmit"
)

// PerformerRequester is the pf:performer value of a task the requester
// completes (answering a send-back), never an approver.
const PerformerRequester = "requester"

// Instance is the complete engine state of one process instance. It is
// plain JSON (stored inside the request record) and carries everything the
// engine needs to continue: tokens, variables, open waits, pending timers,
// processed event ids and the append-only history.
type Instance struct {
	ID         string `json:"id"`
	Definition string `json:"definition"`
	// Version is the Definition.Version the instance started on; it
	// continues on that version only.
	Version   string         `json:"version,omitempty"`
	Status    Status         `json:"status"`
	Outcome   *Outcome       `json:"outcome,omitempty"`
	Vars      map[string]any `json:"vars"`
	Tokens    []Token        `json:"tokens"`
	Tasks     []Task         `json:"tasks"`    // every work item created, open and closed
	Messages  []MessageWait  `json:"messages"` // open message waits
	Timers    []Timer        `json:"timers"`   // pending timers
	Processed []string       `json:"processed"`
	History   []HistoryEvent `json:"history"`
	Seq       int            `json:"seq"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// Outcome is how an instance ended.
type Outcome struct {
	Status Status    `json:"status"`
	End    string    `json:"end,omitempty"` // end event id (completed/failed)
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor,omitempty"` // who terminated
	At     time.Time `json:"at"`
}

// Token is a resting token.
type Token struct {
	ID    string     `json:"id"`
	At    string     `json:"at"`            // element id
	Via   string     `json:"via,omitempty"` // flow it arrived on
	State TokenState `json:"state"`
}

// Task is a userTask work item.
type Task struct {
	ID              string     `json:"id"`
	Element         string     `json:"element"`
	Name            string     `json:"name,omitempty"`
	Token           string     `json:"token"`
	CandidateGroups []string   `json:"candidateGroups,omitempty"`
	CandidateUsers  []string   `json:"candidateUsers,omitempty"`
	Assignee        string     `json:"assignee,omitempty"`
	Performer       string     `json:"performer,omitempty"`
	State           TaskState  `json:"state"`
	CreatedAt       time.Time  `json:"createdAt"`
	ClosedAt        *time.Time `json:"closedAt,omitempty"`
	Decision        *Decision  `json:"decision,omitempty"`
	Reminders       int        `json:"reminders,omitempty"`
}

// Decision records who decided a work item, how and why.
type Decision struct {
	Decision DecisionKind `json:"decision"`
	Actor    string       `json:"actor"`
	Comment  string       `json:"comment,omitempty"`
	At       time.Time    `json:"at"`
	Event    string       `json:"event"`
}

// MessageWait is a token waiting for a named message.
type MessageWait struct {
	Token   string    `json:"token"`
	Element string    `json:"element"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// Timer is a pending boundary timer. ID is deterministic (instance id,
// work item id, boundary id) so the caller can use it as the scheduled
// message id.
type Timer struct {
	ID           string    `json:"id"`
	Element      string    `json:"element"` // boundaryEvent id
	Task         string    `json:"task"`    // work item id
	Due          time.Time `json:"due"`
	Interrupting bool      `json:"interrupting"`
}

// HistoryEvent is one append-only audit entry.
type HistoryEvent struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Event   string    `json:"event,omitempty"` // delivered event id
	Element string    `json:"element,omitempty"`
	Task    string    `json:"task,omitempty"`
	Actor   string    `json:"actor,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// EventType is the kind of an external event.
type EventType string

// Event types.
const (
	EventMessage      EventType = "message"
	EventTaskDecision EventType = "taskDecision"
	EventTimerFired   EventType = "timerFired"
	EventCancel       EventType = "cancel"
	// EventIncident ends a running instance Failed with Comment as the
	// reason: an event the caller could not process in any number of
	// attempts (e.g. a dead-lettered step message).
	EventIncident EventType = "incident"
)

// Event is an external input. ID is the idempotency key: an event whose ID
// was already applied changes nothing.
type Event struct {
	ID   string
	Type EventType
	// message
	Name string
	Vars map[string]any // merged into the process variables (messages only)
	// task decision: TaskID is a work item id, or a userTask element id with
	// exactly one open work item.
	TaskID   string
	Decision DecisionKind
	Actor    string
	Groups   []string // the actor's groups, checked against the candidate groups
	Comment  string   // decision and cancel comment; the reason of an incident
	// timer
	TimerID string
}

// Notification is something the caller should tell people about. ID is
// deterministic so a notification queue can drop duplicates.
type Notification struct {
	ID     string   `json:"id"`
	Kind   string   `json:"kind"` // taskAssigned, reminder, escalated, failed, terminated
	Task   string   `json:"task,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// Effects is what the caller must do after saving the instance.
type Effects struct {
	Duplicate       bool   // the event id was already applied: nothing changed, nothing to do
	Ignored         string // non-empty: the event was stale (e.g. a timer of a closed task); nothing changed
	TimersScheduled []Timer
	TimersCancelled []string
	TasksCreated    []Task
	TasksDecided    []Task // work items decided in this step, with their Decision
	Notifications   []Notification
	Outcome         *Outcome // set when the instance became terminal in this step
	Steps           int      // elements executed
}

// ServiceContext is what a service task handler gets.
type ServiceContext struct {
	Context    context.Context
	InstanceID string
	Element    string
	Type       string
	// Event is the id of the event whose step runs the task ("" in Start);
	// with InstanceID and Element it names one execution of the task, so a
	// handler can derive deterministic ids for what it records.
	Event  string
	Params map[string]string // pf:* attributes of the serviceTask except pf:type
	Vars   map[string]any    // a copy of the process variables
	Now    time.Time
	out    map[string]any
}

// Set records an output variable, merged into the process variables when the
// handler returns nil.
func (sc *ServiceContext) Set(name string, v any) {
	if sc.out == nil {
		sc.out = map[string]any{}
	}
	sc.out[name] = v
}

// ServiceFunc handles one service task type. It runs synchronously inside
// Start/Deliver; an error aborts the whole step (the instance is unchanged).
// Handlers may run again when a step is retried, so they must be idempotent.
type ServiceFunc func(sc *ServiceContext) error

// ServiceHandlers maps serviceTask types to handlers.
type ServiceHandlers map[string]ServiceFunc

// MayDecide reports whether actor may decide the work item: only the
// assignee when there is one (Camunda's rule: candidates may only claim an
// unassigned task, and the engine has no claiming); otherwise any candidate
// user or member of a candidate group (either qualifies); anyone when the
// task names neither. inGroup reports the actor's group memberships. The
// requester and four-eyes rules are checked by the engine on top.
func (t Task) MayDecide(actor string, inGroup func(string) bool) bool {
	if t.Assignee != "" {
		return actor == t.Assignee
	}
	if len(t.CandidateUsers) == 0 && len(t.CandidateGroups) == 0 {
		return true
	}
	return slices.Contains(t.CandidateUsers, actor) || slices.ContainsFunc(t.CandidateGroups, inGroup)
}

// OpenTasks returns the open work items.
func (in *Instance) OpenTasks() []Task {
	var out []Task
	for _, t := range in.Tasks {
		if t.State == TaskOpen {
			out = append(out, t)
		}
	}
	return out
}

// clone deep-copies the instance so a step can be applied transactionally.
func (in *Instance) clone() *Instance {
	c := *in
	if in.Outcome != nil {
		o := *in.Outcome
		c.Outcome = &o
	}
	c.Vars = cloneMap(in.Vars)
	c.Tokens = cp(in.Tokens)
	c.Tasks = make([]Task, len(in.Tasks))
	for i, t := range in.Tasks {
		if t.CandidateGroups != nil {
			t.CandidateGroups = cp(t.CandidateGroups)
		}
		if t.CandidateUsers != nil {
			t.CandidateUsers = cp(t.CandidateUsers)
		}
		if t.ClosedAt != nil {
			at := *t.ClosedAt
			t.ClosedAt = &at
		}
		if t.Decision != nil {
			d := *t.Decision
			t.Decision = &d
		}
		c.Tasks[i] = t
	}
	c.Messages = cp(in.Messages)
	c.Timers = cp(in.Timers)
	c.Processed = cp(in.Processed)
	c.History = cp(in.History)
	if c.Vars == nil {
		c.Vars = map[string]any{}
	}
	return &c
}

// cp copies s into a new, never-nil slice (so the JSON form is [] not null).
func cp[T any](s []T) []T {
	out := make([]T, len(s))
	copy(out, s)
	return out
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}
