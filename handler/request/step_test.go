package request_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

func TestParseStep(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        string // "" = valid
	}{
		{"timer", `{"v":1,"requestId":"req-a","event":{"id":"timer:x","type":"timerFired","timerId":"x"}}`, ""},
		{"verdict", `{"v":1,"requestId":"req-a","event":{"id":"verdict:a.pdf","type":"verdict","attachment":"a.pdf","verdict":"clean","sha256":"ab"}}`, ""},
		{"message", `{"v":1,"requestId":"req-a","event":{"id":"m","type":"message","name":"attachmentsScanned","vars":{"allClean":true}}}`, ""},
		{"decision", `{"v":1,"requestId":"req-a","event":{"id":"d","type":"taskDecision","taskId":"Approve1-3","decision":"approve","actor":"alice","groups":["ProfileApprover"]}}`, ""},
		{"cancel", `{"v":1,"requestId":"req-a","event":{"id":"c","type":"cancel","actor":"user-1000"}}`, ""},
		{"version", `{"v":2,"requestId":"req-a","event":{"id":"c","type":"cancel"}}`, "version 2"},
		{"no version", `{"requestId":"req-a","event":{"id":"c","type":"cancel"}}`, "version 0"},
		{"unknown field", `{"v":1,"requestId":"req-a","messageId":"x","event":{"id":"c","type":"cancel"}}`, "unknown field"},
		{"trailing", `{"v":1,"requestId":"req-a","event":{"id":"c","type":"cancel"}} {}`, "after the JSON object"},
		{"array", `[1]`, "not the expected JSON object"},
		{"not json", `hello`, "not the expected JSON object"},
		{"empty", ``, "not the expected JSON object"},
		{"request id with slash", `{"v":1,"requestId":"req/a","event":{"id":"c","type":"cancel"}}`, "requestId"},
		{"no request id", `{"v":1,"event":{"id":"c","type":"cancel"}}`, "requestId"},
		{"no event id", `{"v":1,"requestId":"req-a","event":{"type":"cancel"}}`, "event.id"},
		{"unknown type", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"incident","comment":"x"}}`, "unknown event type"},
		{"timer without id", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"timerFired"}}`, "timerId"},
		{"message without name", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"message"}}`, "name"},
		{"decision without actor", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"taskDecision","taskId":"t","decision":"approve"}}`, "actor"},
		{"bad verdict", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"verdict","attachment":"a","verdict":"fine"}}`, "verdict must be"},
		{"verdict without attachment", `{"v":1,"requestId":"req-a","event":{"id":"x","type":"verdict","verdict":"clean"}}`, "attachment"},
		{"too large", `{"v":1,"requestId":"req-a","event":{"id":"c","type":"cancel","comment":"` + strings.Repeat("x", MaxMessageBytes) + `"}}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStep([]byte(tc.body))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				again, err := EncodeStep(st)
				if err != nil {
					t.Fatal(err)
				}
				if back, err := ParseStep(again); err != nil || !reflect.DeepEqual(back, st) {
					t.Fatalf("round trip: %+v %v, want %+v", back, err, st)
				}
				return
			}
			if !domain.Is(err, domain.KindInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want KindInvalid with %q", err, tc.err)
			}
		})
	}
	if _, err := EncodeStep(Step{RequestID: "req-a", Event: StepEvent{ID: "x", Type: "nonsense"}}); !domain.Is(err, domain.KindInvalid) {
		t.Fatalf("encoding an invalid step: %v", err)
	}
}

