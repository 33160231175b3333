package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/servicebus"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// The end-to-end tests of the asynchronous half: steps go through the
// local Service Bus peer, the development host's Service Bus trigger, the
// handler and the Cosmos DB stand-in. Each uses a profile of its own
// (newProfile), so field locks and SMS limits of other tests do not meet.

// bus posts Steps through the production adapter and peeks with azservicebus.
type bus struct {
	post *servicebus.Client
	az   *azservicebus.Client
}

func newBus(t *testing.T, s *local.System) *bus {
	t.Helper()
	conn := s.ServiceBus.ConnectionString()
	post, err := servicebus.New(servicebus.Config{ConnectionString: conn})
	if err != nil {
		t.Fatal(err)
	}
	az, err := azservicebus.NewClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		post.Close(context.Background())
		az.Close(context.Background())
	})
	return &bus{post: post, az: az}
}

func (b *bus) send(t *testing.T, st request.Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.post.Post(ctx, st); err != nil {
		t.Fatal(err)
	}
}

// sendAs sends st with a MessageId of the caller's choosing, so a second
// copy passes the queue's duplicate detection.
func (b *bus) sendAs(t *testing.T, st request.Step, messageID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := b.az.NewSender(servicebus.WorkflowQueue, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	body, err := request.EncodeStep(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: body, MessageID: &messageID, CorrelationID: &st.RequestID}, nil); err != nil {
		t.Fatal(err)
	}
}

// peek returns the messages of the workflow queue (or its dead-letter
// queue) for one request, in any state.
func (b *bus) peek(t *testing.T, requestID string, sub azservicebus.SubQueue) []*azservicebus.ReceivedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := b.az.NewReceiverForQueue(servicebus.WorkflowQueue, &azservicebus.ReceiverOptions{SubQueue: sub})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	var out []*azservicebus.ReceivedMessage
	var from int64
	for {
		ms, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.CorrelationID != nil && *m.CorrelationID == requestID {
				out = append(out, m)
			}
			from = *m.SequenceNumber + 1
		}
		if len(ms) < 100 {
			return out
		}
	}
}

func (b *bus) scheduled(t *testing.T, requestID string) int {
	n := 0
	for _, m := range b.peek(t, requestID, 0) {
		if m.State == azservicebus.MessageStateScheduled {
			n++
		}
	}
	return n
}

// flow is one user's request on system s.
type flow struct {
	s     *local.System
	b     *bus
	id    string // profile id
	tok   string
	rid   string
	phone string
}

func (f *flow) call(t *testing.T, method, path string, body any) (*http.Response, map[string]any) {
	t.Helper()
	return callOn(t, f.s.URL, method, path, f.tok, body, nil)
}

func (f *flow) status(t *testing.T) map[string]any {
	t.Helper()
	resp, st := f.call(t, "GET", "/api/v1/requests/"+f.rid, nil)
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		t.Fatalf("status: %d %v", resp.StatusCode, st)
	}
	return st
}

// waitStatus polls the request's status until cond holds (up to 90 s).
func (f *flow) waitStatus(t *testing.T, what string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := f.status(t)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; status %v", what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stage(st map[string]any) string {
	cs, _ := st["customStatus"].(map[string]any)
	s, _ := cs["stage"].(string)
	return s
}

func openTask(t *testing.T, st map[string]any) (id string, groups []any) {
	t.Helper()
	cs, _ := st["customStatus"].(map[string]any)
	tasks, _ := cs["openTasks"].([]any)
	if len(tasks) != 1 {
		t.Fatalf("open tasks %v", cs["openTasks"])
	}
	task := tasks[0].(map[string]any)
	return task["id"].(string), task["candidateGroups"].([]any)
}

// openApproval takes a first-name change of profile id (owned by owner,
// phone phone) with one evidence PDF through the API of system s: SMS PIN,
// upload through the SAS plan, PATCH, the blob-triggered scan; the request
// then waits for its first approval, with its reminder and escalation
// scheduled.
func openApproval(t *testing.T, s *local.System, b *bus, id, owner, phone string) *flow {
	t.Helper()
	return openChange(t, s, b, id, owner, phone, `"firstName":"Augusta"`)
}

