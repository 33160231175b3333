package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

const (
	// maxStepsPerRun bounds one Start/Deliver so a definition with a loop
	// without wait states fails the instance instead of spinning.
	maxStepsPerRun = 10000
	// timerEarlyTolerance accepts a timer event this much before its due time
	// (clock skew between the scheduler and this process).
	timerEarlyTolerance = 30 * time.Second
	// VarRequester names the variable holding the requester's subject; the
	// requester can never decide a task of their own request.
	VarRequester = "requester"
)

// Start creates an instance of def with id (e.g. the request id; it prefixes
// every timer and notification id) and runs it until every token rests at a
// wait state or the process ended. vars are copied (normalised to JSON types).
func Start(ctx context.Context, def *Definition, id string, vars map[string]any, now time.Time, svc ServiceHandlers) (*Instance, Effects, error) {
	if def == nil || def.Start == nil {
		return nil, Effects{}, domain.E(domain.KindInternal, "workflow: no definition")
	}
	if id == "" {
		return nil, Effects{}, domain.E(domain.KindInvalid, "workflow: instance id is required")
	}
	nv, err := normalizeVars(vars)
	if err != nil {
		return nil, Effects{}, err
	}
	now = now.UTC()
	in := &Instance{ID: id, Definition: def.ID, Version: def.Version, Status: StatusRunning, Vars: nv, CreatedAt: now, UpdatedAt: now}
	in = in.clone() // non-nil slices
	r := &run{ctx: ctx, def: def, in: in, now: now, svc: svc}
	r.history("started", "", def.Start.ID, "", "")
	r.enqueue(r.newToken(), def.Start.ID, "")
	if err := r.drain(); err != nil {
		return nil, Effects{}, err
	}
	return in, r.eff, nil
}

// Deliver applies one external event. A repeated event id returns
// Effects{Duplicate: true} and changes nothing. On error the instance is
// unchanged. The instance runs on the definition version it started on:
// when def is another version, that version is taken from the Registry def
// was added to (KindInternal when it is not loaded there). Decisions on
// work items that are not open are KindConflict; decisions by the
// requester, by an actor who is not the assignee, a candidate user or a
// member of a candidate group, or by an actor who already approved a
// pf:distinctFrom task are KindForbidden.
func (in *Instance) Deliver(ctx context.Context, def *Definition, ev Event, now time.Time, svc ServiceHandlers) (Effects, error) {
	if ev.ID == "" {
		return Effects{}, domain.E(domain.KindInvalid, "workflow: event id is required")
	}
	def, err := def.versionFor(in)
	if err != nil {
		return Effects{}, err
	}
	if slices.Contains(in.Processed, ev.ID) {
		return Effects{Duplicate: true}, nil
	}
	now = now.UTC()
	c := in.clone()
	r := &run{ctx: ctx, def: def, in: c, now: now, svc: svc, event: ev.ID}
	switch ev.Type {
	case EventMessage:
		err = r.message(ev)
	case EventTaskDecision:
		err = r.decide(ev)
	case EventTimerFired:
		err = r.timer(ev)
	case EventCancel:
		err = r.cancel(ev)
	case EventIncident:
		err = r.incident(ev)
	default:
		err = domain.E(domain.KindInvalid, "workflow: unknown event type %q", ev.Type)
	}
	if err != nil {
		return Effects{}, err
	}
	if r.eff.Ignored != "" {
		return Effects{Ignored: r.eff.Ignored}, nil
	}
	if err := r.drain(); err != nil {
		return Effects{}, err
	}
	c.Processed = append(c.Processed, ev.ID)
	c.UpdatedAt = now
	*in = *c
	return r.eff, nil
}

// run is one transactional step over a copy of the instance.
type run struct {
	ctx   context.Context
	def   *Definition
	in    *Instance
	now   time.Time
	svc   ServiceHandlers
	event string
	queue []Token
	// lastEnd is the last end event reached (the completed outcome's End).
	lastEnd string
	eff     Effects
}

func (r *run) seq() int { r.in.Seq++; return r.in.Seq }

func (r *run) newToken() string { return "t" + strconv.Itoa(r.seq()) }

func (r *run) history(typ, actor, element, task, detail string) {
	r.in.History = append(r.in.History, HistoryEvent{At: r.now, Type: typ, Event: r.event, Element: element, Task: task, Actor: actor, Detail: detail})
}

func (r *run) notify(n Notification) { r.eff.Notifications = append(r.eff.Notifications, n) }

