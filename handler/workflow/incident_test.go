package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// An incident ends a running instance Failed with its reason: open tasks
// are cancelled, pending timers cancelled, a "failed" notice goes out, and
// nothing is applied. Repeating it is a duplicate; an incident for an
// ended instance is a conflict.
func TestIncidentFailsARunningInstance(t *testing.T) {
	def, in, _, rec, svc := startDefault(t, withAttachments(changeVars("lastName")))
	mustDeliver(t, in, def, scanned(true), t0, svc)
	const reason = "step could not be processed after 10 deliveries: MaxDeliveryCountExceeded"
	ev := Event{ID: "deadletter:m1", Type: EventIncident, Comment: reason}
	eff := mustDeliver(t, in, def, ev, t0.Add(time.Hour), svc)
	if in.Status != StatusFailed || in.Outcome.Reason != reason || eff.Outcome == nil || eff.Outcome.Status != StatusFailed {
		t.Fatalf("status %s outcome %+v", in.Status, in.Outcome)
	}
	if len(eff.TimersCancelled) != 2 || len(in.Timers) != 0 || len(in.OpenTasks()) != 0 || in.Tasks[0].State != TaskCancelled {
		t.Fatalf("effects %+v timers %+v tasks %+v", eff, in.Timers, in.Tasks)
	}
	if len(eff.Notifications) != 1 || eff.Notifications[0].Kind != "failed" || eff.Notifications[0].Reason != reason {
		t.Fatalf("notifications %+v", eff.Notifications)
	}
	if rec.calls["applyChange"] != 0 {
		t.Fatal("an incident applied the change")
	}
	if again := mustDeliver(t, in, def, ev, t0.Add(2*time.Hour), svc); !again.Duplicate {
		t.Fatalf("repeated incident: %+v", again)
	}
	_, err := in.Deliver(context.Background(), def, Event{ID: "deadletter:m2", Type: EventIncident, Comment: "x"}, t0, svc)
	wantKind(t, err, domain.KindConflict)
}

// ScaleTimers shortens every boundary timer by the factor (calendar days
// count as 24 h) and names the original in the duration's text; factors
// outside (0, 1] are refused and leave the definition unchanged.
func TestScaleTimers(t *testing.T) {
	def := mustParse(t, defaultDefinition)
	for _, bad := range []float64{0, -1, 1.5} {
		if err := def.ScaleTimers(bad); err == nil {
			t.Errorf("factor %v accepted", bad)
		}
	}
	if d := def.Elements["Remind1"].Duration; d.Clock != 24*time.Hour || d.Text != "PT24H" {
		t.Fatalf("refused factor changed the definition: %+v", d)
	}
	if err := def.ScaleTimers(0.0001); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]time.Duration{"Remind1": 8640 * time.Millisecond, "Escalate1": 25920 * time.Millisecond, "Remind2": 8640 * time.Millisecond} {
		d := def.Elements[id].Duration
		if d.AddTo(t0).Sub(t0) != want {
			t.Errorf("%s: %+v, want %v", id, d, want)
		}
	}
	if got := def.Elements["Remind1"].Duration.Text; got != "PT24H×0.0001" {
		t.Errorf("text %q", got)
	}
	// A started instance schedules its timers with the scaled durations.
	in, _, err := Start(context.Background(), def, "req-1", withAttachments(changeVars("lastName")), t0, ServiceHandlers{"applyChange": func(*ServiceContext) error { return nil }, "notify": func(*ServiceContext) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	eff := mustDeliver(t, in, def, scanned(true), t0, ServiceHandlers{})
	for _, tm := range eff.TimersScheduled {
		if tm.Due.Sub(t0) > 30*time.Second {
			t.Errorf("timer %s due %v after start", tm.ID, tm.Due.Sub(t0))
		}
	}
	p := mustParse(t, defaultDefinition)
	if err := p.ScaleTimers(1); err != nil || p.Elements["Escalate1"].Duration.AddTo(t0).Sub(t0) != 72*time.Hour {
		t.Errorf("factor 1: %v %+v", err, p.Elements["Escalate1"].Duration)
	}
}
