package request_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

// linearDefinition is Start → one serviceTask per type → End.
func linearDefinition(t *testing.T, types ...string) *workflow.Definition {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:pf="http://profileflow.dev/bpmn" id="D" targetNamespace="http://profileflow.dev/test">
  <bpmn:process id="Linear" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:endEvent id="End" />
`)
	prev := "Start"
	for i, typ := range types {
		id := fmt.Sprintf("T%d", i)
		fmt.Fprintf(&b, `    <bpmn:serviceTask id=%q pf:type=%q pf:template="completed" />
    <bpmn:sequenceFlow id="F%d" sourceRef=%q targetRef=%q />
`, id, typ, i, prev, id)
		prev = id
	}
	fmt.Fprintf(&b, `    <bpmn:sequenceFlow id="FEnd" sourceRef=%q targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`, prev)
	def, err := workflow.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// The service tasks do what they name: only a definition with applyChange
// changes the profile, only one with notify sends the completion notice.
func TestServiceTasksDoWhatTheyName(t *testing.T) {
	for _, tc := range []struct {
		tasks   []string
		applied bool
		notices []string
		status  RuntimeStatus
	}{
		{nil, false, nil, Completed},
		{[]string{TaskNotify}, false, []string{"req-a/T0/start"}, Completed},
		{[]string{TaskApplyChange}, true, nil, Completed},
		{[]string{TaskApplyChange, TaskNotify}, true, []string{"req-a/T1/start"}, Completed},
	} {
		t.Run(strings.Join(append([]string{"tasks"}, tc.tasks...), " "), func(t *testing.T) {
			f := newFixture(t)
			f.svc.Definition = linearDefinition(t, tc.tasks...)
			rec, err := f.svc.Open(context.Background(), f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("new text")}), nil, nil)
			if err != nil || rec.RuntimeStatus != tc.status {
				t.Fatalf("Open: %v %s", err, rec.RuntimeStatus)
			}
			p := f.profile(t)
			if changed := p.Description == "new text"; changed != tc.applied || rec.Applied != tc.applied || (p.Version == 2) != tc.applied {
				t.Fatalf("profile %+v, record applied %v; want applied %v", p, rec.Applied, tc.applied)
			}
			var sent []string
			for id := range f.disp.seen {
				sent = append(sent, id)
			}
			if strings.Join(sent, ",") != strings.Join(tc.notices, ",") {
				t.Fatalf("notices sent %v, want %v", sent, tc.notices)
			}
			if len(rec.Outbox) != 0 || rec.Attention || !rec.LocksReleased {
				t.Fatalf("work left: outbox %v attention %v locks released %v", rec.Outbox, rec.Attention, rec.LocksReleased)
			}
		})
	}
}

// The default definition: the notify task sends the completion notice,
// named after the task's execution, and the engine adds none.
func TestDefaultDefinitionNotifiesThroughItsTask(t *testing.T) {
	f := newFixture(t)
	rec, err := f.svc.Open(context.Background(), f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("new text")}), nil, nil)
	if err != nil || !rec.Applied {
		t.Fatalf("Open: %v applied %v", err, rec.Applied)
	}
	if len(f.disp.seen) != 1 || f.disp.seen["req-a/Notify/start"] != 1 {
		t.Fatalf("notices = %v", f.disp.seen)
	}
}

// A change that cannot be applied holds back the notice after it: the
// completion is announced only once the profile carries it.
func TestNoticeWaitsForTheChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc.Profiles = &flakyProfiles{Profiles: f.profiles, fail: 1}
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("later")}), nil, nil)
	if err != nil || rec.Applied || len(rec.Outbox) != 2 || len(f.disp.seen) != 0 {
		t.Fatalf("during outage: %v applied %v outbox %d sent %v", err, rec.Applied, len(rec.Outbox), f.disp.seen)
	}
	f.now = f.now.Add(5 * time.Minute)
	if res, err := f.svc.Sweep(ctx, time.Minute, 10); err != nil || res.Flushed != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	got, _ := f.store.GetRequest(ctx, rec.ID)
	if !got.Applied || len(got.Outbox) != 0 || f.disp.seen["req-a/Notify/start"] != 1 || f.profile(t).Description != "later" {
		t.Fatalf("after sweep: applied %v outbox %v sent %v", got.Applied, got.Outbox, f.disp.seen)
	}
}
