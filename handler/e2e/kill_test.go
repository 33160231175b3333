package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testlog"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
)

// The handler is killed in the middle of a step — the decision is saved in
// the record, the profile write and the notices are not done — and the
// message is redelivered to a restarted handler: one outcome (the profile
// changed once, one history entry each, one completion SMS). It runs on a
// system of its own, since it kills that system's handler.
func TestHandlerKilledMidStep(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(t.TempDir(), "app")
	if err := artifact.Build(root, app, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The project's queues with 5-second locks: a message the killed
	// handler's host held comes back when its lock expires, as in Azure.
	topo := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(`{"queues": {
	  "workflow": {"lockDuration": "PT5S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true},
	  "notifications": {"lockDuration": "PT5S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testlog.Buffer
	s, err := local.Start(ctx, local.Options{AppDir: app, LogDir: t.TempDir(), HandlerOutput: &out, ServiceBusTopology: topo,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := newBus(t, s)
	if _, err := s.Profiles.CreateProfile(ctx, domain.Profile{ID: "3101", Owner: "user-3101", FirstName: "Ada", LastName: "Lovelace",
		MaritalStatus: "Single", Phone: "+15550303101", Version: 1, UpdatedAt: time.Now().UTC().Truncate(time.Second)}); err != nil {
		t.Fatal(err)
	}
	f := openApproval(t, s, b, "3101", "user-3101", "+15550303101")
	task, _ := openTask(t, f.status(t))

	c, err := cosmosdb.New(s.Env["COSMOS_ENDPOINT"], s.Env["COSMOS_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	records := stores.NewRequests(c.Container(s.Env["COSMOS_DATABASE"], s.Env["COSMOS_CONTAINER_REQUESTS"]))

	// The profile cannot be written: the step saves the decision, then
	// keeps failing on the profile write (and answers non-2xx).
	if err := s.Cosmos.InjectFaults(ctx, stack.Fault{Status: 503, Count: 1 << 30, Match: "/docs/" + f.id, Method: "PUT"}); err != nil {
		t.Fatal(err)
	}
	const event = "decision-kill"
	b.send(t, request.Step{V: 1, RequestID: f.rid, Event: request.StepEvent{ID: event, Type: "taskDecision", TaskID: task, Decision: "approve", Actor: "approver-1", Groups: []string{"ProfileApprover"}}})
	waitCond(t, "the decision saved with its effects pending", func() bool {
		rec, err := records.GetRequest(ctx, f.rid)
		return err == nil && rec.Workflow != nil && slices.Contains(rec.Workflow.Processed, event) && len(rec.Outbox) > 0
	})
	pid := s.Host.HandlerPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the handler gone", func() bool { return !proc.Alive(pid) })
	if err := s.Cosmos.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RestartHost(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Host.HandlerPID() == pid {
		t.Fatal("the handler was not restarted")
	}

	f.waitStatus(t, "Completed", func(st map[string]any) bool {
		rec, err := records.GetRequest(ctx, f.rid)
		return st["runtimeStatus"] == "Completed" && err == nil && len(rec.Outbox) == 0
	})
	h := historyTypes(f.status(t))
	for _, typ := range []string{"RequestCompleted", "ChangeApplied"} {
		if n := count(h, typ); n != 1 {
			t.Errorf("%d %s entries in %v", n, typ, h)
		}
	}
	_, prof := f.call(t, "GET", "/api/v1/profile/"+f.id, nil)
	if prof["firstName"] != "Augusta" || prof["version"] != 2.0 {
		t.Fatalf("profile %v, want the change applied once (version 2)", prof)
	}
	waitCond(t, "the completion SMS", func() bool { return smsContaining(s, f.phone, f.rid+" was applied") == 1 })
	waitCond(t, "the queue drained", func() bool { return len(b.peek(t, f.rid, 0)) == 0 })
	if smsContaining(s, f.phone, f.rid+" was applied") != 1 {
		t.Fatal("completion SMS sent twice")
	}
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
