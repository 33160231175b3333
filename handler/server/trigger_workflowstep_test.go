package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/obs"
	"github.com/profileflow/profileflow/handler/request"
)

// smsSpy is the notification SMS sender, recording what it sent.
type smsSpy struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (s *smsSpy) Send(_ context.Context, to, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, to+": "+body)
	return nil
}

// SentSince finds what the spy sent (it ignores the window).
func (s *smsSpy) SentSince(_ context.Context, to, ref string, _, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.sent {
		if strings.HasPrefix(m, to+": ") && strings.Contains(m, ref) {
			return true, nil
		}
	}
	return false, nil
}

// dispatchSpy is the request service's Dispatcher, recording effects and
// the traceparent they were dispatched under.
type dispatchSpy struct {
	mu     sync.Mutex
	seq    int64
	ids    []string
	traces []string
}

func (d *dispatchSpy) Dispatch(ctx context.Context, _ string, e request.Effect) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids = append(d.ids, e.ID)
	d.traces = append(d.traces, obs.Traceparent(ctx))
	if e.Timer != nil {
		d.seq++
		return d.seq, nil
	}
	return 0, nil
}

// sbEnvelope is a Service Bus trigger invocation as the Functions host
// writes it (servicebus-queue-trigger.request.json): the body JSON-quoted in
// Data.msg, strings in Metadata quoted twice, numbers as strings, times
// without an offset, ApplicationProperties a plain object, and the body's
// top-level non-array fields merged into Metadata.
func sbEnvelope(t *testing.T, body string, deliveryCount int, props map[string]any) string {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	md := map[string]any{
		"DeliveryCount": strconv.Itoa(deliveryCount), "LockToken": q("8a2e5a8d-4c2b-4b39-9f0f-6a8f8c1d2e3f"),
		"MessageId": q("req-x/ev"), "ContentType": q("application/json"), "SequenceNumber": "42",
		"EnqueuedTimeUtc": "2026-11-30T12:34:56", "EnqueuedTime": "2026-11-30T12:34:56+00:00",
		"ApplicationProperties": props, "UserProperties": props,
		"MessageReceiver": map[string]any{}, "MessageActions": map[string]any{},
		"sys": map[string]any{"MethodName": "WorkflowStep", "UtcNow": "2026-11-30T12:34:57.1234567Z", "RandGuid": "b7a9e0f1-2c3d-4e5f-8a9b-0c1d2e3f4a5b"},
	}
	var top map[string]any
	if json.Unmarshal([]byte(body), &top) == nil {
		for k, v := range top {
			switch v := v.(type) {
			case string:
				md[k] = q(v)
			case float64:
				md[k] = q(strconv.FormatFloat(v, 'f', -1, 64))
			case map[string]any:
				md[k] = v
			}
		}
	}
	env, err := json.Marshal(map[string]any{"Data": map[string]any{"msg": q(body)}, "Metadata": md})
	if err != nil {
		t.Fatal(err)
	}
	return string(env)
}