// Every body ParseStep accepts encodes back to a body it parses to the
// same Step; nothing panics.
func FuzzParseStep(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"requestId":"req-a","event":{"id":"timer:x","type":"timerFired","timerId":"x"}}`,
		`{"v":1,"requestId":"req-a","event":{"id":"verdict:a.pdf","type":"verdict","attachment":"a.pdf","verdict":"infected","detail":"Eicar"}}`,
		`{"v":1,"requestId":"req-a","event":{"id":"m","type":"message","name":"n","vars":{"a":[1,{"b":null}]}}}`,
		`{"v":1,"requestId":"r","event":{"id":"c","type":"cancel"}}x`, `{}`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseStep(body)
		if err != nil {
			if !domain.Is(err, domain.KindInvalid) {
				t.Fatalf("error of kind %s: %v", domain.KindOf(err), err)
			}
			return
		}
		again, err := EncodeStep(st)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", body, err)
		}
		back, err := ParseStep(again)
		if err != nil || !reflect.DeepEqual(normalize(t, back), normalize(t, st)) {
			t.Fatalf("round trip of %q: %+v %v", body, back, err)
		}
	})
}

func normalize(t *testing.T, st Step) string {
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseNotice(t *testing.T) {
	n := Notice{ID: "req-a/taskAssigned/Approve1-3", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "taskAssigned", Task: "Approve1-3", Groups: []string{"ProfileApprover"}}
	body, err := EncodeNotice(n)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseNotice(body); err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, tc := range []struct{ body, err string }{
		{`{"v":1,"notice":{"id":"x","requestId":"req-a"}}`, "kind"},
		{`{"v":1,"notice":{"requestId":"req-a","kind":"k"}}`, "id must be"},
		{`{"v":1,"notice":{"id":"x","requestId":"a/b","kind":"k"}}`, "requestId"},
		{`{"v":3,"notice":{"id":"x","requestId":"req-a","kind":"k"}}`, "version"},
		{`{"v":1,"notice":{"id":"x","requestId":"req-a","kind":"k","phone":"+1555"}}`, "unknown field"},
	} {
		if _, err := ParseNotice([]byte(tc.body)); !domain.Is(err, domain.KindInvalid) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.err)
		}
	}
}

func FuzzParseNotice(f *testing.F) {
	f.Add([]byte(`{"v":1,"notice":{"id":"x","requestId":"req-a","kind":"completed"}}`))
	f.Add([]byte(`{"v":1,"notice":{"id":"x","requestId":"req-a","kind":"k","groups":["a","b"]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseNotice(body)
		if err != nil {
			if !domain.Is(err, domain.KindInvalid) {
				t.Fatalf("error of kind %s: %v", domain.KindOf(err), err)
			}
			return
		}
		again, err := EncodeNotice(n)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseNotice(again); err != nil || back.ID != n.ID || back.Kind != n.Kind || back.RequestID != n.RequestID {
			t.Fatalf("round trip of %q: %+v %v", body, back, err)
		}
	})
}

// waitingForApproval opens a change of field with one document, scanned
// clean: the request waits for the first approval, its two timers scheduled.
func waitingForApproval(t *testing.T, f *fixture, in ChangeInput) Record {
	t.Helper()
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, in), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err = f.svc.Step(ctx, VerdictStep(rec.ID, "marriage.pdf", VerdictClean, "abc", ""))
	if err != nil {
		t.Fatal(err)
	}
	if rec.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("after the verdict step: %+v", rec.CustomStatus)
	}
	return rec
}

func timerOf(t *testing.T, rec Record, element string) workflow.Timer {
	t.Helper()
	for _, tm := range rec.Workflow.Timers {
		if tm.Element == element {
			return tm
		}
	}
	t.Fatalf("no pending %s timer in %+v", element, rec.Workflow.Timers)
	return workflow.Timer{}
}