func (r *run) enqueue(tokenID, element, via string) {
	r.queue = append(r.queue, Token{ID: tokenID, At: element, Via: via})
}

// follow moves a token along all outgoing flows of e (forking when several).
func (r *run) follow(tokenID string, flows []*Flow) {
	for i, f := range flows {
		id := tokenID
		if i > 0 {
			id = r.newToken()
		}
		r.enqueue(id, f.Target, f.ID)
	}
}

// drain executes queued tokens until all rest or the instance ends.
func (r *run) drain() error {
	for len(r.queue) > 0 && r.in.Status == StatusRunning {
		tok := r.queue[0]
		r.queue = r.queue[1:]
		r.eff.Steps++
		if r.eff.Steps > maxStepsPerRun {
			r.fail("", fmt.Sprintf("workflow error: more than %d steps without reaching a wait state", maxStepsPerRun))
			break
		}
		if err := r.exec(tok); err != nil {
			return err
		}
	}
	r.queue = nil
	if r.in.Status != StatusRunning {
		return nil
	}
	waiting := 0
	for _, t := range r.in.Tokens {
		if t.State == TokenWaiting {
			waiting++
		}
	}
	switch {
	case len(r.in.Tokens) == 0:
		r.finish(StatusCompleted, r.lastEnd, "", "")
	case waiting == 0:
		r.fail("", "workflow error: parallel join can never complete (deadlock)")
	}
	return nil
}

func (r *run) exec(tok Token) error {
	e := r.def.Elements[tok.At]
	if e == nil {
		r.fail(tok.At, fmt.Sprintf("workflow error: unknown element %q", tok.At))
		return nil
	}
	switch e.Type {
	case StartEvent:
		r.follow(tok.ID, e.Outgoing)
	case EndEvent:
		r.history("endReached", "", e.ID, "", "")
		r.lastEnd = e.ID
		if e.Failed {
			reason := e.Reason
			if e.ReasonVariable != "" {
				if s, ok := r.in.Vars[e.ReasonVariable].(string); ok && s != "" {
					reason = s
				}
			}
			r.finish(StatusFailed, e.ID, reason, "")
		}
	case ExclusiveGateway:
		if len(e.Outgoing) == 1 && e.Outgoing[0].cond == nil {
			r.follow(tok.ID, e.Outgoing)
			return nil
		}
		for _, f := range e.Outgoing {
			if f.cond == nil {
				continue
			}
			b, err := f.cond.test(r.in.Vars)
			if err != nil {
				r.fail(e.ID, fmt.Sprintf("workflow error: condition of flow %q: %v", f.ID, err))
				return nil
			}
			if b {
				r.history("flowTaken", "", e.ID, "", f.ID)
				r.follow(tok.ID, []*Flow{f})
				return nil
			}
		}
		if e.Default != nil {
			r.history("flowTaken", "", e.ID, "", e.Default.ID)
			r.follow(tok.ID, []*Flow{e.Default})
			return nil
		}
		r.fail(e.ID, fmt.Sprintf("workflow error: no outgoing flow of gateway %q matched", e.ID))
	case ParallelGateway:
		if len(e.Incoming) <= 1 {
			r.follow(tok.ID, e.Outgoing)
			return nil
		}
		tok.State = TokenJoining
		r.in.Tokens = append(r.in.Tokens, tok)
		// Fire when one token has arrived on every incoming flow.
		picked := make([]int, 0, len(e.Incoming))
		for _, f := range e.Incoming {
			idx := -1
			for i, t := range r.in.Tokens {
				if t.At == e.ID && t.State == TokenJoining && t.Via == f.ID {
					idx = i
					break
				}
			}
			if idx < 0 {
				return nil
			}
			picked = append(picked, idx)
		}
		keep := r.in.Tokens[:0]
		for i, t := range r.in.Tokens {
			if !slices.Contains(picked, i) {
				keep = append(keep, t)
			}
		}
		r.in.Tokens = keep
		r.history("joined", "", e.ID, "", "")
		r.follow(r.newToken(), e.Outgoing)
	case UserTask:
		r.createTask(tok, e)
	case ServiceTask:
		return r.service(tok, e)
	case MessageCatch:
		tok.State = TokenWaiting
		r.in.Tokens = append(r.in.Tokens, tok)
		r.in.Messages = append(r.in.Messages, MessageWait{Token: tok.ID, Element: e.ID, Message: e.Message, Since: r.now})
		r.history("messageWait", "", e.ID, "", e.Message)
	default:
		r.fail(e.ID, fmt.Sprintf("workflow error: element %q of type %s cannot hold a token", e.ID, e.Type))
	}
	return nil
}