func stepBody(t *testing.T, st request.Step) string {
	t.Helper()
	b, err := request.EncodeStep(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stepEnv is a server over the real request service (memory stores) with a
// dispatcher spy, and one request of user-1000 waiting for approval.
type stepEnv struct {
	*testEnv
	disp *dispatchSpy
	rec  request.Record
}

func newStepEnv(t *testing.T) *stepEnv {
	t.Helper()
	e := &stepEnv{testEnv: newEnv(t, nil), disp: &dispatchSpy{}}
	e.requests.Dispatcher = e.disp
	ctx := context.Background()
	prof, _ := e.profiles.GetProfile(ctx, "1000")
	ts := "2026-01-01T00:00:00Z"
	ch, err := request.Validate(request.ChangeInput{FirstName: strPtr("Augusta"), Timestamp: &ts}, prof, prof.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.requests.Open(ctx, domain.Principal{Subject: "user-1000"}, prof, ch, []request.Attachment{{Name: "a.pdf", Blob: "b", ContentType: "application/pdf", Size: 9}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.rec = rec
	return e
}

func strPtr(s string) *string { return &s }

func (e *stepEnv) post(t *testing.T, function, body string, deliveryCount int, props map[string]any) (int, map[string]any) {
	t.Helper()
	rec := postInvocation(e.s, function, sbEnvelope(t, body, deliveryCount, props))
	var reply map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatalf("%s reply %d %q: %v", function, rec.Code, rec.Body, err)
	}
	return rec.Code, reply
}

func (e *stepEnv) status(t *testing.T) request.StatusView {
	t.Helper()
	v, err := e.requests.Status(context.Background(), domain.Principal{Subject: "user-1000"}, e.rec.ID, request.DefaultStatusOptions)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A verdict, then the reminder, each delivered twice as the host delivers
// them: 2xx every time, one outcome each, and the traceparent of the
// message carried on to what the step dispatches.
func TestWorkflowStepTrigger(t *testing.T) {
	e := newStepEnv(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	props := map[string]any{"type": "step", "requestId": e.rec.ID, "traceparent": tp}
	verdict := stepBody(t, request.VerdictStep(e.rec.ID, "a.pdf", request.VerdictClean, "ab", ""))
	for i := range 2 {
		if code, reply := e.post(t, "WorkflowStep", verdict, i+1, props); code != 200 || !strings.Contains(reply["Logs"].([]any)[0].(string), "stage waitingForApproval") {
			t.Fatalf("verdict #%d: %d %v", i+1, code, reply)
		}
	}
	v := e.status(t)
	if v.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("stage %s", v.CustomStatus.Stage)
	}
	if len(e.disp.traces) == 0 || e.disp.traces[0] != tp {
		t.Fatalf("dispatched under traceparents %q", e.disp.traces)
	}
	stored, _ := e.reqStore.GetRequest(context.Background(), e.rec.ID)
	var remind request.Step
	for _, tm := range stored.Workflow.Timers {
		if tm.Element == "Remind1" {
			remind = request.TimerStep(e.rec.ID, tm)
			// The timer fell due (the due time moves, the event does not).
			e.requests.Now = func() time.Time { return tm.Due }
		}
	}
	for i := range 2 {
		if code, reply := e.post(t, "WorkflowStep", stepBody(t, remind), i+1, props); code != 200 {
			t.Fatalf("reminder #%d: %d %v", i+1, code, reply)
		}
	}
	n := 0
	for _, h := range e.status(t).History {
		if h.Type == "TaskReminder" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d reminders in the history, want 1", n)
	}
}

// What no delivery can fix is logged and answered 2xx (completed); a
// transient failure answers non-2xx (redelivered).
func TestWorkflowStepTriggerOutcomes(t *testing.T) {
	e := newStepEnv(t)
	var logs bytes.Buffer
	for _, tc := range []struct {
		name, body string
		code       int
		log        string
	}{
		{"unknown request", stepBody(t, request.VerdictStep("req-nobody", "a.pdf", request.VerdictClean, "", "")), 200, "not_found"},
		{"not a step", `{"hello":"world"}`, 200, "invalid"},
		{"not JSON", `hello`, 200, "invalid"},
		{"event the request does not wait for", stepBody(t, request.Step{RequestID: e.rec.ID, Event: request.StepEvent{ID: "m", Type: "message", Name: "somethingElse"}}), 200, "conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			s, _ := newTestServerWith(t, &logs, e.deps)
			rec := postInvocation(s, "WorkflowStep", sbEnvelope(t, tc.body, 1, nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), "permanent failure: "+tc.log) {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			if !strings.Contains(logs.String(), `"kind":"`+tc.log+`"`) {
				t.Fatalf("not logged: %s", logs.String())
			}
		})
	}
	t.Run("transient", func(t *testing.T) {
		d := e.deps
		d.Requests = &stepSpy{err: domain.E(domain.KindTransient, "cosmos unavailable")}
		s, _ := newTestServerWith(t, nil, d)
		rec := postInvocation(s, "WorkflowStep", sbEnvelope(t, stepBody(t, request.VerdictStep(e.rec.ID, "a.pdf", request.VerdictClean, "", "")), 3, nil))
		if rec.Code != 503 {
			t.Fatalf("answer %d %s", rec.Code, rec.Body)
		}
	})
}

// A dead-lettered step fails the request with the reason in its status;
// Service Bus' own description gives the attempts.
func TestWorkflowDeadLetterTrigger(t *testing.T) {
	e := newStepEnv(t)
	props := map[string]any{"DeadLetterReason": "MaxDeliveryCountExceeded", "DeadLetterErrorDescription": "Message could not be consumed after 10 delivery attempts."}
	verdict := stepBody(t, request.VerdictStep(e.rec.ID, "a.pdf", request.VerdictClean, "ab", ""))
	for range 2 {
		if code, reply := e.post(t, "WorkflowDeadLetter", verdict, 11, props); code != 200 {
			t.Fatalf("dead letter: %d %v", code, reply)
		}
	}
	v := e.status(t)
	const reason = "step could not be processed after 10 deliveries: MaxDeliveryCountExceeded"
	if v.RuntimeStatus != request.Failed || v.Output["reason"] != reason {
		t.Fatalf("status %s output %v", v.RuntimeStatus, v.Output)
	}
	failed := 0
	for _, h := range v.History {
		if h.Type == "RequestFailed" {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d RequestFailed entries", failed)
	}
	if code, _ := e.post(t, "WorkflowDeadLetter", `garbage`, 11, props); code != 200 {
		t.Fatalf("garbage in the dead-letter queue: %d", code)
	}
}

func TestNotifyTrigger(t *testing.T) {
	e := newStepEnv(t)
	n := request.Notice{ID: e.rec.ID + "/taskAssigned/T-1", RequestID: e.rec.ID, ProfileID: "1000", Owner: "user-1000", Kind: "taskAssigned", Task: "T-1", Groups: []string{"ProfileApprover"}}
	body, err := request.EncodeNotice(n)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code, reply := e.post(t, "Notify", string(body), 1, nil); code != 200 {
			t.Fatalf("notify: %d %v", code, reply)
		}
	}
	if len(e.sms.sent) != 1 || !strings.HasPrefix(e.sms.sent[0], "+15550100001: ") {
		t.Fatalf("sent %q", e.sms.sent)
	}
	e.sms.err = domain.E(domain.KindTransient, "twilio down")
	n.ID += "-2"
	body, _ = request.EncodeNotice(n)
	if code, _ := e.post(t, "Notify", string(body), 1, nil); code != 503 {
		t.Fatalf("provider down: %d", code)
	}
	if code, _ := e.post(t, "Notify", `{"v":1}`, 1, nil); code != 200 {
		t.Fatalf("not a notice: %d", code)
	}
}

// The Service Bus functions bind their message as "msg", the name the
// triggers read.
func TestServiceBusFunctionsBindMsg(t *testing.T) {
	for _, fn := range []string{"WorkflowStep", "WorkflowDeadLetter", "Notify"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "function.json"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Bindings []struct{ Name, Type, Direction string }
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Bindings) != 1 || f.Bindings[0].Type != "serviceBusTrigger" || f.Bindings[0].Name != stepBinding {
			t.Errorf("%s: bindings %+v", fn, f.Bindings)
		}
	}
}

// stepSpy is a RequestService whose steps fail with err.
type stepSpy struct {
	RequestService
	err error
}

func (s *stepSpy) Step(context.Context, request.Step) (request.Record, error) {
	return request.Record{}, s.err
}

// newTestServerWith is a server over d logging JSON to logs (nil: nowhere).
func newTestServerWith(t *testing.T, logs io.Writer, d Deps) (*Server, Deps) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	d.Log = slog.New(slog.NewJSONHandler(logs, nil))
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}