func historyTypes(rec Record) []string {
	var out []string
	for _, h := range rec.History {
		out = append(out, h.Type)
	}
	return out
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// A task's timers are scheduled when it opens (their sequence numbers
// kept), and withdrawn by number when it is decided.
func TestTimersScheduledThenWithdrawn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := waitingForApproval(t, f, ChangeInput{FirstName: str("Augusta")})
	if len(rec.Outbox) != 0 || len(rec.Scheduled) != 2 {
		t.Fatalf("after the task opened: outbox %+v scheduled %v", rec.Outbox, rec.Scheduled)
	}
	remind, escalate := timerOf(t, rec, "Remind1"), timerOf(t, rec, "Escalate1")
	if f.disp.seen["timer-"+remind.ID] != 1 || f.disp.seen["timer-"+escalate.ID] != 1 {
		t.Fatalf("timers dispatched %v", f.disp.seen)
	}
	seqs := []int64{rec.Scheduled[remind.ID], rec.Scheduled[escalate.ID]}
	task := rec.Workflow.OpenTasks()[0].ID
	rec, err := f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: "d1", Type: workflow.EventTaskDecision, TaskID: task, Decision: workflow.Approve, Actor: "alice", Groups: []string{"ProfileApprover"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Completed || len(rec.Outbox) != 0 || rec.Scheduled != nil {
		t.Fatalf("after the decision: %s outbox %+v scheduled %v", rec.RuntimeStatus, rec.Outbox, rec.Scheduled)
	}
	if len(f.disp.cancelled) != 2 || !(f.disp.cancelled[0] == seqs[0] && f.disp.cancelled[1] == seqs[1] || f.disp.cancelled[0] == seqs[1] && f.disp.cancelled[1] == seqs[0]) {
		t.Fatalf("withdrawn %v, want %v", f.disp.cancelled, seqs)
	}
}

// A timer the Dispatcher never scheduled (it was down) is dropped from the
// outbox when the workflow stops waiting for it: nothing to withdraw.
func TestUnscheduledTimerIsDroppedNotWithdrawn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.disp.fail = true
	rec, err = f.svc.Step(ctx, VerdictStep(rec.ID, "marriage.pdf", VerdictClean, "abc", ""))
	if !domain.Is(err, domain.KindTransient) || len(rec.Outbox) != 3 { // two timers, the taskAssigned notice
		t.Fatalf("step while the queue is down: %v outbox %+v", err, rec.Outbox)
	}
	rec, err = f.svc.Cancel(ctx, f.owner, rec.ID, "")
	if err != nil || rec.RuntimeStatus != Terminated {
		t.Fatalf("cancel: %v %s", err, rec.RuntimeStatus)
	}
	stored, _ := f.store.GetRequest(ctx, rec.ID)
	for _, e := range stored.Outbox {
		if e.Timer != nil || e.Cancel != nil {
			t.Fatalf("timer effect left after cancel: %+v", stored.Outbox)
		}
	}
	f.disp.fail = false
	if _, err := f.svc.Flush(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.disp.cancelled) != 0 {
		t.Fatalf("withdrew %v, never scheduled", f.disp.cancelled)
	}
}

// Reminder then escalation, each through a Step at its due time: each shows
// once in the history and sends its notice once, however often the
// message is delivered.
func TestTimerStepsRemindAndEscalate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := waitingForApproval(t, f, ChangeInput{FirstName: str("Augusta")})
	remind, escalate := timerOf(t, rec, "Remind1"), timerOf(t, rec, "Escalate1")
	f.now = remind.Due
	for range 2 {
		var err error
		if rec, err = f.svc.Step(ctx, TimerStep(rec.ID, remind)); err != nil {
			t.Fatal(err)
		}
	}
	if h := historyTypes(rec); count(h, "TaskReminder") != 1 || rec.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("after the reminder: %v %s", h, rec.CustomStatus.Stage)
	}
	if f.disp.seen[rec.ID+"/reminder/"+rec.Workflow.Tasks[0].ID+"/Remind1"] != 1 {
		t.Fatalf("reminder notice dispatched %v", f.disp.seen)
	}
	f.now = escalate.Due
	for range 2 {
		var err error
		if rec, err = f.svc.Step(ctx, TimerStep(rec.ID, escalate)); err != nil {
			t.Fatal(err)
		}
	}
	h := historyTypes(rec)
	if count(h, "TaskEscalated") != 1 || count(h, "TaskReminder") != 1 || rec.CustomStatus.OpenTasks[0].CandidateGroups[0] != "ProfileSupervisor" {
		t.Fatalf("after the escalation: %v %+v", h, rec.CustomStatus)
	}
	if rec.Scheduled != nil || len(rec.Outbox) != 0 {
		t.Fatalf("scheduled %v outbox %+v", rec.Scheduled, rec.Outbox)
	}
}

// A timer that fires after its task was decided changes nothing: the
// request moved on to the next task, or ended.
func TestTimerAfterDecisionChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	decide := func(rec Record, id, actor string) Record {
		t.Helper()
		got, err := f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: id, Type: workflow.EventTaskDecision, TaskID: rec.Workflow.OpenTasks()[0].ID, Decision: workflow.Approve, Actor: actor, Groups: []string{"ProfileApprover"}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Running: the second approval waits; the first task's reminder fires late.
	rec := waitingForApproval(t, f, ChangeInput{LastName: str("Byron")})
	remind := timerOf(t, rec, "Remind1")
	rec = decide(rec, "d1", "alice")
	before := canon(t, rec)
	f.now = remind.Due.Add(time.Hour)
	got, err := f.svc.Step(ctx, TimerStep(rec.ID, remind))
	stored, _ := f.store.GetRequest(ctx, rec.ID)
	if err != nil || canon(t, got) != before || canon(t, stored) != before {
		t.Fatalf("late timer changed a running request: %v\n%s\n%s", err, before, canon(t, stored))
	}
	// Ended: the timer's event is refused as permanent and nothing changes.
	remind2 := timerOf(t, rec, "Remind2")
	rec = decide(rec, "d2", "bob")
	if rec.RuntimeStatus != Completed {
		t.Fatalf("status %s", rec.RuntimeStatus)
	}
	before = canon(t, rec)
	f.now = remind2.Due
	_, err = f.svc.Step(ctx, TimerStep(rec.ID, remind2))
	stored, _ = f.store.GetRequest(ctx, rec.ID)
	if !domain.Is(err, domain.KindConflict) || canon(t, stored) != before {
		t.Fatalf("timer of an ended request: %v", err)
	}
}