// mfaToken runs the SMS PIN exchange for f's profile and returns the MFA token.
func (f *flow) mfaToken(t *testing.T) string {
	t.Helper()
	resp, ch := f.call(t, "POST", "/api/v1/mfa/challenge", map[string]string{"profileId": f.id})
	if resp.StatusCode != 202 {
		t.Fatalf("challenge: %d %v", resp.StatusCode, ch)
	}
	msgs := f.s.Outbox.List(f.phone)
	if len(msgs) == 0 {
		t.Fatal("no PIN sent")
	}
	resp, v := f.call(t, "POST", "/api/v1/mfa/verify", map[string]string{"challengeId": ch["challengeId"].(string), "code": faketwilio.PIN(msgs[len(msgs)-1].Body)})
	if resp.StatusCode != 200 {
		t.Fatalf("verify: %d %v", resp.StatusCode, v)
	}
	return v["mfaToken"].(string)
}

// upload uploads one PDF (pdfDoc(marker)) named name through the SAS plan
// and returns the upload id.
func (f *flow) upload(t *testing.T, name, marker string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pdf := pdfDoc(marker)
	api := uploadclient.API{BaseURL: f.s.URL, Token: f.tok}
	plan, err := api.Start(ctx, f.id, []uploadclient.FileSpec{{Name: name, ContentType: "application/pdf", Size: int64(len(pdf))}})
	if err != nil {
		t.Fatal(err)
	}
	var cl uploadclient.Client
	if err := cl.Upload(ctx, plan.Files[0], bytes.NewReader(pdf), nil); err != nil {
		t.Fatal(err)
	}
	return plan.UploadID
}