func (r *run) createTask(tok Token, e *Element) {
	who, err := assignees(e, r.in.Vars)
	if err != nil {
		r.fail(e.ID, fmt.Sprintf("workflow error: assignment of userTask %q: %v", e.ID, err))
		return
	}
	tok.State = TokenWaiting
	r.in.Tokens = append(r.in.Tokens, tok)
	t := Task{
		ID:              e.ID + "-" + strconv.Itoa(r.seq()),
		Element:         e.ID,
		Name:            e.Name,
		Token:           tok.ID,
		CandidateGroups: who.CandidateGroups,
		CandidateUsers:  who.CandidateUsers,
		Assignee:        who.Assignee,
		Performer:       e.Performer,
		State:           TaskOpen,
		CreatedAt:       r.now,
	}
	if t.Performer == PerformerRequester {
		t.Assignee, _ = r.in.Vars[VarRequester].(string)
	}
	r.in.Tasks = append(r.in.Tasks, t)
	r.eff.TasksCreated = append(r.eff.TasksCreated, t)
	r.history("taskCreated", "", e.ID, t.ID, "")
	if t.Performer == PerformerRequester {
		reason, _ := r.in.Vars["decisionComment"].(string)
		r.notify(Notification{ID: r.in.ID + "/sentBack/" + t.ID, Kind: "sentBack", Task: t.ID, Reason: reason})
	} else {
		r.notify(Notification{ID: r.in.ID + "/taskAssigned/" + t.ID, Kind: "taskAssigned", Task: t.ID, Groups: t.CandidateGroups})
	}
	for _, b := range e.Boundaries {
		tm := Timer{ID: r.in.ID + "/" + t.ID + "/" + b.ID, Element: b.ID, Task: t.ID, Due: b.Duration.AddTo(r.now), Interrupting: b.Interrupting}
		r.in.Timers = append(r.in.Timers, tm)
		r.eff.TimersScheduled = append(r.eff.TimersScheduled, tm)
	}
}

func (r *run) service(tok Token, e *Element) error {
	h := r.svc[e.ServiceType]
	if h == nil {
		return domain.E(domain.KindInternal, "workflow: no handler for service type %q (task %s)", e.ServiceType, e.ID)
	}
	sc := &ServiceContext{Context: r.ctx, InstanceID: r.in.ID, Element: e.ID, Type: e.ServiceType, Event: r.event, Params: maps.Clone(e.Params), Vars: cloneMap(r.in.Vars), Now: r.now}
	if sc.Context == nil {
		sc.Context = context.Background()
	}
	if err := h(sc); err != nil {
		return fmt.Errorf("workflow: service task %s (%s): %w", e.ID, e.ServiceType, err)
	}
	if len(sc.out) > 0 {
		out, err := normalizeVars(sc.out)
		if err != nil {
			return err
		}
		for k, v := range out {
			r.in.Vars[k] = v
		}
	}
	r.history("serviceCompleted", "", e.ID, "", e.ServiceType)
	r.follow(tok.ID, e.Outgoing)
	return nil
}

// removeToken takes a resting token out of the instance.
func (r *run) removeToken(id string) {
	r.in.Tokens = slices.DeleteFunc(r.in.Tokens, func(t Token) bool { return t.ID == id })
}

func (r *run) cancelTimers(pred func(Timer) bool) {
	r.in.Timers = slices.DeleteFunc(r.in.Timers, func(t Timer) bool {
		if pred(t) {
			r.eff.TimersCancelled = append(r.eff.TimersCancelled, t.ID)
			return true
		}
		return false
	})
}

func (r *run) closeTask(i int, st TaskState) {
	at := r.now
	r.in.Tasks[i].State = st
	r.in.Tasks[i].ClosedAt = &at
	id := r.in.Tasks[i].ID
	r.cancelTimers(func(t Timer) bool { return t.Task == id })
}