// A save that loses the ETag race is re-read and retried; the event
// applies once. A race lost every time is transient.
func TestStepRetriesAStaleSave(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	docs := memory.NewDocs()
	f.store = stores.NewRequests(docs, stores.WithClock(func() time.Time { return f.now }))
	f.svc.Requests, f.svc.Locks = f.store, f.store
	rec := waitingForApproval(t, f, ChangeInput{FirstName: str("Augusta")})
	remind := timerOf(t, rec, "Remind1")
	f.now = remind.Due
	stale := 1
	docs.FailWith(func(op, id string) error {
		if op == "replace" && id == rec.ID && stale > 0 {
			stale--
			return domain.E(domain.KindStale, "etag mismatch")
		}
		return nil
	})
	rec, err := f.svc.Step(ctx, TimerStep(rec.ID, remind))
	if err != nil || stale != 0 || count(historyTypes(rec), "TaskReminder") != 1 {
		t.Fatalf("after one lost race: %v stale %d %v", err, stale, historyTypes(rec))
	}
	docs.FailWith(func(op, id string) error {
		if op == "replace" && id == rec.ID {
			return domain.E(domain.KindStale, "etag mismatch")
		}
		return nil
	})
	escalate := timerOf(t, rec, "Escalate1")
	f.now = escalate.Due
	if _, err := f.svc.Step(ctx, TimerStep(rec.ID, escalate)); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("race lost every time: %v, want KindTransient", err)
	}
	docs.FailWith(nil)
	stored, _ := f.store.GetRequest(ctx, rec.ID)
	if count(historyTypes(stored), "TaskEscalated") != 0 {
		t.Fatal("escalation saved although every save failed")
	}
}

func TestStepUnknownRequest(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.Step(context.Background(), TimerStep("req-nobody", workflow.Timer{ID: "req-nobody/t/Remind1"}))
	if !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("err = %v, want KindNotFound", err)
	}
}

// A step whose save succeeded but whose effects could not be sent answers
// transient (the message comes again); the redelivery sends them without
// repeating the step. This is also what a crash after the save leaves.
func TestStepUndeliveredEffectsAreTransientThenFinished(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := waitingForApproval(t, f, ChangeInput{FirstName: str("Augusta")})
	remind := timerOf(t, rec, "Remind1")
	f.now = remind.Due
	f.disp.fail = true
	got, err := f.svc.Step(ctx, TimerStep(rec.ID, remind))
	if !domain.Is(err, domain.KindTransient) || len(got.Outbox) != 1 {
		t.Fatalf("step with the queue down: %v outbox %+v", err, got.Outbox)
	}
	f.disp.fail = false
	got, err = f.svc.Step(ctx, TimerStep(rec.ID, remind))
	if err != nil || len(got.Outbox) != 0 || count(historyTypes(got), "TaskReminder") != 1 {
		t.Fatalf("redelivery: %v outbox %+v history %v", err, got.Outbox, historyTypes(got))
	}
	if f.disp.seen[rec.ID+"/reminder/"+rec.Workflow.Tasks[0].ID+"/Remind1"] != 1 {
		t.Fatalf("reminder notice dispatched %v", f.disp.seen)
	}
}

