package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// recorder is a ServiceHandlers set that counts calls per type.
type recorder struct {
	calls map[string]int
	fail  map[string]error
}

func newRecorder(types ...string) (*recorder, ServiceHandlers) {
	r := &recorder{calls: map[string]int{}, fail: map[string]error{}}
	svc := ServiceHandlers{}
	for _, typ := range types {
		svc[typ] = func(sc *ServiceContext) error {
			if err := r.fail[sc.Type]; err != nil {
				return err
			}
			r.calls[sc.Type]++
			sc.Set(sc.Type+"Done", true)
			return nil
		}
	}
	return r, svc
}

func td(name string) string { return filepath.Join("testdata", name) }

func stateJSON(t testing.TB, in *Instance) string {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantKind(t *testing.T, err error, k domain.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", k)
	}
	if domain.KindOf(err) != k {
		t.Fatalf("error %v has kind %s, want %s", err, domain.KindOf(err), k)
	}
}

func mustDeliver(t *testing.T, in *Instance, def *Definition, ev Event, now time.Time, svc ServiceHandlers) Effects {
	t.Helper()
	eff, err := in.Deliver(context.Background(), def, ev, now, svc)
	if err != nil {
		t.Fatalf("deliver %+v: %v", ev, err)
	}
	return eff
}

func TestExclusiveGateway(t *testing.T) {
	def := mustParse(t, td("exclusive.bpmn"))
	tests := []struct {
		amount  any
		status  Status
		end     string
		midCall int
	}{
		{amount: 500, status: StatusFailed, end: "EndBig"},
		{amount: 50, status: StatusCompleted, end: "EndMid", midCall: 1},
		{amount: 5, status: StatusCompleted, end: "EndSmall"},
		{amount: nil, status: StatusFailed, end: "Gw"}, // undefined variable in an ordering: incident at the gateway
	}
	for _, tc := range tests {
		rec, svc := newRecorder("mid")
		vars := map[string]any{}
		if tc.amount != nil {
			vars["amount"] = tc.amount
		}
		in, eff, err := Start(context.Background(), def, "i1", vars, t0, svc)
		if err != nil {
			t.Fatalf("amount %v: %v", tc.amount, err)
		}
		if in.Status != tc.status || in.Outcome == nil || in.Outcome.End != tc.end {
			t.Errorf("amount %v: status %s outcome %+v, want %s at %s", tc.amount, in.Status, in.Outcome, tc.status, tc.end)
		}
		if eff.Outcome == nil || eff.Outcome.Status != tc.status {
			t.Errorf("amount %v: effects outcome %+v", tc.amount, eff.Outcome)
		}
		if rec.calls["mid"] != tc.midCall {
			t.Errorf("amount %v: mid called %d times", tc.amount, rec.calls["mid"])
		}
		if tc.end == "EndBig" && in.Outcome.Reason != "too big" {
			t.Errorf("reason = %q", in.Outcome.Reason)
		}
		if tc.midCall == 1 && in.Vars["midDone"] != true {
			t.Errorf("service output variable not merged: %v", in.Vars)
		}
	}
}