// finish ends the instance: closes every wait and records the outcome.
func (r *run) finish(st Status, end, reason, actor string) {
	for i := range r.in.Tasks {
		if r.in.Tasks[i].State == TaskOpen {
			r.closeTask(i, TaskCancelled)
		}
	}
	r.cancelTimers(func(Timer) bool { return true })
	r.in.Tokens = r.in.Tokens[:0]
	r.in.Messages = r.in.Messages[:0]
	r.queue = nil
	r.in.Status = st
	o := &Outcome{Status: st, End: end, Reason: reason, Actor: actor, At: r.now}
	r.in.Outcome = o
	oc := *o
	r.eff.Outcome = &oc
	r.history(string(st), actor, end, "", reason)
	// A completion is announced by the definition itself (a notify service
	// task before the end event), so that the diagram shows every notice of
	// a successful path; an instance that ends otherwise (a failed end
	// event, an incident, a cancel) is announced by the engine.
	if st != StatusCompleted {
		kind := string(st)
		if e := r.def.Elements[end]; e != nil && e.Notice != "" {
			kind = e.Notice
		}
		r.notify(Notification{ID: r.in.ID + "/" + string(st), Kind: kind, Reason: reason})
	}
}

// fail ends the instance Failed because the definition could not continue
// (an incident: deterministic, so retrying would not help).
func (r *run) fail(element, reason string) {
	r.history("incident", "", element, "", reason)
	r.finish(StatusFailed, element, reason, "")
}

func (r *run) message(ev Event) error {
	if r.in.Status.Terminal() {
		r.eff.Ignored = "instance is " + string(r.in.Status)
		return nil
	}
	if ev.Name == "" {
		return domain.E(domain.KindInvalid, "workflow: message name is required")
	}
	var waits []MessageWait
	for _, m := range r.in.Messages {
		if m.Message == ev.Name {
			waits = append(waits, m)
		}
	}
	if len(waits) == 0 {
		return domain.E(domain.KindConflict, "the request is not waiting for %q", ev.Name)
	}
	vars, err := normalizeVars(ev.Vars)
	if err != nil {
		return err
	}
	for k, v := range vars {
		r.in.Vars[k] = v
	}
	r.in.Messages = slices.DeleteFunc(r.in.Messages, func(m MessageWait) bool { return m.Message == ev.Name })
	for _, w := range waits {
		r.removeToken(w.Token)
		r.history("messageReceived", ev.Actor, w.Element, "", ev.Name)
		r.follow(w.Token, r.def.Elements[w.Element].Outgoing)
	}
	return nil
}

func (r *run) decide(ev Event) error {
	switch ev.Decision {
	case Approve, Reject, SendBack, Resubmit:
	default:
		return domain.E(domain.KindInvalid, "decision must be approve, reject, sendBack or resubmit")
	}
	if ev.Actor == "" {
		return domain.E(domain.KindInvalid, "workflow: decision without actor")
	}
	idx, open := -1, 0
	for i, t := range r.in.Tasks {
		if t.ID == ev.TaskID {
			idx = i
			break
		}
		if t.Element == ev.TaskID && t.State == TaskOpen {
			idx = i
			open++
		}
	}
	if idx < 0 {
		if r.def.Elements[ev.TaskID] != nil {
			return domain.E(domain.KindConflict, "task %q is not waiting for a decision", ev.TaskID)
		}
		return domain.E(domain.KindNotFound, "no task %q in this request", ev.TaskID)
	}
	if open > 1 {
		return domain.E(domain.KindConflict, "task %q has several open work items; name one", ev.TaskID)
	}
	t := &r.in.Tasks[idx]
	if t.State != TaskOpen || r.in.Status.Terminal() {
		return domain.E(domain.KindConflict, "task %q is not waiting for a decision (%s)", t.ID, t.State)
	}
	e := r.def.Elements[t.Element]
	var err error
	if t.Performer == PerformerRequester {
		err = r.mayAnswer(t, ev)
	} else {
		err = r.mayDecide(t, e, ev)
	}
	if err != nil {
		return err
	}
	t.Decision = &Decision{Decision: ev.Decision, Actor: ev.Actor, Comment: ev.Comment, At: r.now, Event: ev.ID}
	taskID, tokenID := t.ID, t.Token
	r.closeTask(idx, TaskCompleted)
	r.eff.TasksDecided = append(r.eff.TasksDecided, r.in.Tasks[idx])
	v := r.in.Vars
	if ev.Decision == Resubmit {
		vars, err := normalizeVars(ev.Vars)
		if err != nil {
			return err
		}
		for k, x := range vars {
			v[k] = x
		}
		v["decision"] = string(Resubmit)
		r.history("taskDecided", ev.Actor, e.ID, taskID, string(ev.Decision)+reasonSuffix(ev.Comment))
		r.removeToken(tokenID)
		r.follow(tokenID, e.Outgoing)
		return nil
	}
	v["decision"] = string(ev.Decision)
	v["decidedBy"] = ev.Actor
	v["decisionComment"] = ev.Comment
	v["rejected"] = ev.Decision != Approve
	switch ev.Decision {
	case Approve:
		approvers, _ := v["approvers"].([]any)
		v["approvers"] = append(slices.Clone(approvers), ev.Actor)
		delete(v, "rejectReason")
	case Reject:
		v["rejectReason"] = reasonOr(ev.Comment, "rejected by the approver")
	case SendBack:
		v["rejectReason"] = "sent back for changes: " + reasonOr(ev.Comment, "no comment")
		v["sentBackFrom"] = e.ID
	}
	r.history("taskDecided", ev.Actor, e.ID, taskID, string(ev.Decision)+reasonSuffix(ev.Comment))
	r.removeToken(tokenID)
	r.follow(tokenID, e.Outgoing)
	return nil
}