// A dead-lettered step fails a request still waiting for it, with the
// reason in its status; anything the request no longer waits for is left
// alone, and a repeat changes nothing.
func TestStepDeadLettered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := waitingForApproval(t, f, ChangeInput{FirstName: str("Augusta")})
	task := rec.Workflow.OpenTasks()[0].ID
	decision := Step{V: 1, RequestID: rec.ID, Event: StepEvent{ID: "d9", Type: "taskDecision", TaskID: task, Decision: "approve", Actor: "alice", Groups: []string{"ProfileApprover"}}}
	// Settled events first: a stale timer and a processed event.
	stale := TimerStep(rec.ID, workflow.Timer{ID: rec.ID + "/gone/Remind1"})
	processed := VerdictStep(rec.ID, "marriage.pdf", VerdictClean, "abc", "")
	before := canon(t, rec)
	for _, st := range []Step{stale, processed} {
		got, err := f.svc.StepDeadLettered(ctx, st, 10, "MaxDeliveryCountExceeded")
		if err != nil || canon(t, got) != before {
			t.Fatalf("dead-lettered %s changed the request: %v", st.Event.ID, err)
		}
	}
	got, err := f.svc.StepDeadLettered(ctx, decision, 10, "MaxDeliveryCountExceeded")
	if err != nil {
		t.Fatal(err)
	}
	const reason = "step could not be processed after 10 deliveries: MaxDeliveryCountExceeded"
	v := got.View()
	if v.RuntimeStatus != Failed || v.Output["reason"] != reason || v.CustomStatus.Stage != "failed" || v.History[len(v.History)-1].Detail != reason {
		t.Fatalf("status %s output %v history %+v", v.RuntimeStatus, v.Output, v.History)
	}
	if f.profile(t).FirstName != "Ada" || !got.LocksReleased || got.Scheduled != nil || len(f.disp.cancelled) != 2 {
		t.Fatalf("profile %s locks released %v scheduled %v withdrawn %v", f.profile(t).FirstName, got.LocksReleased, got.Scheduled, f.disp.cancelled)
	}
	again, err := f.svc.StepDeadLettered(ctx, decision, 10, "MaxDeliveryCountExceeded")
	if err != nil || canon(t, again) != canon(t, got) {
		t.Fatalf("repeat changed it: %v", err)
	}
	if _, err := f.svc.StepDeadLettered(ctx, TimerStep("req-nobody", workflow.Timer{ID: "x"}), 10, "x"); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("unknown request: %v", err)
	}
	// A request never started (left for the sweeper) is failed as a record.
	pending := Record{ID: "req-pending", Type: "request", Name: "ProfileUpdate", ProfileID: "1000", Owner: "user-1000",
		Input: f.change(t, ChangeInput{FirstName: str("Bea")}), RuntimeStatus: Pending, Attention: true,
		Attachments: []Attachment{{Name: "a.pdf", Blob: "b", Verdict: VerdictPending}}, CreatedTime: f.now, LastUpdatedTime: f.now}
	if _, err := f.store.CreateRequest(ctx, pending); err != nil {
		t.Fatal(err)
	}
	got, err = f.svc.StepDeadLettered(ctx, VerdictStep(pending.ID, "a.pdf", VerdictClean, "s", ""), 10, "MaxDeliveryCountExceeded")
	if err != nil || got.RuntimeStatus != Failed || got.Output["reason"] != reason {
		t.Fatalf("pending request: %v %s %v", err, got.RuntimeStatus, got.Output)
	}
}

// Timers and notices a step could not dispatch are finished by the
// sweeper: the timers get scheduled (their numbers kept), the notice sent.
func TestSweepDispatchesTimersLeftBehind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.disp.fail = true
	if _, err := f.svc.Step(ctx, VerdictStep(rec.ID, "marriage.pdf", VerdictClean, "abc", "")); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("step with the queue down: %v", err)
	}
	stored, _ := f.store.GetRequest(ctx, rec.ID)
	if len(stored.Outbox) != 3 || !stored.Attention || stored.Scheduled != nil {
		t.Fatalf("left behind: outbox %+v attention %v scheduled %v", stored.Outbox, stored.Attention, stored.Scheduled)
	}
	f.disp.fail = false
	f.now = f.now.Add(5 * time.Minute)
	if res, err := f.svc.Sweep(ctx, time.Minute, 10); err != nil || res.Flushed != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	stored, _ = f.store.GetRequest(ctx, rec.ID)
	if len(stored.Outbox) != 0 || stored.Attention || len(stored.Scheduled) != 2 {
		t.Fatalf("after the sweep: outbox %+v attention %v scheduled %v", stored.Outbox, stored.Attention, stored.Scheduled)
	}
	for _, tm := range stored.Workflow.Timers {
		if stored.Scheduled[tm.ID] == 0 || f.disp.seen["timer-"+tm.ID] != 1 {
			t.Fatalf("timer %s: sequence %d, dispatched %d times", tm.ID, stored.Scheduled[tm.ID], f.disp.seen["timer-"+tm.ID])
		}
	}
}
