package workflow

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

var (
	approver   = []string{"ProfileApprover"}
	supervisor = []string{"ProfileSupervisor"}
)

func changeVars(fields ...string) map[string]any {
	v := map[string]any{"changedFields": fields, "requester": "rita", "attachmentCount": 0}
	for _, f := range fields {
		switch f {
		case "firstName":
			v["nameChanged"] = true
		case "lastName":
			v["nameChanged"], v["lastNameChanged"] = true, true
		}
	}
	return v
}

func startDefault(t *testing.T, vars map[string]any) (*Definition, *Instance, Effects, *recorder, ServiceHandlers) {
	t.Helper()
	def := mustParse(t, defaultDefinition)
	rec, svc := newRecorder("applyChange", "notify")
	in, eff, err := Start(context.Background(), def, "req-1", vars, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	return def, in, eff, rec, svc
}

func scanned(clean bool) Event {
	return Event{ID: "scan", Type: EventMessage, Name: "attachmentsScanned", Vars: map[string]any{"allClean": clean}}
}

func decision(id, task string, d DecisionKind, actor string, groups []string, comment string) Event {
	return Event{ID: id, Type: EventTaskDecision, TaskID: task, Decision: d, Actor: actor, Groups: groups, Comment: comment}
}

func TestDefaultDescriptionOnly(t *testing.T) {
	_, in, eff, rec, _ := startDefault(t, changeVars("description"))
	if in.Status != StatusCompleted || in.Outcome.End != "EndCompleted" || eff.Outcome == nil {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
	if rec.calls["applyChange"] != 1 || rec.calls["notify"] != 1 {
		t.Fatalf("calls = %v", rec.calls)
	}
	if len(eff.TasksCreated) != 0 || len(eff.TimersScheduled) != 0 || len(in.Tokens) != 0 {
		t.Fatalf("unexpected waits: %+v", eff)
	}
	// The completion is announced by the definition's notify task, not by
	// the engine.
	if n := eff.Notifications; len(n) != 0 {
		t.Fatalf("engine notifications on completion = %+v", n)
	}
}

// A service task learns which execution it is (instance, element, event)
// and its pf:* parameters.
func TestServiceContextNamesTheExecution(t *testing.T) {
	def := mustParse(t, defaultDefinition)
	var seen []string
	svc := ServiceHandlers{
		"applyChange": func(sc *ServiceContext) error {
			seen = append(seen, sc.InstanceID+"|"+sc.Element+"|"+sc.Event)
			return nil
		},
		"notify": func(sc *ServiceContext) error {
			seen = append(seen, sc.InstanceID+"|"+sc.Element+"|"+sc.Event+"|"+sc.Params["template"])
			return nil
		},
	}
	if _, _, err := Start(context.Background(), def, "req-1", changeVars("description"), t0, svc); err != nil {
		t.Fatal(err)
	}
	vars := withAttachments(changeVars("firstName"))
	in, _, err := Start(context.Background(), def, "req-2", vars, t0, svc)
	if err != nil {
		t.Fatal(err)
	}
	mustDeliver(t, in, def, scanned(true), t0, svc)
	mustDeliver(t, in, def, decision("d1", "Approve1", Approve, "alice", approver, ""), t0, svc)
	want := "req-1|ApplyChange| req-1|Notify||completed req-2|ApplyChange|d1 req-2|Notify|d1|completed"
	if got := strings.Join(seen, " "); got != want {
		t.Fatalf("executions = %s\nwant %s", got, want)
	}
}

func TestDefaultLastNameTwoApprovers(t *testing.T) {
	vars := changeVars("lastName", "description")
	vars["attachmentCount"] = 1
	def, in, eff, rec, svc := startDefault(t, vars)
	if in.Status != StatusRunning || len(in.Messages) != 1 || in.Messages[0].Message != "attachmentsScanned" {
		t.Fatalf("not waiting for the scan: %s %+v", in.Status, in.Messages)
	}
	if eff.Outcome != nil || rec.calls["applyChange"] != 0 {
		t.Fatal("applied before approval")
	}
	eff = mustDeliver(t, in, def, scanned(true), t0.Add(time.Minute), svc)
	if len(eff.TasksCreated) != 1 || eff.TasksCreated[0].Element != "Approve1" || len(eff.TimersScheduled) != 2 {
		t.Fatalf("after scan: %+v", eff)
	}
	first := eff.TasksCreated[0].ID
	mustDeliver(t, in, def, decision("d1", first, Approve, "alice", approver, "ok"), t0.Add(time.Hour), svc)
	open := in.OpenTasks()
	if len(open) != 1 || open[0].Element != "Approve2" {
		t.Fatalf("second approval not open: %+v", open)
	}
	_, err := in.Deliver(context.Background(), def, decision("d2", open[0].ID, Approve, "alice", approver, ""), t0.Add(2*time.Hour), svc)
	wantKind(t, err, domain.KindForbidden)
	_, err = in.Deliver(context.Background(), def, decision("d3", open[0].ID, Approve, "rita", approver, ""), t0.Add(2*time.Hour), svc)
	wantKind(t, err, domain.KindForbidden)
	eff = mustDeliver(t, in, def, decision("d4", open[0].ID, Approve, "bob", approver, ""), t0.Add(3*time.Hour), svc)
	if in.Status != StatusCompleted || eff.Outcome == nil || rec.calls["applyChange"] != 1 || rec.calls["notify"] != 1 {
		t.Fatalf("status %s calls %v", in.Status, rec.calls)
	}
	if len(eff.TimersCancelled) != 2 {
		t.Fatalf("second task's timers not cancelled: %v", eff.TimersCancelled)
	}
	// History is append-only and names the approvers.
	var actors []string
	for _, h := range in.History {
		if h.Type == "taskDecided" {
			actors = append(actors, h.Actor)
		}
	}
	if strings.Join(actors, ",") != "alice,bob" {
		t.Fatalf("decisions in history = %v", actors)
	}
}

func TestDefaultSingleApproval(t *testing.T) {
	for _, fields := range [][]string{{"firstName"}, {"maritalStatus"}} {
		vars := changeVars(fields...)
		vars["attachmentCount"] = 2
		def, in, _, rec, svc := startDefault(t, vars)
		mustDeliver(t, in, def, scanned(true), t0, svc)
		mustDeliver(t, in, def, decision("d1", "Approve1", Approve, "alice", approver, ""), t0, svc)
		if in.Status != StatusCompleted || rec.calls["applyChange"] != 1 {
			t.Fatalf("%v: status %s", fields, in.Status)
		}
	}
}

func TestDefaultFailures(t *testing.T) {
	tests := []struct {
		name   string
		vars   map[string]any
		events []Event
		end    string
		reason string
		notice string
	}{
		{"no evidence", changeVars("maritalStatus"), nil, "EndNoEvidence", "at least one evidence document", "failed"},
		{"infected attachment", withAttachments(changeVars("firstName")), []Event{scanned(false)}, "EndNotClean", "malware scan", "failed"},
		{"rejected", withAttachments(changeVars("firstName")), []Event{scanned(true), decision("d", "Approve1", Reject, "alice", approver, "document unreadable")}, "EndRejected1", "document unreadable", "rejected"},
		{"rejected without comment", withAttachments(changeVars("firstName")), []Event{scanned(true), decision("d", "Approve1", Reject, "alice", approver, "")}, "EndRejected1", "rejected by the approver", "rejected"},
		{"sent back and never answered", withAttachments(changeVars("firstName")), []Event{scanned(true), decision("d", "Approve1", SendBack, "alice", approver, "wrong page"), {ID: "expiry", Type: EventTimerFired}}, "EndExpired", "not answered in time", "expired"},
		{"second approver rejects", withAttachments(changeVars("lastName")), []Event{scanned(true), decision("d1", "Approve1", Approve, "alice", approver, ""), decision("d2", "Approve2", Reject, "bob", approver, "name mismatch")}, "EndRejected2", "name mismatch", "rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, in, eff, rec, svc := startDefault(t, tc.vars)
			for _, ev := range tc.events {
				at := t0
				if ev.Type == EventTimerFired && len(in.Timers) == 1 {
					ev.TimerID = in.Timers[0].ID // the one pending timer
					at = in.Timers[0].Due
				}
				eff = mustDeliver(t, in, def, ev, at, svc)
			}
			if in.Status != StatusFailed || in.Outcome.End != tc.end || !strings.Contains(in.Outcome.Reason, tc.reason) {
				t.Fatalf("status %s outcome %+v, want failed at %s with %q", in.Status, in.Outcome, tc.end, tc.reason)
			}
			if eff.Outcome == nil || eff.Outcome.Status != StatusFailed {
				t.Fatalf("effects outcome %+v", eff.Outcome)
			}
			if rec.calls["applyChange"] != 0 {
				t.Fatal("change applied on a failed path")
			}
			if n := eff.Notifications[len(eff.Notifications)-1]; n.Kind != tc.notice || !strings.Contains(n.Reason, tc.reason) {
				t.Fatalf("terminal notification = %+v", n)
			}
			if len(in.Timers) != 0 || len(in.OpenTasks()) != 0 || len(in.Tokens) != 0 {
				t.Fatal("waits left after failure")
			}
		})
	}
}

func withAttachments(v map[string]any) map[string]any {
	v["attachmentCount"] = 1
	return v
}

func TestDefaultReminderAndEscalation(t *testing.T) {
	def, in, _, rec, svc := startDefault(t, withAttachments(changeVars("lastName")))
	eff := mustDeliver(t, in, def, scanned(true), t0, svc)
	var remind, escalate Timer
	for _, tm := range eff.TimersScheduled {
		switch tm.Element {
		case "Remind1":
			remind = tm
		case "Escalate1":
			escalate = tm
		}
	}
	if !remind.Due.Equal(t0.Add(24*time.Hour)) || !escalate.Due.Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("timers = %+v", eff.TimersScheduled)
	}
	eff = mustDeliver(t, in, def, Event{ID: remind.ID, Type: EventTimerFired, TimerID: remind.ID}, remind.Due, svc)
	if len(eff.Notifications) != 1 || eff.Notifications[0].Kind != "reminder" || eff.Notifications[0].Groups[0] != "ProfileApprover" {
		t.Fatalf("reminder effects = %+v", eff)
	}
	if open := in.OpenTasks(); len(open) != 1 || open[0].Element != "Approve1" {
		t.Fatalf("task not still waiting: %+v", open)
	}
	eff = mustDeliver(t, in, def, Event{ID: escalate.ID, Type: EventTimerFired, TimerID: escalate.ID}, escalate.Due, svc)
	open := in.OpenTasks()
	if len(open) != 1 || open[0].Element != "Approve1Sup" || open[0].CandidateGroups[0] != "ProfileSupervisor" {
		t.Fatalf("not reassigned to the supervisor: %+v", open)
	}
	if in.Tasks[0].State != TaskInterrupted {
		t.Fatalf("original task = %+v", in.Tasks[0])
	}
	// Approvers can no longer decide; supervisors can.
	_, err := in.Deliver(context.Background(), def, decision("x", open[0].ID, Approve, "alice", approver, ""), escalate.Due, svc)
	wantKind(t, err, domain.KindForbidden)
	mustDeliver(t, in, def, decision("s1", open[0].ID, Approve, "sam", supervisor, ""), escalate.Due, svc)
	second := in.OpenTasks()
	if len(second) != 1 || second[0].Element != "Approve2" {
		t.Fatalf("second approval = %+v", second)
	}
	// The supervisor's approval counts for four-eyes too.
	_, err = in.Deliver(context.Background(), def, decision("s2", second[0].ID, Approve, "sam", approver, ""), escalate.Due, svc)
	wantKind(t, err, domain.KindForbidden)
	mustDeliver(t, in, def, decision("b", second[0].ID, Approve, "bob", approver, ""), escalate.Due, svc)
	if in.Status != StatusCompleted || rec.calls["applyChange"] != 1 {
		t.Fatalf("status %s", in.Status)
	}
}