// mayDecide checks an approver's decision on an approval task: approve,
// reject or sendBack, no variables, never by the requester, only by whom
// authorize admits (the assignee; else a candidate user or a member of a
// candidate group), and (pf:distinctFrom) not by
// an actor who approved one of the named tasks. KindForbidden or
// KindInvalid otherwise.
func (r *run) mayDecide(t *Task, e *Element, ev Event) error {
	if ev.Decision == Resubmit {
		return domain.E(domain.KindInvalid, "task %q is an approval: decide approve, reject or sendBack", t.ID)
	}
	if len(ev.Vars) > 0 {
		return domain.E(domain.KindInvalid, "workflow: a decision cannot set variables")
	}
	if req, _ := r.in.Vars[VarRequester].(string); req != "" && req == ev.Actor {
		return domain.E(domain.KindForbidden, "the requester cannot decide their own request")
	}
	if err := authorize(t, ev); err != nil {
		return err
	}
	for _, other := range r.in.Tasks {
		if other.Decision != nil && other.Decision.Decision == Approve && other.Decision.Actor == ev.Actor &&
			(slices.Contains(e.DistinctFrom, other.Element)) {
			return domain.E(domain.KindForbidden, "four-eyes: %s decided %s, so another approver must decide %s", ev.Actor, other.Element, e.ID)
		}
	}
	return nil
}

// mayAnswer checks the requester's answer to a requester task
// (pf:performer="requester"): only the requester, only Resubmit.
// KindForbidden or KindInvalid otherwise.
func (r *run) mayAnswer(t *Task, ev Event) error {
	if req, _ := r.in.Vars[VarRequester].(string); req == "" || req != ev.Actor {
		return domain.E(domain.KindForbidden, "task %q is the requester's to answer", t.ID)
	}
	if ev.Decision != Resubmit {
		return domain.E(domain.KindInvalid, "task %q is answered by resubmitting, not %s", t.ID, ev.Decision)
	}
	return nil
}

func reasonOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func reasonSuffix(c string) string {
	if c == "" {
		return ""
	}
	return ": " + c
}

func (r *run) timer(ev Event) error {
	i := slices.IndexFunc(r.in.Timers, func(t Timer) bool { return t.ID == ev.TimerID })
	if i < 0 || r.in.Status.Terminal() {
		r.eff.Ignored = "timer " + ev.TimerID + " is not pending"
		return nil
	}
	tm := r.in.Timers[i]
	if r.now.Add(timerEarlyTolerance).Before(tm.Due) {
		return domain.E(domain.KindConflict, "timer %s is not due until %s", tm.ID, tm.Due.Format(time.RFC3339))
	}
	r.in.Timers = slices.Delete(r.in.Timers, i, i+1)
	b := r.def.Elements[tm.Element]
	ti := slices.IndexFunc(r.in.Tasks, func(t Task) bool { return t.ID == tm.Task })
	if b == nil || ti < 0 {
		r.fail(tm.Element, "workflow error: timer refers to an unknown element or task")
		return nil
	}
	task := &r.in.Tasks[ti]
	if b.Interrupting {
		taskID, tokenID, groups, performer := task.ID, task.Token, task.CandidateGroups, task.Performer
		r.closeTask(ti, TaskInterrupted)
		r.removeToken(tokenID)
		if performer == PerformerRequester {
			// The requester's time to answer ran out: where the flow
			// leads (e.g. a failed end) says what is announced.
			r.history("expired", "", b.ID, taskID, b.Duration.Text)
		} else {
			r.history("escalated", "", b.ID, taskID, b.Duration.Text)
			r.notify(Notification{ID: r.in.ID + "/escalated/" + taskID, Kind: "escalated", Task: taskID, Groups: groups})
		}
		r.follow(tokenID, b.Outgoing)
		return nil
	}
	task.Reminders++
	r.history("reminder", "", b.ID, task.ID, b.Duration.Text)
	r.notify(Notification{ID: r.in.ID + "/reminder/" + task.ID + "/" + b.ID, Kind: "reminder", Task: task.ID, Groups: task.CandidateGroups})
	if len(b.Outgoing) > 0 {
		r.follow(r.newToken(), b.Outgoing)
	}
	return nil
}

