package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The approval path end to end: the development host, the handler, the
// Service Bus peer (timers, notices), Azurite and clamd (the scan), the
// Cosmos DB stand-in, and the fake Twilio API (the SMS outbox).

// approver is an approver's token: role ProfileApprover, in group.
func approver(t *testing.T, sub, group string) string {
	t.Helper()
	tok, err := sys.Token(sub, []string{"ProfileApprover"}, []string{group})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// inboxItem pages through the approver's inbox until it finds the task of
// request rid (nil when it is not there).
func inboxItem(t *testing.T, tok, rid string) map[string]any {
	t.Helper()
	next := "/api/v1/approvals?pageSize=5"
	for range 1000 {
		resp, page := call(t, "GET", next, tok, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("inbox: %d %v", resp.StatusCode, page)
		}
		items, _ := page["items"].([]any)
		for _, it := range items {
			if m := it.(map[string]any); m["requestId"] == rid {
				return m
			}
		}
		tokn, _ := page["continuationToken"].(string)
		if tokn == "" {
			return nil
		}
		next = "/api/v1/approvals?pageSize=5&continuationToken=" + tokn
	}
	t.Fatal("the inbox does not end")
	return nil
}

func decideAs(t *testing.T, tok, rid, action string, body any) (*http.Response, map[string]any) {
	t.Helper()
	return call(t, "POST", "/api/v1/requests/"+rid+"/"+action, tok, body, nil)
}

func profileOf(t *testing.T, f *flow) map[string]any {
	t.Helper()
	_, prof := f.call(t, "GET", "/api/v1/profile/"+f.id, nil)
	return prof
}

// A last-name change with a document: scanned, approved by approver-1 (who
// then may not give the second approval), approved by approver-2; the
// profile changes once, the status is Completed, the requester gets the SMS.
func TestTwoApprovalsApplyTheChange(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openChange(t, sys, b, id, owner, phone, `"lastName":"Byron"`)
	a1, a2 := approver(t, "approver-1", "ProfileApprover"), approver(t, "approver-2", "ProfileApprover")

	item := inboxItem(t, a1, f.rid)
	if item == nil || item["task"] != "Approve1" || item["requester"] != owner {
		t.Fatalf("inbox item %v", item)
	}
	change := item["change"].([]any)[0].(map[string]any)
	atts := item["attachments"].([]any)
	if change["field"] != "lastName" || change["old"] != "Lovelace" || change["new"] != "Byron" || len(atts) != 1 || atts[0].(map[string]any)["verdict"] != "clean" {
		t.Fatalf("inbox item change %v attachments %v", change, atts)
	}
	// The requester holding the approver role still cannot decide.
	self, err := sys.Token(owner, []string{"ProfileApprover"}, []string{"ProfileApprover"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := decideAs(t, self, f.rid, "approve", nil); resp.StatusCode != 403 {
		t.Fatalf("own request: %d %v", resp.StatusCode, body)
	}
	if inboxItem(t, self, f.rid) != nil {
		t.Fatal("the requester sees their own request in the inbox")
	}
	if resp, body := decideAs(t, a1, f.rid, "approve", map[string]string{"comment": "certificate matches", "taskId": item["taskId"].(string)}); resp.StatusCode != 200 {
		t.Fatalf("first approval: %d %v", resp.StatusCode, body)
	}
	second := inboxItem(t, a2, f.rid)
	if second["task"] != "Approve2" {
		t.Fatal("the second approval is not in approver-2's inbox")
	}
	if resp, body := decideAs(t, a1, f.rid, "approve", map[string]string{"taskId": second["taskId"].(string)}); resp.StatusCode != 403 {
		t.Fatalf("second approval by the first approver: %d %v", resp.StatusCode, body)
	}
	if inboxItem(t, a1, f.rid) != nil {
		t.Fatal("the first approver is offered the second approval")
	}
	// Without naming it, the level just opened is not decided (a click
	// meant for the first level must not complete the second).
	if resp, body := decideAs(t, a2, f.rid, "approve", map[string]string{}); resp.StatusCode != 409 {
		t.Fatalf("blind approval of the level just opened: %d %v", resp.StatusCode, body)
	}
	resp, body := decideAs(t, a2, f.rid, "approve", map[string]string{"taskId": second["taskId"].(string)})
	if resp.StatusCode != 200 {
		t.Fatalf("second approval: %d %v", resp.StatusCode, body)
	}
	st := f.waitStatus(t, "Completed and applied", func(st map[string]any) bool {
		return st["runtimeStatus"] == "Completed" && slices.Contains(historyTypes(st), "ChangeApplied")
	})
	approvals := st["customStatus"].(map[string]any)["approvals"].([]any)
	if len(approvals) != 2 || approvals[0].(map[string]any)["actor"] != "approver-1" || approvals[1].(map[string]any)["actor"] != "approver-2" {
		t.Fatalf("approvals %v", approvals)
	}
	if prof := profileOf(t, f); prof["lastName"] != "Byron" || prof["version"] != 2.0 {
		t.Fatalf("profile %v", prof)
	}
	waitCond(t, "the requester's SMS", func() bool { return smsContaining(sys, phone, f.rid+" was applied") == 1 })
	if resp, _ := decideAs(t, a2, f.rid, "reject", map[string]string{"comment": "too late"}); resp.StatusCode != 409 {
		t.Fatalf("a decision after completion: %d", resp.StatusCode)
	}
}

// A rejection needs a comment; it ends the request Failed with the reason,
// leaves the profile unchanged and tells the requester why.
func TestRejectionFailsWithTheReason(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	a1 := approver(t, "approver-3", "ProfileApprover")
	if resp, body := decideAs(t, a1, f.rid, "reject", map[string]string{}); resp.StatusCode != 400 {
		t.Fatalf("reject without comment: %d %v", resp.StatusCode, body)
	}
	if resp, body := decideAs(t, approver(t, "payroll-1", "Payroll"), f.rid, "reject", map[string]string{"comment": "no"}); resp.StatusCode != 403 {
		t.Fatalf("reject by another group: %d %v", resp.StatusCode, body)
	}
	resp, body := decideAs(t, a1, f.rid, "reject", map[string]string{"comment": "the certificate is for someone else"})
	if resp.StatusCode != 200 || body["runtimeStatus"] != "Failed" {
		t.Fatalf("reject: %d %v", resp.StatusCode, body)
	}
	out := body["output"].(map[string]any)
	if out["reason"] != "the certificate is for someone else" {
		t.Fatalf("output %v", out)
	}
	if prof := profileOf(t, f); prof["firstName"] != "Ada" || prof["version"] != 1.0 {
		t.Fatalf("profile changed by a rejected request: %v", prof)
	}
	waitCond(t, "the requester's SMS", func() bool {
		return smsContaining(sys, phone, f.rid+" was rejected: the certificate is for someone else") == 1
	})
	if resp, _ := decideAs(t, a1, f.rid, "approve", nil); resp.StatusCode != 409 {
		t.Fatalf("approve after the rejection: %d", resp.StatusCode)
	}
}

// A send-back answered with a new document: the requester is told why,
// answers with a PATCH naming the request (fresh MFA token, new upload),
// the new document is scanned and the approver approves.
func TestSendBackAnsweredWithANewDocument(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	a1 := approver(t, "approver-4", "ProfileApprover")
	if resp, body := decideAs(t, a1, f.rid, "send-back", nil); resp.StatusCode != 400 {
		t.Fatalf("send-back without comment: %d %v", resp.StatusCode, body)
	}
	resp, body := decideAs(t, a1, f.rid, "send-back", map[string]string{"comment": "page 2 is missing"})
	if resp.StatusCode != 200 || stage(body) != "sentBack" {
		t.Fatalf("send-back: %d %v", resp.StatusCode, body)
	}
	waitCond(t, "the requester's SMS", func() bool {
		return smsContaining(sys, phone, f.rid+" was sent back for changes: page 2 is missing") == 1
	})
	if resp, _ := decideAs(t, a1, f.rid, "approve", nil); resp.StatusCode != 409 {
		t.Fatalf("approve while sent back: %d", resp.StatusCode)
	}
	// The answer: a new MFA token, a new document, the request named.
	mfa := f.mfaToken(t)
	uploadID := f.upload(t, "evidence-complete.pdf", "both pages")
	ts := time.Now().UTC().Format(time.RFC3339)
	other, _ := newProfileFlow(t)
	if resp, body := callOn(t, sys.URL, "PATCH", "/api/v1/profile/"+other.id, other.tok,
		fmt.Sprintf(`{"firstName":"X","timestamp":%q,"answerTo":%q}`, ts, f.rid), map[string]string{"X-MFA-Token": other.mfaToken(t)}); resp.StatusCode != 404 {
		t.Fatalf("another user's answer: %d %v", resp.StatusCode, body)
	}
	resp, body = callOn(t, sys.URL, "PATCH", "/api/v1/profile/"+id, f.tok,
		fmt.Sprintf(`{"firstName":"Augusta Ada","timestamp":%q,"uploadId":%q,"answerTo":%q}`, ts, uploadID, f.rid), map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 202 || body["request"] != "/api/v1/requests/"+f.rid {
		t.Fatalf("answer: %d %v", resp.StatusCode, body)
	}
	st := f.waitStatus(t, "back with the approver", func(st map[string]any) bool { return stage(st) == "waitingForApproval" })
	atts := st["customStatus"].(map[string]any)["attachments"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["name"] != "evidence-complete.pdf" || atts[0].(map[string]any)["verdict"] != "clean" {
		t.Fatalf("attachments after the answer: %v", atts)
	}
	if !slices.Contains(historyTypes(st), "RequestAnswered") {
		t.Fatalf("history %v", historyTypes(st))
	}
	if resp, body := callOn(t, sys.URL, "PATCH", "/api/v1/profile/"+id, f.tok,
		fmt.Sprintf(`{"firstName":"Augusta B","timestamp":%q,"answerTo":%q}`, ts, f.rid), map[string]string{"X-MFA-Token": f.mfaToken(t)}); resp.StatusCode != 409 {
		t.Fatalf("a second answer: %d %v", resp.StatusCode, body)
	}
	if resp, body := decideAs(t, a1, f.rid, "approve", map[string]string{"comment": "complete now", "taskId": inboxItem(t, a1, f.rid)["taskId"].(string)}); resp.StatusCode != 200 {
		t.Fatalf("approve the answer: %d %v", resp.StatusCode, body)
	}
	f.waitStatus(t, "Completed", func(st map[string]any) bool { return st["runtimeStatus"] == "Completed" })
	if prof := profileOf(t, f); prof["firstName"] != "Augusta Ada" {
		t.Fatalf("profile %v", prof)
	}
}

// newProfileFlow is a fresh profile with its owner's token (no request).
func newProfileFlow(t *testing.T) (*flow, string) {
	t.Helper()
	id, owner, phone := newProfile(t)
	tok, err := sys.Token(owner, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &flow{s: sys, id: id, tok: tok, phone: phone}, owner
}

// The escalation (72 h, shortened by WORKFLOW_TIMER_SCALE to 26 s) moves the
// task to the supervisors: the approver's late decision on the old task is
// refused (409) and kept in the history; a supervisor decides.
func TestEscalationReassignsToSupervisors(t *testing.T) {
	t.Parallel()
	b := newBus(t, sys)
	id, owner, phone := newProfile(t)
	f := openApproval(t, sys, b, id, owner, phone)
	old, _ := openTask(t, f.status(t))
	st := f.waitStatus(t, "the escalation", func(st map[string]any) bool { return slices.Contains(historyTypes(st), "TaskEscalated") })
	task, groups := openTask(t, st)
	if len(groups) != 1 || groups[0] != "ProfileSupervisor" {
		t.Fatalf("after the escalation: %v", groups)
	}
	a := approver(t, "approver-5", "ProfileApprover")
	if resp, body := decideAs(t, a, f.rid, "approve", map[string]string{"taskId": old}); resp.StatusCode != 409 {
		t.Fatalf("approval of the escalated task: %d %v", resp.StatusCode, body)
	}
	sup := approver(t, "supervisor-1", "ProfileSupervisor")
	if it := inboxItem(t, sup, f.rid); it == nil || it["taskId"] != task {
		t.Fatalf("supervisor inbox item %v", it)
	}
	if resp, body := decideAs(t, sup, f.rid, "approve", map[string]string{"taskId": task}); resp.StatusCode != 200 {
		t.Fatalf("supervisor approval: %d %v", resp.StatusCode, body)
	}
	st = f.waitStatus(t, "Completed", func(st map[string]any) bool { return st["runtimeStatus"] == "Completed" })
	h := historyTypes(st)
	if !slices.Contains(h, "DecisionRefused") || slices.Index(h, "TaskEscalated") > slices.Index(h, "DecisionRefused") {
		t.Fatalf("history %v: want the escalation, then the refused decision", h)
	}
	for _, e := range st["history"].([]any) {
		m := e.(map[string]any)
		if m["type"] == "DecisionRefused" && (m["actor"] != "approver-5" || !strings.Contains(m["detail"].(string), old)) {
			t.Fatalf("refusal entry %v", m)
		}
	}
}
