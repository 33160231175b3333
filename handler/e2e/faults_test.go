//go:build faults

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/testlog"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// TestFaultSuite runs a mix of requests (direct changes, and changes with
// a document that need one approval) through a local system of its own
// while faults hit it one after another, then checks that after recovery
// nothing was lost and nothing applied twice:
//
//  1. abandoned uploads: Azurite filled with upload sessions whose blocks
//     were staged and never committed, or committed and never submitted;
//     they expire (a PATCH naming one answers 410) and touch no request;
//  2. clamd times out: clamd is stopped (SIGSTOP) past the scan's time
//     limit while documents are scanned, then resumed; the blob trigger's
//     retries scan them;
//  3. the Cosmos DB stand-in stops answering (SIGSTOP) for 10 s while
//     direct changes are submitted (each retried by its client with the
//     same Idempotency-Key until it gets an answer) and steps run: none
//     may be accepted before the stand-in resumes, none answers 500;
//  4. Service Bus connections drop: the peer restarts (its queues kept)
//     right after approvals are sent;
//  5. duplicates: every approval step is delivered again under a new
//     MessageId (past the broker's duplicate detection);
//  6. the handler is killed (SIGKILL) in the middle of invocations and its
//     host restarted.
//
// Then every request must end Completed (or Failed with a reason), each
// profile changed exactly once (version 2), one ChangeApplied and one
// "was applied" SMS per request, no message left in a dead-letter queue.
// The counts are logged, and printed as one line:
// "fault suite: N requests, …".
//
//	make test-faults
func TestFaultSuite(t *testing.T) {
	s := faultSystemLogging(t, &hostLog)
	ctx := context.Background()
	b := newBus(t, s)
	counts := map[string]int{}

	// 1. Abandoned uploads.
	const abandoned = 24
	var abandonedIDs []string
	for i := range abandoned {
		id, owner, _ := newProfile(t)
		tok, err := s.Token(owner, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		api := uploadclient.API{BaseURL: s.URL, Token: tok}
		doc := pdfDoc(fmt.Sprintf("abandoned %d", i))
		plan, err := api.Start(ctx, id, []uploadclient.FileSpec{{Name: "a.pdf", ContentType: "application/pdf", Size: int64(len(doc))}})
		if err != nil {
			t.Fatal(err)
		}
		var cl uploadclient.Client
		if i%2 == 0 { // blocks staged, never committed
			err = cl.StageBlocks(ctx, plan.Files[0], bytes.NewReader(doc), nil, nil)
		} else { // committed, never submitted
			err = cl.Upload(ctx, plan.Files[0], bytes.NewReader(doc), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		abandonedIDs = append(abandonedIDs, id+"/"+plan.UploadID)
	}
	counts["abandoned uploads"] = abandoned

	// The requests: approval flows (a first-name change with a document,
	// one approval) and direct flows (a description change).
	const approvals, directs = 6, 4
	var flows []*flow
	for range approvals {
		id, owner, phone := newProfile(t)
		f := &flow{s: s, b: b, id: id, phone: phone}
		var err error
		if f.tok, err = s.Token(owner, nil, nil); err != nil {
			t.Fatal(err)
		}
		flows = append(flows, f)
	}

	// 2. clamd stops answering past CLAMAV_TIMEOUT while the documents of
	// the approval flows are scanned.
	if err := syscall.Kill(s.Clamd.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		mfa := f.mfaToken(t)
		uploadID := f.upload(t, "evidence.pdf", f.id)
		resp, body := callOn(t, s.URL, "PATCH", "/api/v1/profile/"+f.id, f.tok,
			fmt.Sprintf(`{"firstName":"Augusta","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), uploadID), map[string]string{"X-MFA-Token": mfa})
		if resp.StatusCode != 202 {
			t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
		}
		f.rid = strings.TrimPrefix(body["request"].(string), "/api/v1/requests/")
	}
	time.Sleep(8 * time.Second) // scans time out and are retried meanwhile
	if err := syscall.Kill(s.Clamd.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	counts["scans during the clamd stall"] = approvals
	counts["scan attempts failed during the clamd stall (retried)"] = strings.Count(hostLog.String(), "blob trigger invocation failed; retrying")
	if counts["scan attempts failed during the clamd stall (retried)"] == 0 {
		t.Error("no scan failed while clamd was stopped: the stall did not reach the scans")
	}
	for _, f := range flows {
		f.waitStatus(t, "waitingForApproval after the clamd stall", func(st map[string]any) bool {
			return stage(st) == "waitingForApproval" || st["runtimeStatus"] == "Failed"
		})
	}

	// 3. The Cosmos DB stand-in stops answering for 10 s while direct
	// changes are submitted; each client retries with its Idempotency-Key.
	type direct struct {
		f       *flow
		mfa     string
		key     string
		body    string
		answers []int
		at      time.Time // when the 200 came
	}
	var directFlows []*direct
	for i := range directs {
		id, owner, phone := newProfile(t)
		f := &flow{s: s, b: b, id: id, phone: phone}
		var err error
		if f.tok, err = s.Token(owner, nil, nil); err != nil {
			t.Fatal(err)
		}
		directFlows = append(directFlows, &direct{f: f, mfa: f.mfaToken(t), key: fmt.Sprintf("fault-direct-%d-%d", i, time.Now().UnixNano()),
			body: fmt.Sprintf(`{"description":"changed under faults %d","timestamp":%q}`, i, time.Now().UTC().Format(time.RFC3339))})
	}
	if err := syscall.Kill(s.Cosmos.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	done := make(chan struct{})
	for _, d := range directFlows {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 30 {
				resp, body, err := tryCall(s.URL, "PATCH", "/api/v1/profile/"+d.f.id, d.f.tok, d.body, map[string]string{"X-MFA-Token": d.mfa, "Idempotency-Key": d.key})
				if err != nil {
					d.answers = append(d.answers, 0)
					time.Sleep(time.Second)
					continue
				}
				d.answers = append(d.answers, resp.StatusCode)
				if resp.StatusCode == 200 {
					d.at = time.Now()
					d.f.rid = strings.TrimPrefix(fmt.Sprint(body["request"]), "/api/v1/requests/")
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	time.Sleep(10*time.Second - time.Since(stopped))
	if err := syscall.Kill(s.Cosmos.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	for range directFlows {
		<-done
	}
	failedAttempts := 0
	for _, d := range directFlows {
		t.Logf("direct change of %s: answers %v (0 = no answer within 15 s), accepted %.1f s after the stand-in resumed", d.f.id, d.answers, d.at.Sub(resumed).Seconds())
		if d.at.Before(resumed) {
			t.Errorf("direct change of %s accepted while the Cosmos DB stand-in was stopped", d.f.id)
		}
		failedAttempts += len(d.answers) - 1
		if d.f.rid == "" {
			t.Fatalf("direct change of %s never accepted: answers %v", d.f.id, d.answers)
		}
		for _, code := range d.answers[:len(d.answers)-1] {
			if code == 500 {
				t.Errorf("direct change of %s answered 500 during the outage (answers %v); want 503 or no answer", d.f.id, d.answers)
			}
		}
		counts["direct attempts during the Cosmos outage"] += len(d.answers)
	}
	counts["direct changes"] = directs
	counts["direct attempts unanswered or refused during the Cosmos outage"] = failedAttempts

	// 4 and 6. Approvals are sent; the Service Bus peer restarts right
	// after (connections drop), then the handler is killed while the steps
	// run, and its host restarted.
	a1 := approver(t, "approver-1", "ProfileApprover")
	for _, f := range flows {
		if resp, body := decideAs(t, a1, f.rid, "approve", map[string]string{"comment": "fault suite"}); resp.StatusCode != 200 {
			t.Fatalf("approve %s: %d %v", f.rid, resp.StatusCode, body)
		}
	}
	peerPID := s.ServiceBus.PID
	if err := s.ServiceBus.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ServiceBus.PID == peerPID {
		t.Fatal("the Service Bus peer did not restart")
	}
	counts["Service Bus restarts"] = 1
	pid := s.Host.HandlerPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the handler gone", func() bool { return !proc.Alive(pid) })
	if err := s.RestartHost(ctx); err != nil {
		t.Fatal(err)
	}
	counts["handler kills"] = 1

	// 5. Every decision step delivered again under a new MessageId.
	c, err := cosmosdb.New(s.Env["COSMOS_ENDPOINT"], s.Env["COSMOS_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	records := stores.NewRequests(c.Container(s.Env["COSMOS_DATABASE"], s.Env["COSMOS_CONTAINER_REQUESTS"]))
	b2 := newBus(t, s) // the first bus's connection dropped with the restart
	for _, f := range flows {
		rec, err := records.GetRequest(ctx, f.rid)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range rec.Workflow.Tasks {
			if task.Decision == nil {
				continue
			}
			b2.sendAs(t, request.Step{V: 1, RequestID: f.rid, Event: request.StepEvent{ID: task.Decision.Event, Type: "taskDecision", TaskID: task.ID,
				Decision: string(task.Decision.Decision), Actor: task.Decision.Actor, Groups: []string{"ProfileApprover"}}}, fmt.Sprintf("dup-%s-%d", f.rid, time.Now().UnixNano()))
			counts["duplicate deliveries"]++
		}
	}

	// Recovery: every request ends, and every effect happened once.
	all := append([]*flow{}, flows...)
	for _, d := range directFlows {
		all = append(all, d.f)
	}
	outcome := map[string]int{}
	for _, f := range all {
		st := f.waitStatus(t, "terminal after the faults", func(st map[string]any) bool {
			rec, err := records.GetRequest(ctx, f.rid)
			return (st["runtimeStatus"] == "Completed" || st["runtimeStatus"] == "Failed") && err == nil && len(rec.Outbox) == 0
		})
		rs := fmt.Sprint(st["runtimeStatus"])
		outcome[rs]++
		h := historyTypes(st)
		if rs == "Failed" {
			if out, _ := st["output"].(map[string]any); len(out) == 0 {
				t.Errorf("%s failed without a reason: %v", f.rid, st["output"])
			}
			continue
		}
		if n := count(h, "ChangeApplied"); n != 1 {
			t.Errorf("%s: %d ChangeApplied in %v", f.rid, n, h)
		}
		if n := count(h, "TaskDecided"); slices.Contains(flows, f) && n != 1 {
			t.Errorf("%s: %d TaskDecided in %v (the duplicate decision counted)", f.rid, n, h)
		}
		if prof := profileOf(t, f); prof["version"] != 2.0 {
			t.Errorf("profile %s version %v, want 2 (changed once)", f.id, prof["version"])
		}
		waitCond(t, "the requester's SMS", func() bool { return smsContaining(s, f.phone, f.rid+" was applied") >= 1 })
		if n := smsContaining(s, f.phone, f.rid+" was applied"); n != 1 {
			t.Errorf("%s: %d \"was applied\" SMS", f.rid, n)
		}
		if dl := b2.peek(t, f.rid, azservicebus.SubQueueDeadLetter); len(dl) != 0 {
			t.Errorf("%s: %d dead-lettered steps", f.rid, len(dl))
		}
	}

	// The abandoned uploads expired and no request took them.
	gone := 0
	for _, ref := range abandonedIDs {
		id, uploadID, _ := strings.Cut(ref, "/")
		owner := "user-" + id
		tok, _ := s.Token(owner, nil, nil)
		resp, _ := callOn(t, s.URL, "GET", "/api/v1/profile/"+id+"/uploads/"+uploadID, tok, nil, nil)
		if resp.StatusCode == 410 || resp.StatusCode == 404 {
			gone++
		}
	}
	counts["abandoned uploads expired"] = gone
	if gone != abandoned {
		t.Errorf("%d of %d abandoned uploads expired", gone, abandoned)
	}

	counts["requests"] = len(all)
	counts["completed"] = outcome["Completed"]
	counts["failed (with a reason)"] = outcome["Failed"]
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	fmt.Printf("fault suite: %s; lost 0, applied twice 0 (checked)\n", strings.Join(parts, ", "))
	if counts["completed"]+counts["failed (with a reason)"] != counts["requests"] {
		t.Errorf("requests lost: %v", counts)
	}
}

// hostLog holds the development host's log of the fault suite's system.
var hostLog testlog.Buffer

// faultSystemLogging starts a local system of its own for the fault suite (it
// stops and kills parts of it) and points the helpers at it: clamd's scan
// limit 3 s, upload sessions valid 20 s, 5-second Service Bus locks (a
// message the killed handler held comes back soon), queues kept in a file
// across a restart of the peer, workflow timers scaled so nothing expires
// during the run; the development host logs to logs.
func faultSystemLogging(t *testing.T, logs io.Writer) *local.System {
	t.Helper()
	topo := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(`{"queues": {
	  "workflow": {"lockDuration": "PT5S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true},
	  "notifications": {"lockDuration": "PT5S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return ownSystem(t, local.Options{ServiceBusTopology: topo,
		ServiceBusStateFile: filepath.Join(t.TempDir(), "queues.json"), RequireAntivirus: true,
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Settings: map[string]string{"CLAMAV_TIMEOUT": "3s", "UPLOAD_SAS_TTL": "20s", "WORKFLOW_TIMER_SCALE": "0.001"}})
}

// tryCall is callOn for goroutines and outages: it returns the error
// instead of failing the test, and gives up after 15 s.
func tryCall(base, method, path, bearer, body string, hdr map[string]string) (*http.Response, map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp, m, nil
}