// openChange is openApproval for the change fields (JSON members, e.g.
// `"lastName":"Byron"`).
func openChange(t *testing.T, s *local.System, b *bus, id, owner, phone, fields string) *flow {
	t.Helper()
	f := &flow{s: s, b: b, id: id, phone: phone}
	var err error
	if f.tok, err = s.Token(owner, nil, nil); err != nil {
		t.Fatal(err)
	}
	mfa := f.mfaToken(t)
	uploadID := f.upload(t, "evidence.pdf", "")
	resp, body := callOn(t, s.URL, "PATCH", "/api/v1/profile/"+id, f.tok,
		fmt.Sprintf(`{%s,"timestamp":%q,"uploadId":%q}`, fields, time.Now().UTC().Format(time.RFC3339), uploadID), map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 202 {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
	}
	f.rid = strings.TrimPrefix(body["request"].(string), "/api/v1/requests/")
	f.waitStatus(t, "waitingForApproval", func(st map[string]any) bool { return stage(st) == "waitingForApproval" })
	return f
}

func smsContaining(s *local.System, to, text string) int {
	n := 0
	for _, m := range s.Outbox.List(to) {
		if strings.Contains(m.Body, text) {
			n++
		}
	}
	return n
}

// A request waiting for approval: its
// reminder and escalation fire as scheduled messages (timers shortened by
// WORKFLOW_TIMER_SCALE), show in the history and reach the phones of the
// candidate groups (the approvers: assigned, reminded, escalated; the
// supervisors: assigned); nothing stays scheduled.
func TestReminderAndEscalationThroughServiceBus(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	if n := b.scheduled(t, f.rid); n != 2 {
		t.Fatalf("%d scheduled messages for the task's timers, want 2 (reminder, escalation)", n)
	}
	st := f.waitStatus(t, "the escalation", func(st map[string]any) bool { return slices.Contains(historyTypes(st), "TaskEscalated") })
	h := historyTypes(st)
	if !slices.Contains(h, "TaskReminder") || slices.Index(h, "TaskReminder") > slices.Index(h, "TaskEscalated") {
		t.Fatalf("history %v: want the reminder, then the escalation", h)
	}
	if _, groups := openTask(t, st); len(groups) != 1 || groups[0] != "ProfileSupervisor" || stage(st) != "waitingForApproval" {
		t.Fatalf("after the escalation: %v", st["customStatus"])
	}
	waitCond(t, "the notices", func() bool {
		ok := smsContaining(sys, "+15550100001", f.rid+" waits for your approval") == 1 &&
			smsContaining(sys, "+15550100001", f.rid+" still waits") == 1 &&
			smsContaining(sys, "+15550100001", f.rid+" was not decided in time") == 1 &&
			smsContaining(sys, "+15550100002", f.rid+" waits for your approval") == 1
		if !ok {
			t.Logf("sms: %v %v", sys.Outbox.List("+15550100001"), sys.Outbox.List("+15550100002"))
		}
		return ok
	})
	if n := b.scheduled(t, f.rid); n != 0 {
		t.Fatalf("%d messages still scheduled", n)
	}
}

// Cancelling a request withdraws its task's scheduled timers.
func TestCancelWithdrawsScheduledTimers(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	if n := b.scheduled(t, f.rid); n != 2 {
		t.Fatalf("%d scheduled messages before the cancel, want 2", n)
	}
	resp, body := f.call(t, "POST", "/api/v1/requests/"+f.rid+"/cancel", map[string]string{"comment": "changed my mind"})
	if resp.StatusCode != 200 || body["runtimeStatus"] != "Terminated" {
		t.Fatalf("cancel: %d %v", resp.StatusCode, body)
	}
	if n := b.scheduled(t, f.rid); n != 0 {
		t.Fatalf("%d timers still scheduled after the cancel", n)
	}
	waitCond(t, "the requester's SMS", func() bool { return smsContaining(sys, f.phone, f.rid+" was cancelled") == 1 })
}

// A step that fails transiently on every delivery goes to the dead-letter
// queue after the queue's max delivery count (10), and the request ends
// Failed with the reason in its status. (Not parallel: the Cosmos DB
// stand-in has one fault setting.)
func TestPoisonStepDeadLettersAndFailsTheRequest(t *testing.T) {
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	task, _ := openTask(t, f.status(t))
	ctx := context.Background()
	// Every access to the request's record fails (503) from now on.
	if err := sys.Cosmos.InjectFaults(ctx, stack.Fault{Status: 503, Count: 1 << 30, Match: "/docs/" + f.rid}); err != nil {
		t.Fatal(err)
	}
	cleared := false
	defer func() {
		if !cleared {
			sys.Cosmos.ClearFaults(ctx)
		}
	}()
	b.send(t, request.Step{V: 1, RequestID: f.rid, Event: request.StepEvent{ID: "decision-poison", Type: "taskDecision", TaskID: task, Decision: "approve", Actor: "approver-1", Groups: []string{"ProfileApprover"}}})
	waitCond(t, "the dead-lettered step", func() bool {
		for _, m := range b.peek(t, f.rid, azservicebus.SubQueueDeadLetter) {
			if m.DeadLetterReason != nil && *m.DeadLetterReason == "MaxDeliveryCountExceeded" {
				return true
			}
		}
		return false
	})
	if err := sys.Cosmos.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	cleared = true
	st := f.waitStatus(t, "Failed", func(st map[string]any) bool { return st["runtimeStatus"] == "Failed" })
	out, _ := st["output"].(map[string]any)
	if out["reason"] != "step could not be processed after 10 deliveries: MaxDeliveryCountExceeded" || stage(st) != "failed" {
		t.Fatalf("failed request: %v", st)
	}
	waitCond(t, "the dead-letter queue drained", func() bool { return len(b.peek(t, f.rid, azservicebus.SubQueueDeadLetter)) == 0 })
	_, prof := f.call(t, "GET", "/api/v1/profile/"+f.id, nil)
	if prof["firstName"] != "Ada" {
		t.Fatalf("profile changed by a failed request: %v", prof)
	}
}

// A step for a request that does not exist is completed (2xx), logged, and
// never dead-lettered.
func TestUnknownRequestStepIsCompletedAndLogged(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	rid := fmt.Sprintf("req-unknown%d", time.Now().UnixNano())
	b.send(t, request.VerdictStep(rid, "x.pdf", request.VerdictClean, "", ""))
	waitCond(t, "the log line", func() bool {
		for _, line := range strings.Split(handlerLog.String(), "\n") {
			if strings.Contains(line, rid) && strings.Contains(line, `"kind":"not_found"`) {
				return true
			}
		}
		return false
	})
	waitCond(t, "the queue to forget it", func() bool { return len(b.peek(t, rid, 0)) == 0 })
	if n := len(b.peek(t, rid, azservicebus.SubQueueDeadLetter)); n != 0 {
		t.Fatalf("%d dead-lettered", n)
	}
}

// A save that meets a 412 (the record changed since it was read) is retried
// from a fresh read; the decision applies once, and the same decision
// delivered again (another message id) changes nothing. (Not parallel: the
// Cosmos DB stand-in has one fault setting.)
func TestStaleSaveRetriedThenDuplicateIgnored(t *testing.T) {
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	task, _ := openTask(t, f.status(t))
	ctx := context.Background()
	if err := sys.Cosmos.InjectFaults(ctx, stack.Fault{Status: 412, Count: 1, Match: "/docs/" + f.rid, Method: http.MethodPut}); err != nil {
		t.Fatal(err)
	}
	decision := request.Step{V: 1, RequestID: f.rid, Event: request.StepEvent{ID: "decision-412", Type: "taskDecision", TaskID: task, Decision: "approve", Actor: "approver-1", Groups: []string{"ProfileApprover"}}}
	b.send(t, decision)
	st := f.waitStatus(t, "Completed and applied", func(st map[string]any) bool {
		return st["runtimeStatus"] == "Completed" && slices.Contains(historyTypes(st), "ChangeApplied")
	})
	if fs, err := sys.Cosmos.Faults(ctx); err != nil || fs.Served < 1 {
		t.Fatalf("the 412 was never served: %+v %v", fs, err)
	}
	_, prof := f.call(t, "GET", "/api/v1/profile/"+f.id, nil)
	if prof["firstName"] != "Augusta" || prof["version"] != 2.0 {
		t.Fatalf("profile %v", prof)
	}
	before := historyTypes(st)
	b.sendAs(t, decision, f.rid+"/again")
	waitCond(t, "the copy consumed", func() bool { return len(b.peek(t, f.rid, 0)) == 0 })
	after := f.status(t)
	if !slices.Equal(historyTypes(after), before) || after["lastUpdatedTime"] != st["lastUpdatedTime"] {
		t.Fatalf("the copy changed the request:\n%v\n%v", before, historyTypes(after))
	}
	_, prof = f.call(t, "GET", "/api/v1/profile/"+f.id, nil)
	if prof["version"] != 2.0 || smsContaining(sys, f.phone, f.rid+" was applied") != 1 {
		t.Fatalf("profile %v, completion SMS %d", prof, smsContaining(sys, f.phone, f.rid+" was applied"))
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A scan verdict sent as a Step on the workflow queue (the path a scanner
// posting through servicebus.Client.Post takes) moves a request from
// waitingForScan to waitingForApproval. The request is opened through the
// request service itself with a document that has no landing blob, so the
// blob-triggered scan never sees it and the queue's verdict is the only one.
func TestVerdictThroughTheQueueMovesToApproval(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	ctx := context.Background()
	svc, _ := benchService(t)
	prof, err := sys.Profiles.GetProfile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ts, name := time.Now().UTC().Format(time.RFC3339), "Augusta"
	ch, err := request.Validate(request.ChangeInput{FirstName: &name, Timestamp: &ts}, prof, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := svc.Open(ctx, domain.Principal{Subject: owner}, prof, ch, []request.Attachment{{Name: "evidence.pdf", Blob: "no-such-blob", ContentType: "application/pdf", Size: 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &flow{s: sys, b: b, id: id, rid: rec.ID, phone: phone}
	if f.tok, err = sys.Token(owner, nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := f.status(t); stage(st) != "waitingForScan" {
		t.Fatalf("before the verdict: %v", st)
	}
	b.send(t, request.VerdictStep(rec.ID, "evidence.pdf", request.VerdictClean, "e3b0c442", ""))
	st := f.waitStatus(t, "waitingForApproval", func(st map[string]any) bool { return stage(st) == "waitingForApproval" })
	if !slices.Contains(historyTypes(st), "AttachmentScanned") {
		t.Fatalf("history %v", historyTypes(st))
	}
	if n := b.scheduled(t, rec.ID); n != 2 {
		t.Fatalf("%d timers scheduled, want 2", n)
	}
}
