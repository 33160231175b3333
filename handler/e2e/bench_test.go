package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/loadgen"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/servicebus"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

// BenchmarkWorkflowStepThroughput compares, in one run and with the same
// number of messages, messages per second through the whole asynchronous
// path — the local Service Bus peer, the development host's Service Bus
// trigger, the handler's WorkflowStep, the Cosmos DB stand-in — with the
// peer alone (azservicebus: batches of 100 sent, received in peek-lock,
// each completed). Every WorkflowStep message is the due reminder of its
// own request waiting for approval: a read, the engine step, a save, the
// reminder notice sent to the notifications queue, the outbox saved (the
// Notify function then runs too). The requests are prepared with the timer
// stopped. Both run b.N messages. Reported: "step-msgs/s", "peer-msgs/s"
// and ratio = WorkflowStep's rate over the peer's alone (no target:
// reported).
//
//	go test ./handler/e2e -run '^$' -bench WorkflowStepThroughput -benchtime 300x
func BenchmarkWorkflowStepThroughput(b *testing.B) {
	peer := benchPeerOnly(b)
	step := benchWorkflowStep(b)
	b.ReportMetric(peer, "peer-msgs/s")
	b.ReportMetric(step, "step-msgs/s")
	b.ReportMetric(step/peer, "ratio")
}