func TestDefaultCancel(t *testing.T) {
	def, in, _, rec, svc := startDefault(t, withAttachments(changeVars("lastName")))
	mustDeliver(t, in, def, scanned(true), t0, svc)
	eff := mustDeliver(t, in, def, Event{ID: "c", Type: EventCancel, Actor: "rita", Comment: "changed my mind"}, t0.Add(time.Hour), svc)
	if in.Status != StatusTerminated || eff.Outcome == nil || eff.Outcome.Status != StatusTerminated || in.Outcome.Actor != "rita" || in.Outcome.Reason != "changed my mind" {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
	if len(eff.TimersCancelled) != 2 || len(in.OpenTasks()) != 0 || in.Tasks[0].State != TaskCancelled {
		t.Fatalf("cancel effects %+v tasks %+v", eff, in.Tasks)
	}
	_, err := in.Deliver(context.Background(), def, Event{ID: "c2", Type: EventCancel}, t0, svc)
	wantKind(t, err, domain.KindConflict)
	_, err = in.Deliver(context.Background(), def, decision("d", "Approve1", Approve, "alice", approver, ""), t0, svc)
	wantKind(t, err, domain.KindConflict)
	got := mustDeliver(t, in, def, scanned(true), t0, svc) // same id as before: duplicate
	if !got.Duplicate {
		t.Fatal("duplicate not detected")
	}
	got = mustDeliver(t, in, def, Event{ID: "scan-late", Type: EventMessage, Name: "attachmentsScanned"}, t0, svc)
	if got.Ignored == "" {
		t.Fatal("message after termination not ignored")
	}
	if rec.calls["applyChange"] != 0 {
		t.Fatal("applied after cancel")
	}
}

func TestDefaultSurvivesJSONRoundTrip(t *testing.T) {
	def, in, _, rec, svc := startDefault(t, withAttachments(changeVars("lastName")))
	load := func() {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var fresh Instance
		if err := json.Unmarshal(b, &fresh); err != nil {
			t.Fatal(err)
		}
		in = &fresh
	}
	load()
	mustDeliver(t, in, def, scanned(true), t0, svc)
	load()
	mustDeliver(t, in, def, decision("d1", "Approve1", Approve, "alice", approver, ""), t0, svc)
	load()
	_, err := in.Deliver(context.Background(), def, decision("d2", "Approve2", Approve, "alice", approver, ""), t0, svc)
	wantKind(t, err, domain.KindForbidden)
	load()
	if !mustDeliver(t, in, def, decision("d1", "Approve1", Approve, "alice", approver, ""), t0, svc).Duplicate {
		t.Fatal("processed ids lost in JSON")
	}
	mustDeliver(t, in, def, decision("d3", "Approve2", Approve, "bob", approver, ""), t0, svc)
	if in.Status != StatusCompleted || rec.calls["applyChange"] != 1 {
		t.Fatalf("status %s", in.Status)
	}
}

// TestDefaultSendBack walks the send-back loop of the default definition:
// the request goes to the requester (only they may answer), the answer's
// variables replace the change's, the documents are scanned again, and the
// request is approved anew from the first level, four-eyes intact.
func TestDefaultSendBack(t *testing.T) {
	tests := []struct {
		name     string
		approved []string // approvals before the send-back: actor per level
		sender   string   // actor sending back
		backTo   string   // task the answer returns to
	}{
		{"from the first approval", nil, "alice", "Approve1"},
		{"from the second approval", []string{"alice"}, "bob", "Approve1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := withAttachments(changeVars("lastName"))
			vars["requester"] = "rita"
			def, in, _, rec, svc := startDefault(t, vars)
			mustDeliver(t, in, def, scanned(true), t0, svc)
			for i, actor := range tc.approved {
				mustDeliver(t, in, def, decision("a"+actor, in.OpenTasks()[0].ID, Approve, actor, approver, ""), t0.Add(time.Duration(i+1)*time.Minute), svc)
			}
			from := in.OpenTasks()[0]
			eff := mustDeliver(t, in, def, decision("sb", from.ID, SendBack, tc.sender, approver, "page 2 missing"), t0.Add(time.Hour), svc)
			open := in.OpenTasks()
			if len(open) != 1 || open[0].Element != "Revise" || open[0].Assignee != "rita" || open[0].Performer != PerformerRequester {
				t.Fatalf("after send-back open = %+v", open)
			}
			if n := eff.Notifications; len(n) != 1 || n[0].Kind != "sentBack" || n[0].Reason != "page 2 missing" {
				t.Fatalf("send-back notifications = %+v", n)
			}
			if in.Vars["sentBackFrom"] != from.Element {
				t.Fatalf("sentBackFrom = %v, want %s", in.Vars["sentBackFrom"], from.Element)
			}
			// Nobody but the requester answers, and only by resubmitting.
			_, err := in.Deliver(context.Background(), def, decision("x1", open[0].ID, Approve, "carol", approver, ""), t0, svc)
			wantKind(t, err, domain.KindForbidden)
			_, err = in.Deliver(context.Background(), def, decision("x3", open[0].ID, Approve, "rita", approver, ""), t0, svc)
			wantKind(t, err, domain.KindInvalid)
			ans := Event{ID: "x2", Type: EventTaskDecision, TaskID: open[0].ID, Decision: Resubmit, Actor: "carol", Groups: approver, Vars: map[string]any{"attachmentCount": 2}}
			_, err = in.Deliver(context.Background(), def, ans, t0, svc)
			wantKind(t, err, domain.KindForbidden)
			ans.ID, ans.Actor = "ans", "rita"
			mustDeliver(t, in, def, ans, t0.Add(2*time.Hour), svc)
			if in.Vars["attachmentCount"] != float64(2) || len(in.Messages) != 1 || in.Messages[0].Message != "attachmentsScanned" {
				t.Fatalf("answer not waiting for the scan: vars %v messages %+v", in.Vars, in.Messages)
			}
			rescan := scanned(true)
			rescan.ID = "scan-2"
			mustDeliver(t, in, def, rescan, t0.Add(3*time.Hour), svc)
			back := in.OpenTasks()
			if len(back) != 1 || back[0].Element != tc.backTo {
				t.Fatalf("answer went to %+v, want %s", back, tc.backTo)
			}
			// An answer is approved anew from the first level; whoever
			// approved a first level before still cannot give the second.
			if len(tc.approved) > 0 {
				mustDeliver(t, in, def, decision("again1", back[0].ID, Approve, "dave", approver, ""), t0.Add(4*time.Hour), svc)
				second := in.OpenTasks()[0]
				_, err = in.Deliver(context.Background(), def, decision("again2", second.ID, Approve, "alice", approver, ""), t0.Add(4*time.Hour), svc)
				wantKind(t, err, domain.KindForbidden)
			}
			for in.Status == StatusRunning {
				task := in.OpenTasks()[0]
				actor := "dave"
				if task.Element == "Approve2" {
					actor = "erin"
				}
				mustDeliver(t, in, def, decision("fin-"+task.ID, task.ID, Approve, actor, approver, ""), t0.Add(5*time.Hour), svc)
			}
			if in.Status != StatusCompleted || rec.calls["applyChange"] != 1 {
				t.Fatalf("status %s, applyChange calls %d", in.Status, rec.calls["applyChange"])
			}
		})
	}
}

