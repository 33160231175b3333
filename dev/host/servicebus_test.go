package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/invoke"
)

// fixtureMessage is the message of the host fixture
// servicebus-queue-trigger.request.json.
func fixtureMessage() *azservicebus.ReceivedMessage {
	s := func(v string) *string { return &v }
	seq := int64(42)
	enq := time.Date(2024, 6, 15, 12, 34, 56, 789_000_000, time.UTC)
	exp := time.Date(2024, 6, 29, 12, 34, 56, 789_000_000, time.UTC)
	return &azservicebus.ReceivedMessage{
		Body:           []byte(`{"requestId":"abc","blobPath":"uploads/requests/abc/attachment1.pdf","attempt":1,"source":{"system":"web"},"tags":["pdf"]}`),
		MessageID:      "4d2f1c9e0b8a4f6e9c3d2b1a0f9e8d7c",
		ContentType:    s("application/json"),
		CorrelationID:  s("abc"),
		Subject:        s("request.created"),
		DeliveryCount:  1,
		LockToken:      [16]byte{0x8a, 0x2e, 0x5a, 0x8d, 0x4c, 0x2b, 0x4b, 0x39, 0x9f, 0x0f, 0x6a, 0x8f, 0x8c, 0x1d, 0x2e, 0x3f},
		SequenceNumber: &seq, EnqueuedTime: &enq, ExpiresAt: &exp,
		ApplicationProperties: map[string]any{"tenant": "contoso", "priority": int64(5), "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
}

// The payload of the fixture's message is the fixture, value for value,
// except the parts that differ per host (Client.Identifier) and sys (added
// by Invoke).
func TestServiceBusPayloadMatchesHostFixture(t *testing.T) {
	raw, err := os.ReadFile("../../handler/invoke/testdata/servicebus-queue-trigger.request.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	data, md, err := ServiceBusPayload("msg", fixtureMessage(), "sb-intake-prod.servicebus.windows.net")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	b, _ := json.Marshal(map[string]any{"Data": data, "Metadata": md})
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	delete(want["Metadata"], "sys")
	for _, m := range []map[string]map[string]any{want, got} {
		delete(m["Metadata"]["Client"].(map[string]any), "Identifier")
	}
	if !reflect.DeepEqual(got["Data"], want["Data"]) {
		t.Errorf("Data\n got %v\nwant %v", got["Data"], want["Data"])
	}
	for k, w := range want["Metadata"] {
		if !reflect.DeepEqual(got["Metadata"][k], w) {
			t.Errorf("Metadata.%s = %#v, want %#v", k, got["Metadata"][k], w)
		}
	}
	for k := range got["Metadata"] {
		if _, ok := want["Metadata"][k]; !ok {
			t.Errorf("Metadata.%s is not in the fixture", k)
		}
	}
}

// The handler's own decoder reads every value of the payload back.
func TestServiceBusPayloadDecodesWithInvoke(t *testing.T) {
	m := fixtureMessage()
	m.Body = []byte("héllo \"quoted\" \\ world")
	data, md, err := ServiceBusPayload("msg", m, "127.0.0.1:5672")
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(map[string]any{"Data": data, "Metadata": md})
	req, err := invoke.DecodeBytes(env)
	if err != nil {
		t.Fatal(err)
	}
	sb := req.ServiceBus("msg")
	get := func(f invoke.Field[string]) string { v, _ := f.Get(); return v }
	body, _ := sb.Body.Get()
	dc, _ := sb.DeliveryCount.Get()
	seq, _ := sb.SequenceNumber.Get()
	enq, _ := sb.EnqueuedTimeUTC.Get()
	props, _ := sb.ApplicationProperties.Get()
	if string(body) != string(m.Body) || get(sb.MessageID) != m.MessageID || get(sb.CorrelationID) != "abc" || get(sb.ContentType) != "application/json" ||
		get(sb.Subject) != "request.created" || get(sb.LockToken) != "8a2e5a8d-4c2b-4b39-9f0f-6a8f8c1d2e3f" || dc != 1 || seq != 42 ||
		!enq.Equal(m.EnqueuedTime.Truncate(time.Second)) || props["tenant"] != "contoso" || props["priority"] != 5.0 {
		t.Fatalf("decoded %q %q %q %q %q %q %d %d %v %v", body, get(sb.MessageID), get(sb.CorrelationID), get(sb.ContentType), get(sb.Subject), get(sb.LockToken), dc, seq, enq, props)
	}
}

// A JSON body's top-level fields join the metadata as the host merges them.
func TestServiceBusPayloadMergesBody(t *testing.T) {
	m := fixtureMessage()
	m.Body = []byte(`{"messageId":"body-wins","ok":true,"n":1.50,"obj":{"a":1},"arr":[1],"nothing":null,"BlobTrigger":"x"}`)
	_, md, err := ServiceBusPayload("msg", m, "ns")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"MessageId": `"body-wins"`, "ok": `"True"`, "n": `"1.50"`, "obj": map[string]any{"a": json.Number("1")}}
	for k, v := range want {
		if !reflect.DeepEqual(md[k], v) {
			t.Errorf("%s = %#v, want %#v", k, md[k], v)
		}
	}
	for _, k := range []string{"messageId", "arr", "nothing", "BlobTrigger"} {
		if _, ok := md[k]; ok {
			t.Errorf("%s merged", k)
		}
	}
	m.Body = []byte{0xff, 0xfe}
	if _, _, err := ServiceBusPayload("msg", m, "ns"); err == nil {
		t.Error("a body that is not UTF-8 was bound")
	}
}

func TestParseServiceBusSettings(t *testing.T) {
	def := ServiceBusSettings{MaxConcurrentCalls: 0, AutoComplete: true, MaxAutoLockRenewal: 5 * time.Minute}
	for _, tc := range []struct {
		name, ext string
		want      ServiceBusSettings
		err       string
	}{
		{"absent", ``, def, ""},
		{"v5 names", `{"serviceBus":{"maxConcurrentCalls":3,"autoCompleteMessages":false,"maxAutoLockRenewalDuration":"00:00:30"}}`, ServiceBusSettings{3, false, 30 * time.Second}, ""},
		{"case-insensitive", `{"ServiceBus":{"MaxConcurrentCalls":4}}`, ServiceBusSettings{4, true, 5 * time.Minute}, ""},
		{"v3 names", `{"serviceBus":{"messageHandlerOptions":{"maxConcurrentCalls":2,"autoComplete":false,"maxAutoRenewDuration":"1.00:00:00"}}}`, ServiceBusSettings{2, false, 24 * time.Hour}, ""},
		{"zero calls", `{"serviceBus":{"maxConcurrentCalls":0}}`, def, "maxConcurrentCalls"},
		{"fractional calls", `{"serviceBus":{"maxConcurrentCalls":1.5}}`, def, "maxConcurrentCalls"},
		{"bad duration", `{"serviceBus":{"maxAutoLockRenewalDuration":"5m"}}`, def, "maxAutoLockRenewalDuration"},
		{"bad bool", `{"serviceBus":{"autoCompleteMessages":"yes"}}`, def, "autoCompleteMessages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := &HostConfig{Extensions: map[string]json.RawMessage{}}
			if tc.ext != "" {
				var ext map[string]json.RawMessage
				if err := json.Unmarshal([]byte(tc.ext), &ext); err != nil {
					t.Fatal(err)
				}
				hc.Extensions = ext
			}
			got, err := parseServiceBusSettings(hc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if tc.want.MaxConcurrentCalls == 0 {
				tc.want.MaxConcurrentCalls = got.MaxConcurrentCalls
				if got.MaxConcurrentCalls < 16 {
					t.Errorf("default maxConcurrentCalls %d", got.MaxConcurrentCalls)
				}
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// --- the test handler's Service Bus functions -------------------------

// sbRecord is one invocation as the test handler saw it.
type sbRecord struct {
	ID            string         `json:"id"`
	DeliveryCount int64          `json:"deliveryCount"`
	InFlight      int64          `json:"inFlight"`
	Failed        bool           `json:"failed"`
	Metadata      map[string]any `json:"metadata"`
}

var (
	sbInFlight atomic.Int64
	sbRecordMu sync.Mutex
)

// serveServiceBus is the test handler's reply to a Service Bus function:
// the body {"id","fail":N,"sleepMs":M} fails deliveries 1…N (500) and
// sleeps M ms; every invocation is appended to <record dir>/<fn>.jsonl.
func serveServiceBus(w http.ResponseWriter, fn string, raw []byte) {
	n := sbInFlight.Add(1)
	defer sbInFlight.Add(-1)
	var env struct {
		Data     map[string]json.RawMessage
		Metadata map[string]any
	}
	_ = json.Unmarshal(raw, &env)
	var quoted string
	_ = json.Unmarshal(env.Data["msg"], &quoted)
	var body struct {
		ID      string `json:"id"`
		Fail    int64  `json:"fail"`
		SleepMs int    `json:"sleepMs"`
	}
	var once string
	_ = json.Unmarshal([]byte(quoted), &once)
	_ = json.Unmarshal([]byte(once), &body)
	dc, _ := strconv.ParseInt(fmt.Sprint(env.Metadata["DeliveryCount"]), 10, 64)
	rec := sbRecord{ID: body.ID, DeliveryCount: dc, InFlight: n, Failed: dc <= body.Fail, Metadata: env.Metadata}
	appendRecord(fn+".start", rec)
	time.Sleep(time.Duration(body.SleepMs) * time.Millisecond)
	appendRecord(fn, rec)
	if rec.Failed {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"Outputs":{},"Logs":["%s %s delivery %d"],"ReturnValue":null}`, fn, body.ID, dc)
}

// appendRecord appends rec to <record dir>/<name>.jsonl.
func appendRecord(name string, rec sbRecord) {
	line, _ := json.Marshal(rec)
	sbRecordMu.Lock()
	defer sbRecordMu.Unlock()
	f, err := os.OpenFile(filepath.Join(os.Getenv("DEVHOST_TEST_RECORD"), name+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		_, _ = f.Write(append(line, '\n'))
		_ = f.Close()
	}
}

func readSBRecords(t *testing.T, dir, fn string) []sbRecord {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fn+".jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []sbRecord
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r sbRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// waitSB waits (up to a minute) until the records of fn satisfy done.
func waitSB(t *testing.T, dir, fn string, done func([]sbRecord) bool) []sbRecord {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		recs := readSBRecords(t, dir, fn)
		if done(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: records %+v", fn, recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sbFn(queue string, extra string) string {
	return `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"msg","queueName":"` + queue + `","connection":"SbConn"` + extra + `}]}`
}

const sbTopology = `{"queues": {
  "basic": {"lockDuration": "PT5S"},
  "fromsetting": {},
  "poison": {"lockDuration": "PT5S", "maxDeliveryCount": 3},
  "locks": {"lockDuration": "PT1S"},
  "limits": {"lockDuration": "PT30S"},
  "manual": {"lockDuration": "PT30S"},
  "restart": {"lockDuration": "PT2S", "requiresDuplicateDetection": true}
}}`

type sbEnv struct {
	*testHost
	sb     *stack.ServiceBus
	client *azservicebus.Client
}

func (e *sbEnv) send(t *testing.T, queue string, bodies ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := e.client.NewSender(queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for _, b := range bodies {
		var id struct{ ID string }
		_ = json.Unmarshal([]byte(b), &id)
		ct := "application/json"
		if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte(b), MessageID: &id.ID, ContentType: &ct,
			ApplicationProperties: map[string]any{"origin": "test"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// peek lists the ids of the messages in queue (any state).
func (e *sbEnv) peek(t *testing.T, queue string, sub azservicebus.SubQueue) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: sub})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	var zero int64
	ms, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &zero})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.MessageID)
	}
	return ids
}

func newSBEnv(t *testing.T) *sbEnv {
	t.Helper()
	topo := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(sbTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	sb := stack.ServiceBusT(t, stack.ServiceBusOptions{Topology: topo, StateFile: filepath.Join(t.TempDir(), "state.json")})
	fns := map[string]string{
		"SbBasic":       sbFn("basic", ""),
		"SbPoison":      sbFn("poison", ""),
		"SbPoisonDLQ":   sbFn("poison/$DeadLetterQueue", ""),
		"SbLocks":       sbFn("locks", ""),
		"SbLimits":      sbFn("limits", ""),
		"SbManual":      sbFn("manual", `,"autoCompleteMessages":false`),
		"SbRestart":     sbFn("restart", ""),
		"SbNoSetting":   `{"bindings":[{"type":"serviceBusTrigger","direction":"in","name":"msg","queueName":"basic","connection":"NotSet"}]}`,
		"SbFromSetting": sbFn("%SbQueue%", ""),
	}
	h, err := startTestHost(t, "ok", fns, func(o *Options) {
		o.Env = append(o.Env, "SbConn="+sb.ConnectionString(), "SbQueue=fromsetting")
	})
	if err != nil {
		t.Fatal(err)
	}
	// maxConcurrentCalls 2 from host.json (startTestHost writes no serviceBus section).
	c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return &sbEnv{testHost: h, sb: sb, client: c}
}

func ids(recs []sbRecord, ok bool) []string {
	var out []string
	for _, r := range recs {
		if r.Failed != ok {
			out = append(out, r.ID)
		}
	}
	slices.Sort(out)
	return out
}

// The Service Bus trigger end to end with the local peer: the payload the
// host sends, complete on 2xx, abandon and redeliver on non-2xx,
// dead-lettering after the queue's max delivery count, lock renewal,
// maxConcurrentCalls, autoCompleteMessages false, a function without its
// connection setting, and a peer restarted while messages are in flight.
func TestServiceBusTrigger(t *testing.T) {
	e := newSBEnv(t)
	dir := e.recordDir

	t.Run("payload, completion on 2xx", func(t *testing.T) {
		e.send(t, "basic", `{"id":"b1","n":7}`)
		recs := waitSB(t, dir, "SbBasic", func(r []sbRecord) bool { return len(r) >= 1 })
		r := recs[0]
		if r.ID != "b1" || r.DeliveryCount != 1 || r.Metadata["MessageId"] != `"b1"` || r.Metadata["ContentType"] != `"application/json"` ||
			r.Metadata["n"] != `"7"` || r.Metadata["ApplicationProperties"].(map[string]any)["origin"] != "test" {
			t.Fatalf("record %+v", r)
		}
		for _, k := range []string{"SequenceNumber", "EnqueuedTimeUtc", "EnqueuedTime", "LockToken", "sys", "Client"} {
			if _, ok := r.Metadata[k]; !ok {
				t.Errorf("Metadata.%s missing", k)
			}
		}
		if strings.Contains(r.Metadata["EnqueuedTimeUtc"].(string), "+") || !strings.HasSuffix(r.Metadata["EnqueuedTime"].(string), "+00:00") {
			t.Errorf("times %v %v", r.Metadata["EnqueuedTimeUtc"], r.Metadata["EnqueuedTime"])
		}
		waitFor(t, func() bool { return len(e.peek(t, "basic", 0)) == 0 }, "b1 completed")
		// A queue name from an app setting (%SbQueue%).
		e.send(t, "fromsetting", `{"id":"s1"}`)
		if recs := waitSB(t, dir, "SbFromSetting", func(r []sbRecord) bool { return len(r) >= 1 }); recs[0].ID != "s1" {
			t.Fatalf("records %+v", recs)
		}
	})

	t.Run("abandoned on non-2xx and redelivered", func(t *testing.T) {
		e.send(t, "basic", `{"id":"f1","fail":2}`)
		waitFor(t, func() bool {
			var dcs []int64
			for _, r := range readSBRecords(t, dir, "SbBasic") {
				if r.ID == "f1" {
					dcs = append(dcs, r.DeliveryCount)
				}
			}
			slices.Sort(dcs)
			return reflect.DeepEqual(dcs, []int64{1, 2, 3})
		}, "f1 delivered 3 times")
		waitFor(t, func() bool { return len(e.peek(t, "basic", 0)) == 0 }, "f1 completed")
	})

	t.Run("dead-lettered after max deliveries, then delivered from the dead-letter queue", func(t *testing.T) {
		e.send(t, "poison", `{"id":"p1","fail":99}`)
		recs := waitSB(t, dir, "SbPoisonDLQ", func(r []sbRecord) bool { return len(r) >= 1 })
		main := readSBRecords(t, dir, "SbPoison")
		if len(main) != 3 || main[2].DeliveryCount != 3 {
			t.Fatalf("deliveries from the queue: %+v", main)
		}
		props := recs[0].Metadata["ApplicationProperties"].(map[string]any)
		if recs[0].ID != "p1" || props["DeadLetterReason"] != "MaxDeliveryCountExceeded" || !strings.Contains(fmt.Sprint(props["DeadLetterErrorDescription"]), "3 delivery attempts") ||
			recs[0].Metadata["DeadLetterSource"] != `"poison"` {
			t.Fatalf("dead-letter delivery %+v", recs[0])
		}
		waitFor(t, func() bool { return len(e.peek(t, "poison", azservicebus.SubQueueDeadLetter)) == 0 }, "dead letter completed")
	})

	t.Run("lock renewed while the invocation runs", func(t *testing.T) {
		e.send(t, "locks", `{"id":"l1","sleepMs":3500}`)
		waitSB(t, dir, "SbLocks", func(r []sbRecord) bool { return len(r) >= 1 })
		waitFor(t, func() bool { return len(e.peek(t, "locks", 0)) == 0 }, "l1 completed")
		if recs := readSBRecords(t, dir, "SbLocks"); len(recs) != 1 {
			t.Fatalf("a 3.5 s invocation under a 1 s lock was delivered %d times: %+v", len(recs), recs)
		}
	})

	t.Run("autoCompleteMessages false leaves the message to its lock", func(t *testing.T) {
		e.send(t, "manual", `{"id":"m1"}`)
		waitSB(t, dir, "SbManual", func(r []sbRecord) bool { return len(r) == 1 })
		if got := e.peek(t, "manual", 0); len(got) != 1 || got[0] != "m1" {
			t.Fatalf("queue after a successful invocation: %v, want m1 still there", got)
		}
	})

	t.Run("a function without its connection setting does not listen", func(t *testing.T) {
		if readSBRecords(t, dir, "SbNoSetting") != nil {
			t.Fatal("SbNoSetting was invoked")
		}
		if !strings.Contains(e.logs.String(), "app setting NotSet (the binding's connection) is not set") {
			t.Fatal("not logged")
		}
	})

	t.Run("peer restarted while messages are in flight: nothing lost", func(t *testing.T) {
		var bodies []string
		for i := range 6 {
			bodies = append(bodies, fmt.Sprintf(`{"id":"r%d","sleepMs":1500}`, i))
		}
		e.send(t, "restart", bodies...)
		// Invocations have started and none has finished.
		waitSB(t, dir, "SbRestart.start", func(r []sbRecord) bool { return len(r) >= 1 })
		if done := readSBRecords(t, dir, "SbRestart"); len(done) != 0 {
			t.Fatalf("finished before the restart: %+v", done)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.sb.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			return len(e.peek(t, "restart", 0)) == 0 && len(slices.Compact(ids(readSBRecords(t, dir, "SbRestart"), true))) == 6
		}, "every message processed and none left")
	})
}

// TestServiceBusMaxConcurrentCalls: host.json's maxConcurrentCalls bounds
// the invocations of a function in flight.
func TestServiceBusMaxConcurrentCalls(t *testing.T) {
	topo := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(topo, []byte(sbTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	sb := stack.ServiceBusT(t, stack.ServiceBusOptions{Topology: topo})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hostJSON := strings.Replace(testHostJSON(t, exe), `"extensions": {`, `"extensions": {"serviceBus": {"maxConcurrentCalls": 2},`, 1)
	app := writeApp(t, hostJSON, map[string]string{"SbLimits": sbFn("limits", "")})
	rec := t.TempDir()
	h, err := Start(context.Background(), Options{AppDir: app, Addr: "127.0.0.1:0", ReadyTimeout: 10 * time.Second,
		Env: []string{"DEVHOST_TEST_HANDLER=ok", "DEVHOST_TEST_RECORD=" + rec, "SbConn=" + sb.ConnectionString()}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, _ := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	defer c.Close(context.Background())
	e := &sbEnv{client: c}
	var bodies []string
	for i := range 8 {
		bodies = append(bodies, fmt.Sprintf(`{"id":"c%d","sleepMs":300}`, i))
	}
	e.send(t, "limits", bodies...)
	recs := waitSB(t, rec, "SbLimits", func(r []sbRecord) bool { return len(r) == 8 })
	for _, r := range recs {
		if r.InFlight > 2 {
			t.Fatalf("%d invocations in flight with maxConcurrentCalls 2: %+v", r.InFlight, recs)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