func (r *run) cancel(ev Event) error {
	if r.in.Status.Terminal() {
		return domain.E(domain.KindConflict, "the request is already %s", r.in.Status)
	}
	r.finish(StatusTerminated, "", reasonOr(ev.Comment, "cancelled"), ev.Actor)
	return nil
}

func (r *run) incident(ev Event) error {
	if r.in.Status.Terminal() {
		return domain.E(domain.KindConflict, "the request is already %s", r.in.Status)
	}
	r.fail("", reasonOr(ev.Comment, "incident"))
	return nil
}

// normalizeVars copies vars into plain JSON types (numbers become float64,
// slices []any, structs maps) so that an instance behaves the same before
// and after it is stored and loaded.
func normalizeVars(vars map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if len(vars) == 0 {
		return out, nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return nil, domain.Wrap(domain.KindInvalid, err, "workflow: variables are not JSON")
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, domain.Wrap(domain.KindInternal, err, "workflow: variables round trip")
	}
	return out, nil
}

// authorize checks that ev's actor may decide t (see Task.MayDecide).
func authorize(t *Task, ev Event) error {
	if t.MayDecide(ev.Actor, func(g string) bool { return slices.Contains(ev.Groups, g) }) {
		return nil
	}
	if t.Assignee != "" {
		return domain.E(domain.KindForbidden, "task %q is assigned to someone else", t.ID)
	}
	return domain.E(domain.KindForbidden, "task %q needs one of the users %v or a member of %v", t.ID, t.CandidateUsers, t.CandidateGroups)
}

// assignees evaluates who may decide a new work item of e: the literal
// assignee, candidate users and groups of the definition plus the values
// of its expressions over vars. An expression that cannot be evaluated to
// names is an error (an incident), never an empty restriction.
func assignees(e *Element, vars map[string]any) (Task, error) {
	t := Task{CandidateGroups: slices.Clone(e.CandidateGroups), CandidateUsers: slices.Clone(e.CandidateUsers), Assignee: e.Assignee}
	if e.assign.empty() {
		return t, nil
	}
	if x := e.assign.assignee; x != nil {
		name, err := x.name(vars)
		if err != nil {
			return t, err
		}
		t.Assignee = name
	}
	for _, x := range e.assign.users {
		names, err := x.names(vars)
		if err != nil {
			return t, err
		}
		t.CandidateUsers = append(t.CandidateUsers, names...)
	}
	for _, x := range e.assign.groups {
		names, err := x.names(vars)
		if err != nil {
			return t, err
		}
		t.CandidateGroups = append(t.CandidateGroups, names...)
	}
	if len(t.CandidateUsers)+len(t.CandidateGroups) == 0 && t.Assignee == "" {
		return t, fmt.Errorf("the candidate expressions evaluated to no user and no group")
	}
	return t, nil
}

// versionFor returns the definition an instance runs on: d itself when
// the versions match, else the instance's version from d's registry.
// Instances stored before versions were recorded run on d when its process
// id matches.
func (d *Definition) versionFor(in *Instance) (*Definition, error) {
	if d == nil {
		return nil, domain.E(domain.KindInternal, "workflow: no definition")
	}
	switch {
	case in.Version == "" && d.ID == in.Definition, in.Version == d.Version:
		return d, nil
	case in.Version != "":
		if old := d.registry.Lookup(in.Version); old != nil {
			return old, nil
		}
		return nil, domain.E(domain.KindInternal, "workflow: instance %s runs on definition %s version %s, which is not loaded", in.ID, in.Definition, in.Version)
	}
	return nil, domain.E(domain.KindInternal, "workflow: instance %s belongs to definition %q", in.ID, in.Definition)
}