func TestConditionRuntimeErrorFailsInstance(t *testing.T) {
	def, err := Parse(strings.NewReader(proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" default="F2" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E"><bpmn:conditionExpression>${name > 1}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E" />`)))
	if err != nil {
		t.Fatal(err)
	}
	in, eff, err := Start(context.Background(), def, "i", map[string]any{"name": "x"}, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusFailed || !strings.Contains(in.Outcome.Reason, `flow "F1"`) || eff.Outcome == nil {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
}

func TestParallelForkJoin(t *testing.T) {
	def := mustParse(t, td("parallel.bpmn"))
	for _, order := range []string{"task first", "message first"} {
		t.Run(order, func(t *testing.T) {
			rec, svc := newRecorder("record")
			in, eff, err := Start(context.Background(), def, "p1", nil, t0, svc)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Tokens) != 2 || len(eff.TasksCreated) != 1 || len(in.Messages) != 1 {
				t.Fatalf("tokens %v tasks %v messages %v", in.Tokens, eff.TasksCreated, in.Messages)
			}
			task := eff.TasksCreated[0]
			if task.Element != "Review" || task.State != TaskOpen {
				t.Fatalf("task = %+v", task)
			}
			decide := Event{ID: "e-task", Type: EventTaskDecision, TaskID: task.ID, Decision: Approve, Actor: "alice", Groups: []string{"Leads"}}
			ping := Event{ID: "e-ping", Type: EventMessage, Name: "ping"}
			first, second := decide, ping
			if order == "message first" {
				first, second = ping, decide
			}
			mustDeliver(t, in, def, first, t0.Add(time.Minute), svc)
			if in.Status != StatusRunning || rec.calls["record"] != 0 {
				t.Fatalf("join fired early: status %s record %d", in.Status, rec.calls["record"])
			}
			joining := 0
			for _, tk := range in.Tokens {
				if tk.State == TokenJoining {
					joining++
				}
			}
			if joining != 1 {
				t.Fatalf("joining tokens = %d (%v)", joining, in.Tokens)
			}
			eff = mustDeliver(t, in, def, second, t0.Add(2*time.Minute), svc)
			if in.Status != StatusCompleted || rec.calls["record"] != 1 || eff.Outcome == nil || in.Outcome.End != "End" {
				t.Fatalf("status %s record %d outcome %+v", in.Status, rec.calls["record"], in.Outcome)
			}
			if len(in.Tokens) != 0 || len(in.Messages) != 0 {
				t.Fatalf("leftovers: %v %v", in.Tokens, in.Messages)
			}
		})
	}
}

func TestMessageNotWaitingIsConflict(t *testing.T) {
	def := mustParse(t, td("parallel.bpmn"))
	_, svc := newRecorder("record")
	in, _, err := Start(context.Background(), def, "p1", nil, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	before := stateJSON(t, in)
	_, err = in.Deliver(context.Background(), def, Event{ID: "x", Type: EventMessage, Name: "other"}, t0, svc)
	wantKind(t, err, domain.KindConflict)
	if stateJSON(t, in) != before {
		t.Fatal("state changed on error")
	}
	_, err = in.Deliver(context.Background(), def, Event{ID: "", Type: EventMessage, Name: "ping"}, t0, svc)
	wantKind(t, err, domain.KindInvalid)
	_, err = in.Deliver(context.Background(), def, Event{ID: "y", Type: "bogus"}, t0, svc)
	wantKind(t, err, domain.KindInvalid)
}

func TestBoundaryTimers(t *testing.T) {
	def := mustParse(t, td("timers.bpmn"))
	rec, svc := newRecorder("ping")
	in, eff, err := Start(context.Background(), def, "req-7", nil, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.TimersScheduled) != 2 {
		t.Fatalf("timers = %+v", eff.TimersScheduled)
	}
	task := eff.TasksCreated[0]
	byEl := map[string]Timer{}
	for _, tm := range eff.TimersScheduled {
		byEl[tm.Element] = tm
	}
	remind, expire := byEl["Remind"], byEl["Expire"]
	if remind.ID != "req-7/"+task.ID+"/Remind" || !remind.Due.Equal(t0.Add(24*time.Hour)) || remind.Interrupting {
		t.Fatalf("remind = %+v", remind)
	}
	if !expire.Due.Equal(t0.Add(36*time.Hour)) || !expire.Interrupting {
		t.Fatalf("expire = %+v", expire)
	}
	// Early timer: refused, nothing changes.
	_, err = in.Deliver(context.Background(), def, Event{ID: "early", Type: EventTimerFired, TimerID: expire.ID}, t0.Add(time.Hour), svc)
	wantKind(t, err, domain.KindConflict)

	// Non-interrupting reminder: notification, outgoing path runs, task stays open.
	eff = mustDeliver(t, in, def, Event{ID: "tm1", Type: EventTimerFired, TimerID: remind.ID}, remind.Due, svc)
	if len(eff.Notifications) != 1 || eff.Notifications[0].Kind != "reminder" || eff.Notifications[0].Task != task.ID {
		t.Fatalf("notifications = %+v", eff.Notifications)
	}
	if rec.calls["ping"] != 1 || in.Status != StatusRunning || in.OpenTasks()[0].ID != task.ID || in.OpenTasks()[0].Reminders != 1 {
		t.Fatalf("after reminder: ping %d status %s open %+v", rec.calls["ping"], in.Status, in.OpenTasks())
	}
	// A reminder fired again (other event id): the timer is gone, ignored.
	eff = mustDeliver(t, in, def, Event{ID: "tm1-again", Type: EventTimerFired, TimerID: remind.ID}, remind.Due, svc)
	if eff.Ignored == "" || rec.calls["ping"] != 1 {
		t.Fatalf("stale timer not ignored: %+v", eff)
	}
	// Interrupting escalation: task interrupted, Boss task created.
	eff = mustDeliver(t, in, def, Event{ID: "tm2", Type: EventTimerFired, TimerID: expire.ID}, expire.Due, svc)
	if len(eff.TasksCreated) != 1 || eff.TasksCreated[0].Element != "Boss" {
		t.Fatalf("escalation tasks = %+v", eff.TasksCreated)
	}
	if in.Tasks[0].State != TaskInterrupted || len(in.Timers) != 0 {
		t.Fatalf("task %+v timers %+v", in.Tasks[0], in.Timers)
	}
	kinds := []string{}
	for _, n := range eff.Notifications {
		kinds = append(kinds, n.Kind)
	}
	if strings.Join(kinds, ",") != "escalated,taskAssigned" {
		t.Fatalf("notification kinds = %v", kinds)
	}
	// The original task can no longer be decided.
	_, err = in.Deliver(context.Background(), def, Event{ID: "late", Type: EventTaskDecision, TaskID: task.ID, Decision: Approve, Actor: "a", Groups: []string{"Deciders"}}, expire.Due, svc)
	wantKind(t, err, domain.KindConflict)
	eff = mustDeliver(t, in, def, Event{ID: "boss", Type: EventTaskDecision, TaskID: "Boss", Decision: Approve, Actor: "b", Groups: []string{"Bosses"}}, expire.Due, svc)
	if in.Status != StatusCompleted || eff.Outcome == nil {
		t.Fatalf("status %s", in.Status)
	}
}

func TestDecisionWhenTaskDecidedCancelsItsTimers(t *testing.T) {
	def := mustParse(t, td("timers.bpmn"))
	_, svc := newRecorder("ping")
	in, eff, err := Start(context.Background(), def, "r", nil, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	ev := mustDeliver(t, in, def, Event{ID: "d", Type: EventTaskDecision, TaskID: eff.TasksCreated[0].ID, Decision: Approve, Actor: "a", Groups: []string{"Deciders"}}, t0, svc)
	if len(ev.TimersCancelled) != 2 || in.Status != StatusCompleted {
		t.Fatalf("cancelled %v status %s", ev.TimersCancelled, in.Status)
	}
	// A timer firing after the task closed is ignored without error.
	got := mustDeliver(t, in, def, Event{ID: "t", Type: EventTimerFired, TimerID: eff.TimersScheduled[0].ID}, t0.Add(48*time.Hour), svc)
	if got.Ignored == "" {
		t.Fatal("timer after completion not ignored")
	}
}

func TestFourEyesAndAuthorization(t *testing.T) {
	def := mustParse(t, td("foureyes.bpmn"))
	in, _, err := Start(context.Background(), def, "fe", map[string]any{"requester": "rita"}, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	approvers := []string{"Approvers"}
	steps := []struct {
		name string
		ev   Event
		kind domain.Kind // KindInternal = success
	}{
		{"requester refused", Event{TaskID: "First", Decision: Approve, Actor: "rita", Groups: approvers}, domain.KindForbidden},
		{"outside candidate groups", Event{TaskID: "First", Decision: Approve, Actor: "alice", Groups: []string{"Other"}}, domain.KindForbidden},
		{"no actor", Event{TaskID: "First", Decision: Approve, Groups: approvers}, domain.KindInvalid},
		{"bad decision", Event{TaskID: "First", Decision: "maybe", Actor: "alice", Groups: approvers}, domain.KindInvalid},
		{"vars on decision", Event{TaskID: "First", Decision: Approve, Actor: "alice", Groups: approvers, Vars: map[string]any{"decision": "approve"}}, domain.KindInvalid},
		{"unknown task", Event{TaskID: "Nope", Decision: Approve, Actor: "alice", Groups: approvers}, domain.KindNotFound},
		{"task not waiting yet", Event{TaskID: "Second", Decision: Approve, Actor: "alice", Groups: approvers}, domain.KindConflict},
		{"first approval", Event{TaskID: "First", Decision: Approve, Actor: "alice", Groups: approvers}, domain.KindInternal},
		{"first again", Event{TaskID: "First-2", Decision: Approve, Actor: "bob", Groups: approvers}, domain.KindConflict},
		{"same approver twice", Event{TaskID: "Second", Decision: Approve, Actor: "alice", Groups: approvers}, domain.KindForbidden},
		{"second approver", Event{TaskID: "Second", Decision: Approve, Actor: "bob", Groups: approvers}, domain.KindInternal},
		{"not the assignee", Event{TaskID: "Named", Decision: Approve, Actor: "dave"}, domain.KindForbidden},
		{"assignee", Event{TaskID: "Named", Decision: Approve, Actor: "carol"}, domain.KindInternal},
		{"after completion", Event{TaskID: "Named", Decision: Approve, Actor: "carol"}, domain.KindConflict},
	}
	for i, st := range steps {
		st.ev.ID = "ev-" + st.name
		st.ev.Type = EventTaskDecision
		before := stateJSON(t, in)
		_, err := in.Deliver(context.Background(), def, st.ev, t0.Add(time.Duration(i)*time.Minute), nil)
		if st.kind == domain.KindInternal {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			continue
		}
		if err == nil || domain.KindOf(err) != st.kind {
			t.Fatalf("%s: err %v, want kind %s", st.name, err, st.kind)
		}
		if stateJSON(t, in) != before {
			t.Fatalf("%s: state changed on refusal", st.name)
		}
	}
	if in.Status != StatusCompleted {
		t.Fatalf("status = %s", in.Status)
	}
	if got := in.Vars["approvers"]; len(got.([]any)) != 3 {
		t.Fatalf("approvers = %v", got)
	}
}

func TestServiceErrorLeavesStateUnchanged(t *testing.T) {
	def := mustParse(t, td("parallel.bpmn"))
	rec, svc := newRecorder("record")
	in, eff, err := Start(context.Background(), def, "p", nil, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, in, def, Event{ID: "m", Type: EventMessage, Name: "ping"}, t0, svc)
	before := stateJSON(t, in)
	boom := domain.E(domain.KindTransient, "profile store down")
	rec.fail["record"] = boom
	dec := Event{ID: "d", Type: EventTaskDecision, TaskID: eff.TasksCreated[0].ID, Decision: Approve, Actor: "a", Groups: []string{"Reviewers"}}
	_, err = in.Deliver(context.Background(), def, dec, t0, svc)
	if !errors.Is(err, boom) || domain.KindOf(err) != domain.KindTransient {
		t.Fatalf("err = %v", err)
	}
	if stateJSON(t, in) != before {
		t.Fatal("failed step changed the state")
	}
	delete(rec.fail, "record")
	got := mustDeliver(t, in, def, dec, t0, svc) // retry with the same id is applied (it never was)
	if got.Duplicate || in.Status != StatusCompleted || rec.calls["record"] != 1 {
		t.Fatalf("retry: %+v status %s", got, in.Status)
	}
	// A missing handler is an error too (and also leaves no trace).
	_, _, err = Start(context.Background(), def, "p2", nil, t0, nil)
	if err != nil {
		t.Fatalf("start without service reached: %v", err)
	}
	in2, _, _ := Start(context.Background(), def, "p3", nil, t0, nil)
	mustDeliver(t, in2, def, Event{ID: "m", Type: EventMessage, Name: "ping"}, t0, nil)
	_, err = in2.Deliver(context.Background(), def, Event{ID: "d", Type: EventTaskDecision, TaskID: "Review", Decision: Approve, Actor: "a", Groups: []string{"Leads"}}, t0, nil)
	if err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Fatalf("missing handler: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	def := mustParse(t, td("exclusive.bpmn"))
	if _, _, err := Start(context.Background(), def, "", nil, t0, nil); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("empty id: %v", err)
	}
	if _, _, err := Start(context.Background(), def, "x", map[string]any{"f": func() {}}, t0, nil); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("non-JSON vars: %v", err)
	}
	if _, _, err := Start(context.Background(), nil, "x", nil, t0, nil); err == nil {
		t.Error("nil definition accepted")
	}
	other := mustParse(t, td("parallel.bpmn"))
	in, _, err := Start(context.Background(), other, "x", nil, t0, ServiceHandlers{"record": func(*ServiceContext) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Deliver(context.Background(), def, Event{ID: "e", Type: EventCancel}, t0, nil); err == nil {
		t.Error("event with a foreign definition accepted")
	}
}

func TestDeadlockedJoinFails(t *testing.T) {
	// An exclusive split into a parallel join can never complete.
	def, err := Parse(strings.NewReader(proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" default="F2" /><bpmn:parallelGateway id="J" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="J"><bpmn:conditionExpression>${false}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="J" />
<bpmn:sequenceFlow id="F3" sourceRef="J" targetRef="E" />`)))
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := Start(context.Background(), def, "d", nil, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusFailed || !strings.Contains(in.Outcome.Reason, "deadlock") {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
}

func TestLoopWithoutWaitStateFails(t *testing.T) {
	def, err := Parse(strings.NewReader(proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" /><bpmn:exclusiveGateway id="H" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="H" />
<bpmn:sequenceFlow id="F2" sourceRef="H" targetRef="G" />`)))
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := Start(context.Background(), def, "l", nil, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != StatusFailed || !strings.Contains(in.Outcome.Reason, "steps") {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
}