// The first gateway routes description-only changes (no first name, last
// name or marital status among changedFields) straight to ApplyChange,
// every other change to the evidence check.
func TestDefaultRoutesByChangedFields(t *testing.T) {
	def := mustParse(t, defaultDefinition)
	tests := []struct {
		fields []string
		direct bool
	}{
		{[]string{}, true},
		{[]string{"description"}, true},
		{[]string{"description", "lastName"}, false},
		{[]string{"maritalStatus"}, false},
		{[]string{"firstName"}, false},
		{[]string{"firstNameX"}, true},
	}
	for _, tc := range tests {
		_, svc := newRecorder("applyChange", "notify")
		vars := changeVars(tc.fields...)
		vars["changedFields"] = append([]string{}, tc.fields...)
		in, _, err := Start(context.Background(), def, "r", vars, t0, svc)
		if err != nil {
			t.Fatal(err)
		}
		direct := in.Status == StatusCompleted && in.Outcome.End == "EndCompleted"
		noEvidence := in.Status == StatusFailed && in.Outcome.End == "EndNoEvidence"
		if direct != tc.direct || !direct && !noEvidence {
			t.Errorf("fields %v: %s at %s, want direct=%v", tc.fields, in.Status, in.Outcome.End, tc.direct)
		}
	}
}

// The shipped definition is kept in the archive under its version, so a
// request started on it finishes on it after the file is edited (run
// `make workflow-archive` after editing a definition).
func TestDefaultDefinitionArchived(t *testing.T) {
	def := mustParse(t, defaultDefinition)
	reg := NewRegistry()
	if err := reg.LoadArchive(filepath.Join(filepath.Dir(defaultDefinition), "versions")); err != nil {
		t.Fatal(err)
	}
	if reg.Lookup(def.Version) == nil {
		t.Fatalf("%s (version %s) is not in the archive as %s; run make workflow-archive", defaultDefinition, def.Version, ArchiveName(def))
	}
}