// sendBatches sends bodies to queue in batches of at most 100 messages.
func sendBatches(b *testing.B, ctx context.Context, s *azservicebus.Sender, ids []string, bodies [][]byte) {
	for i := 0; i < len(bodies); {
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for ; i < len(bodies) && batch.NumMessages() < 100; i++ {
			if err := batch.AddMessage(&azservicebus.Message{MessageID: &ids[i], Body: bodies[i]}, nil); err != nil {
				break // full
			}
		}
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPeerOnly(b *testing.B) float64 {
	topo := filepath.Join(b.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(`{"queues":{"bench":{"requiresDuplicateDetection":true}}}`), 0o644); err != nil {
		b.Fatal(err)
	}
	sb := stack.ServiceBusT(b, stack.ServiceBusOptions{Topology: topo})
	ctx := context.Background()
	c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	s, err := c.NewSender("bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := c.NewReceiverForQueue("bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := request.EncodeStep(request.TimerStep("req-bench", workflow.Timer{ID: "req-bench/Approve1-3/Remind1"}))
	ids := make([]string, b.N)
	bodies := make([][]byte, b.N)
	for i := range ids {
		ids[i], bodies[i] = "m-"+strconv.Itoa(i), body
	}
	b.ResetTimer()
	start := time.Now()
	sendBatches(b, ctx, s, ids, bodies)
	for got := 0; got < b.N; {
		msgs, err := r.ReceiveMessages(ctx, min(100, b.N-got), nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				b.Fatal(err)
			}
		}
		got += len(msgs)
	}
	return float64(b.N) / time.Since(start).Seconds()
}

// benchService is a request service of the test process over the local
// system's Cosmos DB stand-in, with the workflow's timers scaled as the
// handler runs here and no Dispatcher or Evidence: requests it opens are
// recorded as the PATCH leaves them, without scheduled timers or pinned
// blobs.
func benchService(tb testing.TB) (*request.Service, *stores.Requests) {
	c, err := cosmosdb.New(sys.Env["COSMOS_ENDPOINT"], sys.Env["COSMOS_KEY"])
	if err != nil {
		tb.Fatal(err)
	}
	db := sys.Env["COSMOS_DATABASE"]
	records := stores.NewRequests(c.Container(db, sys.Env["COSMOS_CONTAINER_REQUESTS"]))
	profiles := stores.NewProfiles(c.Container(db, sys.Env["COSMOS_CONTAINER_PROFILES"]))
	root, err := stack.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	def, err := workflow.ParseFile(filepath.Join(root, "workflows", "profile-update.bpmn"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := def.ScaleTimers(0.0001); err != nil {
		tb.Fatal(err)
	}
	return &request.Service{Requests: records, Locks: records, Profiles: profiles, Definition: def, Log: slog.New(slog.DiscardHandler)}, records
}

// benchRequests prepares n requests waiting for approval (through the
// request service against the Cosmos DB stand-in, as the PATCH and the
// scan verdict would leave them) and returns the Step of each one's
// reminder.
func benchRequests(b *testing.B, n int) ([]request.Step, *stores.Requests) {
	ctx := context.Background()
	svc, records := benchService(b)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	steps := make([]request.Step, n)
	for i := range n {
		id := fmt.Sprintf("bench-%s-%d", nonce, i)
		prof, err := svc.Profiles.CreateProfile(ctx, domain.Profile{ID: id, Owner: "user-" + id, FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Phone: "+15550309999", Version: 1})
		if err != nil {
			b.Fatal(err)
		}
		ts, name := time.Now().UTC().Format(time.RFC3339), "Augusta"
		ch, err := request.Validate(request.ChangeInput{FirstName: &name, Timestamp: &ts}, prof, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		rec, err := svc.Open(ctx, domain.Principal{Subject: prof.Owner}, prof, ch, []request.Attachment{{Name: "e.pdf", Blob: "x", ContentType: "application/pdf", Size: 10}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if rec, err = svc.RecordVerdict(ctx, rec.ID, "e.pdf", request.VerdictClean, "", ""); err != nil {
			b.Fatal(err)
		}
		k := slices.IndexFunc(rec.Workflow.Timers, func(t workflow.Timer) bool { return t.Element == "Remind1" })
		steps[i] = request.TimerStep(rec.ID, rec.Workflow.Timers[k])
	}
	return steps, records
}

func benchWorkflowStep(b *testing.B) float64 {
	ctx := context.Background()
	steps, records := benchRequests(b, b.N)
	az, err := azservicebus.NewClientFromConnectionString(sys.ServiceBus.ConnectionString(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer az.Close(ctx)
	s, err := az.NewSender(servicebus.WorkflowQueue, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(steps))
	bodies := make([][]byte, len(steps))
	for i, st := range steps {
		ids[i] = st.RequestID + "/" + st.Event.ID
		if bodies[i], err = request.EncodeStep(st); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	sendBatches(b, ctx, s, ids, bodies)
	deadline := start.Add(5 * time.Minute)
	for _, st := range steps {
		for {
			rec, err := records.GetRequest(ctx, st.RequestID)
			if err == nil && slices.ContainsFunc(rec.History, func(h request.HistoryEntry) bool { return h.Type == "TaskReminder" }) && len(rec.Outbox) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("request %s not reminded after 5 minutes", st.RequestID)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return float64(b.N) / time.Since(start).Seconds()
}

// BenchmarkForwardingProfile measures the development host's forwarding in
// front of the real handler: GET /api/v1/profile/{id} of a seeded profile
// (owner's bearer token; the handler reads the Cosmos DB stand-in) through
// the host against the same request sent to the handler directly, over
// loopback with vegeta (loadgen.Compare). dev/host's BenchmarkForwarding
// does the same in front of a trivial echo handler, the host's worst case.
// Reported: ratio (req/s through the host over req/s direct), req/s,
// base-req/s and the latencies of both at a fixed rate. It ignores b.N:
// run it with -benchtime 1x.
func BenchmarkForwardingProfile(b *testing.B) {
	tok, err := sys.Token("user-1000", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	hdr := http.Header{"Authorization": {"Bearer " + tok}}
	const path = "/api/v1/profile/1000"
	c := loadgen.Compare(
		loadgen.Side{Name: "host", Target: loadgen.Static("GET", sys.URL+path, hdr, nil), Want: 200},
		loadgen.Side{Name: "direct", Target: loadgen.Static("GET", sys.Host.HandlerURL()+path, hdr, nil), Want: 200},
		loadgen.Options{Duration: time.Second, Workers: 4})
	if n := c.Errors(); n > 0 {
		b.Fatalf("%d failed requests, e.g. %s", n, c.FirstError())
	}
	for k, v := range c.Metrics() {
		b.ReportMetric(v, k)
	}
}
