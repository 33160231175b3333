package sbpeer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/stack"
)

// The peer's suite: every feature is driven through azservicebus v1.11, the
// SDK the application uses, against a peer started for the test (its own
// topology when the test needs other queue properties).

const testTimeout = 60 * time.Second

// sdkLog records what azservicebus logs. A peer that answers anything the
// SDK does not expect shows there first: the SDK retries, recovers the link
// or the connection, and often succeeds on a second path, so a test that
// only looked at results would pass. Tests run one at a time (none is
// parallel), so one recorder serves them all.
var sdkLog struct {
	sync.Mutex
	lines []string
}

func TestMain(m *testing.M) {
	verbose := os.Getenv("SBPEER_SDK_LOG") != ""
	azlog.SetListener(func(e azlog.Event, msg string) {
		line := fmt.Sprintf("[%s] %s", e, msg)
		sdkLog.Lock()
		sdkLog.lines = append(sdkLog.lines, line)
		sdkLog.Unlock()
		if verbose {
			fmt.Println(line)
		}
	})
	os.Exit(m.Run())
}

// sdkRecovered returns the SDK's retries and link or connection recoveries
// logged since mark (an index into sdkLog.lines); refusals the SDK does not
// retry are not counted.
func sdkRecovered(mark int) []string {
	sdkLog.Lock()
	defer sdkLog.Unlock()
	var out []string
	for _, l := range sdkLog.lines[mark:] {
		if (strings.Contains(l, "Retry attempt") && !strings.Contains(l, "non-retryable")) ||
			strings.Contains(l, "Recovering") {
			out = append(out, l)
		}
	}
	return out
}

func sdkMark() int {
	sdkLog.Lock()
	defer sdkLog.Unlock()
	return len(sdkLog.lines)
}

// expectNoRecovery fails the test if the SDK had to retry or recover
// anything while it ran.
func expectNoRecovery(t testing.TB) {
	mark := sdkMark()
	t.Cleanup(func() {
		if r := sdkRecovered(mark); len(r) > 0 {
			t.Errorf("azservicebus had to retry or recover %d times; first: %s", len(r), r[0])
		}
	})
}

// queue is one queue of a test topology (ARM property names and formats).
type queue map[string]any

// startPeer starts a peer serving queues (nil = the project topology).
// Unless the test restarts it, the SDK must not need a single retry or
// recovery while the test runs (expectNoRecovery).
func startPeer(t testing.TB, queues map[string]queue, stateFile string) *stack.ServiceBus {
	t.Helper()
	if !strings.Contains(t.Name(), "Restart") {
		expectNoRecovery(t)
	}
	o := stack.ServiceBusOptions{StateFile: stateFile}
	if queues != nil {
		raw, err := json.Marshal(map[string]any{"queues": queues})
		if err != nil {
			t.Fatal(err)
		}
		o.Topology = filepath.Join(t.TempDir(), "topology.json")
		if err := os.WriteFile(o.Topology, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return stack.ServiceBusT(t, o)
}

func newClient(t testing.TB, sb *stack.ServiceBus) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second, MaxRetries: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func sender(t testing.TB, c *azservicebus.Client, q string) *azservicebus.Sender {
	t.Helper()
	s, err := c.NewSender(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func receiver(t testing.TB, c *azservicebus.Client, q string, o *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	r, err := c.NewReceiverForQueue(q, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func send(t testing.TB, ctx context.Context, s *azservicebus.Sender, id, body string) {
	t.Helper()
	if err := s.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(body)}, nil); err != nil {
		t.Fatalf("send %s: %v", id, err)
	}
}

// receiveOne waits for the next message. Like every consumer it calls
// ReceiveMessages again when it returns nothing and no error, which the SDK
// does after it lost its link (the next call reconnects).
func receiveOne(t testing.TB, ctx context.Context, r *azservicebus.Receiver) *azservicebus.ReceivedMessage {
	t.Helper()
	for {
		msgs, err := r.ReceiveMessages(ctx, 1, nil)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		switch len(msgs) {
		case 0:
			continue
		case 1:
			return msgs[0]
		default:
			t.Fatalf("received %d messages, want 1", len(msgs))
		}
	}
}

// peekAll returns every message of the entity, in sequence order.
func peekAll(t testing.TB, ctx context.Context, r *azservicebus.Receiver) []*azservicebus.ReceivedMessage {
	t.Helper()
	var from int64 = 0
	msgs, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	return msgs
}

func ids(msgs []*azservicebus.ReceivedMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.MessageID
	}
	return out
}

func sbCode(err error) azservicebus.Code {
	var e *azservicebus.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// A message sent with every property comes back with them, with the
// broker's annotations in the types the SDK reads, and once completed it is
// gone.
func TestSendReceiveComplete(t *testing.T) {
	sb := startPeer(t, map[string]queue{"q": {"lockDuration": "PT30S"}}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "q")
	r := receiver(t, c, "q", nil)

	before := time.Now().Add(-time.Second)
	err := s.SendMessage(ctx, &azservicebus.Message{
		MessageID:     ptr("req-1:ev-1"),
		CorrelationID: ptr("req-1"),
		Subject:       ptr("TaskDecided"),
		ContentType:   ptr("application/json"),
		Body:          []byte(`{"a":1}`),
		ApplicationProperties: map[string]any{
			"kind": "task", "attempt": int64(3), "urgent": true, "ratio": 0.5,
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := receiveOne(t, ctx, r)
	if string(m.Body) != `{"a":1}` || m.MessageID != "req-1:ev-1" || *m.CorrelationID != "req-1" ||
		*m.Subject != "TaskDecided" || *m.ContentType != "application/json" {
		t.Errorf("message fields changed: %+v", m)
	}
	wantProps := map[string]any{"kind": "task", "attempt": int64(3), "urgent": true, "ratio": 0.5}
	for k, v := range wantProps {
		if m.ApplicationProperties[k] != v {
			t.Errorf("application property %s = %#v (%T), want %#v", k, m.ApplicationProperties[k], m.ApplicationProperties[k], v)
		}
	}
	if m.SequenceNumber == nil || *m.SequenceNumber != 1 {
		t.Errorf("SequenceNumber = %v, want 1", m.SequenceNumber)
	}
	if m.DeliveryCount != 1 {
		t.Errorf("DeliveryCount = %d, want 1", m.DeliveryCount)
	}
	if m.EnqueuedTime == nil || m.EnqueuedTime.Before(before) {
		t.Errorf("EnqueuedTime = %v, want after %v", m.EnqueuedTime, before)
	}
	if m.LockedUntil == nil || m.LockedUntil.Sub(*m.EnqueuedTime) < 29*time.Second {
		t.Errorf("LockedUntil = %v, want about 30 s after enqueue %v", m.LockedUntil, m.EnqueuedTime)
	}
	if m.LockToken == ([16]byte{}) {
		t.Error("no lock token")
	}
	if m.State != azservicebus.MessageStateActive {
		t.Errorf("State = %v, want active", m.State)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Errorf("after complete the queue holds %v", ids(left))
	}
	// Its lock went with it.
	if err := r.RenewMessageLock(ctx, m, nil); sbCode(err) != azservicebus.CodeLockLost {
		t.Errorf("renewing the lock of a completed message: %v, want lock lost", err)
	}
}

// Service Bus refuses links to entities that do not exist with
// amqp:not-found; the peer serves only its topology.
func TestUnknownEntityNotFound(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "no-such-queue")
	err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "amqp:not-found") {
		t.Errorf("send to unknown queue: %v, want amqp:not-found", err)
	}
	r := receiver(t, c, "no-such-queue", nil)
	_, err = r.ReceiveMessages(ctx, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "amqp:not-found") {
		t.Errorf("receive from unknown queue: %v, want amqp:not-found", err)
	}
	// The project topology's queues are there.
	for _, q := range []string{"workflow", "notifications"} {
		send(t, ctx, sender(t, c, q), "m-"+q, q)
		if m := receiveOne(t, ctx, receiver(t, c, q, nil)); string(m.Body) != q {
			t.Errorf("%s: body %q", q, m.Body)
		}
	}
}

// A batch of 3 arrives as 3 messages and one ReceiveMessages(10) returns
// all of them, in order.
func TestBatchSend(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	b, err := s.NewMessageBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.AddMessage(&azservicebus.Message{MessageID: ptr(fmt.Sprintf("b%d", i)), Body: []byte{byte('0' + i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendMessageBatch(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	r := receiver(t, c, "workflow", nil)
	msgs, err := r.ReceiveMessages(ctx, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(msgs), ","); got != "b0,b1,b2" {
		t.Fatalf("one ReceiveMessages(10) returned %q, want b0,b1,b2", got)
	}
	for i, m := range msgs {
		if *m.SequenceNumber != int64(i+1) {
			t.Errorf("%s: sequence number %d, want %d", m.MessageID, *m.SequenceNumber, i+1)
		}
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// One receiver link carries far more messages than a session holds
// unsettled deliveries (2048 in rhea): every settled delivery is let go.
func TestManyMessagesOnOneLink(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	r := receiver(t, c, "workflow", nil)
	const n = 2500
	for i := range n {
		send(t, ctx, s, fmt.Sprintf("m-%d", i), "x")
		m := receiveOne(t, ctx, r)
		if want := fmt.Sprintf("m-%d", i); m.MessageID != want {
			t.Fatalf("received %s, want %s", m.MessageID, want)
		}
		var err error
		switch i % 3 { // every outcome a peek-lock delivery can end with
		case 0:
			err = r.CompleteMessage(ctx, m, nil)
		case 1:
			if err = r.AbandonMessage(ctx, m, nil); err == nil {
				err = r.CompleteMessage(ctx, receiveOne(t, ctx, r), nil)
			}
		case 2:
			err = r.DeadLetterMessage(ctx, m, nil)
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// Abandon returns the message at once, delivered again with DeliveryCount 2.
func TestAbandonRedelivers(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "workflow"), "m1", "x")
	r := receiver(t, c, "workflow", nil)
	m := receiveOne(t, ctx, r)
	if err := r.AbandonMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	again := receiveOne(t, ctx, r)
	if again.MessageID != "m1" || again.DeliveryCount != 2 || *again.SequenceNumber != *m.SequenceNumber {
		t.Errorf("redelivered %s count %d seq %d, want m1 count 2 seq %d", again.MessageID, again.DeliveryCount, *again.SequenceNumber, *m.SequenceNumber)
	}
	if again.LockToken == m.LockToken {
		t.Error("redelivery reused the old lock token")
	}
	if err := r.CompleteMessage(ctx, again, nil); err != nil {
		t.Fatal(err)
	}
}

// An unsettled message whose lock expires is delivered again with
// DeliveryCount 2; settling the first delivery then fails with lock lost.
func TestLockExpiryRedelivers(t *testing.T) {
	sb := startPeer(t, map[string]queue{"q": {"lockDuration": "PT1S"}}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "q"), "m1", "x")
	r := receiver(t, c, "q", nil)
	first := receiveOne(t, ctx, r)
	second := receiveOne(t, ctx, r) // blocks until the lock has expired
	if second.MessageID != "m1" || second.DeliveryCount != 2 {
		t.Fatalf("after lock expiry got %s with DeliveryCount %d, want m1 with 2", second.MessageID, second.DeliveryCount)
	}
	if !second.EnqueuedTime.Equal(*first.EnqueuedTime) {
		t.Errorf("EnqueuedTime changed on redelivery: %v → %v", first.EnqueuedTime, second.EnqueuedTime)
	}
	if err := r.CompleteMessage(ctx, first, nil); sbCode(err) != azservicebus.CodeLockLost {
		t.Errorf("completing the expired delivery: %v, want lock lost", err)
	}
	if err := r.CompleteMessage(ctx, second, nil); err != nil {
		t.Errorf("completing the live delivery: %v", err)
	}
}

// After maxDeliveryCount deliveries the next abandon moves the message to
// the dead-letter queue with reason MaxDeliveryCountExceeded.
func TestMaxDeliveryCountDeadLetters(t *testing.T) {
	sb := startPeer(t, map[string]queue{"q": {"maxDeliveryCount": 3}}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "q"), "poison", "x")
	r := receiver(t, c, "q", nil)
	for i := 1; i <= 3; i++ {
		m := receiveOne(t, ctx, r)
		if m.DeliveryCount != uint32(i) {
			t.Fatalf("delivery %d has DeliveryCount %d", i, m.DeliveryCount)
		}
		if err := r.AbandonMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Errorf("queue still holds %v", ids(left))
	}
	dlq := receiver(t, c, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveOne(t, ctx, dlq)
	if d.MessageID != "poison" || d.DeadLetterReason == nil || *d.DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Fatalf("dead-lettered %s reason %v, want poison MaxDeliveryCountExceeded", d.MessageID, d.DeadLetterReason)
	}
	if d.DeadLetterErrorDescription == nil || !strings.Contains(*d.DeadLetterErrorDescription, "3 delivery attempts") {
		t.Errorf("description %v", d.DeadLetterErrorDescription)
	}
	if d.DeadLetterSource == nil || *d.DeadLetterSource != "q" {
		t.Errorf("DeadLetterSource %v, want q", d.DeadLetterSource)
	}
	if err := dlq.CompleteMessage(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
}

// DeadLetterMessage moves the message with the given reason and
// description; its body and application properties are kept.
func TestDeadLetter(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	err := sender(t, c, "workflow").SendMessage(ctx, &azservicebus.Message{
		MessageID: ptr("bad"), Body: []byte("payload"), ApplicationProperties: map[string]any{"requestId": "r1"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := receiver(t, c, "workflow", nil)
	m := receiveOne(t, ctx, r)
	if err := r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{
		Reason: ptr("MalformedEvent"), ErrorDescription: ptr("field x missing"),
	}); err != nil {
		t.Fatal(err)
	}
	dlq := receiver(t, c, "workflow", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveOne(t, ctx, dlq)
	if string(d.Body) != "payload" || d.ApplicationProperties["requestId"] != "r1" {
		t.Errorf("dead-lettered message changed: body %q props %v", d.Body, d.ApplicationProperties)
	}
	if *d.DeadLetterReason != "MalformedEvent" || *d.DeadLetterErrorDescription != "field x missing" {
		t.Errorf("reason %q description %q", *d.DeadLetterReason, *d.DeadLetterErrorDescription)
	}
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Errorf("queue still holds %v", ids(left))
	}
}

// RenewMessageLock extends the lock by the lock duration: the message is
// still held and completes after its first lock would have expired.
func TestRenewLock(t *testing.T) {
	sb := startPeer(t, map[string]queue{"q": {"lockDuration": "PT2S"}}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "q"), "long", "x")
	r := receiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	first := *m.LockedUntil
	time.Sleep(1200 * time.Millisecond)
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if !m.LockedUntil.After(first.Add(time.Second)) {
		t.Fatalf("renewed LockedUntil %v, want > %v", m.LockedUntil, first.Add(time.Second))
	}
	time.Sleep(time.Until(first.Add(300 * time.Millisecond)))
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("complete after the first lock's expiry: %v", err)
	}
	if err := r.RenewMessageLock(ctx, m, nil); sbCode(err) != azservicebus.CodeLockLost {
		t.Errorf("renewing a completed message: %v, want lock lost", err)
	}
}

// PeekMessages shows messages in sequence order, locked or scheduled ones
// too, without locking them, and pages on from the last one peeked.
func TestPeek(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	for _, id := range []string{"p1", "p2", "p3"} {
		send(t, ctx, s, id, id)
	}
	if _, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{MessageID: ptr("later"), Body: []byte("x")}}, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	r := receiver(t, c, "workflow", nil)
	locked := receiveOne(t, ctx, r) // p1 is locked now

	page1, err := r.PeekMessages(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	page2, err := r.PeekMessages(ctx, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(page1), ",") + "|" + strings.Join(ids(page2), ","); got != "p1,p2|p3,later" {
		t.Fatalf("peek pages %q, want p1,p2|p3,later", got)
	}
	if page2[1].State != azservicebus.MessageStateScheduled || page2[1].ScheduledEnqueueTime == nil {
		t.Errorf("scheduled message peeked as state %v, scheduled %v", page2[1].State, page2[1].ScheduledEnqueueTime)
	}
	if page1[0].LockToken != ([16]byte{}) {
		t.Error("a peeked message carries a lock token")
	}
	// Peeking locked nothing: p2 and p3 are received next, p1 stays locked.
	if err := r.CompleteMessage(ctx, locked, nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := r.ReceiveMessages(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(msgs), ","); got != "p2,p3" && got != "p2" {
		t.Errorf("after peeking received %q, want p2 first", got)
	}
}

// ReceiveAndDelete takes the message away at delivery.
func TestReceiveAndDelete(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "notifications"), "n1", "hello")
	r := receiver(t, c, "notifications", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveOne(t, ctx, r)
	if string(m.Body) != "hello" || m.DeliveryCount != 1 {
		t.Errorf("got %q count %d", m.Body, m.DeliveryCount)
	}
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Errorf("queue still holds %v", ids(left))
	}
}

// Scheduled messages — by ScheduleMessages ($management) and by
// ScheduledEnqueueTime on a sent message — are invisible to receivers
// until their time and are enqueued then.
func TestScheduledMessages(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	at := time.Now().Add(1500 * time.Millisecond).Truncate(time.Millisecond)
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{
		{MessageID: ptr("timer-1"), Body: []byte("a")},
		{MessageID: ptr("timer-2"), Body: []byte("b")},
	}, at, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("sequence numbers %v, want [1 2]", seqs)
	}
	viaSend := at.Add(300 * time.Millisecond)
	if err := s.SendMessage(ctx, &azservicebus.Message{MessageID: ptr("timer-3"), Body: []byte("c"), ScheduledEnqueueTime: &viaSend}, nil); err != nil {
		t.Fatal(err)
	}
	send(t, ctx, s, "now", "d")

	r := receiver(t, c, "workflow", nil)
	var got []string
	for len(got) < 4 {
		msgs, err := r.ReceiveMessages(ctx, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, m.MessageID)
			if m.MessageID != "now" {
				want := at
				if m.MessageID == "timer-3" {
					want = viaSend
				}
				if m.EnqueuedTime.Before(want) || m.ScheduledEnqueueTime == nil || !m.ScheduledEnqueueTime.Equal(want) {
					t.Errorf("%s: enqueued %v scheduled %v, want both at %v", m.MessageID, m.EnqueuedTime, m.ScheduledEnqueueTime, want)
				}
				if time.Now().Before(want) {
					t.Errorf("%s received before its scheduled time", m.MessageID)
				}
			}
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(got, ",") != "now,timer-1,timer-2,timer-3" {
		t.Errorf("received %v, want now first, then the timers in order", got)
	}
}

// A cancelled scheduled message is never enqueued; cancelling it again, or
// cancelling an unknown sequence number, fails with not found.
func TestCancelScheduledMessage(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	at := time.Now().Add(time.Second)
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{
		{MessageID: ptr("reminder"), Body: []byte("a")},
		{MessageID: ptr("escalation"), Body: []byte("b")},
	}, at, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CancelScheduledMessages(ctx, seqs[:1], nil); err != nil {
		t.Fatal(err)
	}
	// A marker scheduled after both shows that the cancelled one's time has
	// passed when it arrives.
	if _, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{MessageID: ptr("marker"), Body: []byte("m")}}, at.Add(500*time.Millisecond), nil); err != nil {
		t.Fatal(err)
	}
	r := receiver(t, c, "workflow", nil)
	var got []string
	for len(got) < 2 {
		msgs, err := r.ReceiveMessages(ctx, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, m.MessageID)
			_ = r.CompleteMessage(ctx, m, nil)
		}
	}
	if strings.Join(got, ",") != "escalation,marker" {
		t.Errorf("received %v, want escalation,marker (reminder cancelled)", got)
	}
	err = s.CancelScheduledMessages(ctx, seqs[:1], nil)
	if sbCode(err) != azservicebus.CodeNotFound {
		t.Errorf("cancelling again: %v, want not found", err)
	}
	if err := s.CancelScheduledMessages(ctx, []int64{999}, nil); sbCode(err) != azservicebus.CodeNotFound {
		t.Errorf("cancelling an unknown sequence number: %v, want not found", err)
	}
}

// With requiresDuplicateDetection a MessageId seen within the window is
// accepted and dropped — also after the first copy was completed — and
// accepted again once the window has passed.
func TestDuplicateDetection(t *testing.T) {
	sb := startPeer(t, map[string]queue{
		"dedup":   {"requiresDuplicateDetection": true, "duplicateDetectionHistoryTimeWindow": "PT1S"},
		"nodedup": {},
	}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "dedup")
	send(t, ctx, s, "req-1:ev-1", "first")
	send(t, ctx, s, "req-1:ev-1", "second")
	send(t, ctx, s, "req-1:ev-2", "other")
	r := receiver(t, c, "dedup", nil)
	all := peekAll(t, ctx, r)
	if got := strings.Join(ids(all), ","); got != "req-1:ev-1,req-1:ev-2" || string(all[0].Body) != "first" {
		t.Fatalf("queue holds %q (first body %q), want the first copy and ev-2", got, all[0].Body)
	}
	for range 2 {
		if err := r.CompleteMessage(ctx, receiveOne(t, ctx, r), nil); err != nil {
			t.Fatal(err)
		}
	}
	send(t, ctx, s, "req-1:ev-1", "after complete")
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Fatalf("a duplicate after complete was enqueued: %v", ids(left))
	}
	time.Sleep(1200 * time.Millisecond) // past the 1 s window
	send(t, ctx, s, "req-1:ev-1", "after window")
	if m := receiveOne(t, ctx, r); string(m.Body) != "after window" {
		t.Errorf("after the window got %q", m.Body)
	}

	// Without duplicate detection both copies are kept.
	s2 := sender(t, c, "nodedup")
	send(t, ctx, s2, "same", "1")
	send(t, ctx, s2, "same", "2")
	if n := len(peekAll(t, ctx, receiver(t, c, "nodedup", nil))); n != 2 {
		t.Errorf("queue without duplicate detection holds %d, want 2", n)
	}
}

// Messages past their time to live are dead-lettered (with
// deadLetteringOnMessageExpiration) or dropped; a message's own shorter
// TimeToLive wins over the queue default.
func TestTimeToLive(t *testing.T) {
	sb := startPeer(t, map[string]queue{
		"dl":   {"defaultMessageTimeToLive": "PT1S", "deadLetteringOnMessageExpiration": true},
		"drop": {"defaultMessageTimeToLive": "P1D"},
	}, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	send(t, ctx, sender(t, c, "dl"), "old", "x")
	dlq := receiver(t, c, "dl", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveOne(t, ctx, dlq) // arrives once the message has expired
	if d.MessageID != "old" || *d.DeadLetterReason != "TTLExpiredException" {
		t.Errorf("dead-lettered %s reason %v, want old TTLExpiredException", d.MessageID, *d.DeadLetterReason)
	}
	if d.TimeToLive == nil {
		t.Error("no TimeToLive on the message")
	}

	s := sender(t, c, "drop")
	if err := s.SendMessage(ctx, &azservicebus.Message{MessageID: ptr("short"), Body: []byte("x"), TimeToLive: ptr(500 * time.Millisecond)}, nil); err != nil {
		t.Fatal(err)
	}
	send(t, ctx, s, "long", "y")
	r := receiver(t, c, "drop", nil)
	time.Sleep(800 * time.Millisecond)
	if got := ids(peekAll(t, ctx, r)); strings.Join(got, ",") != "long" {
		t.Errorf("after 800 ms the queue holds %v, want only long", got)
	}
	if n := len(peekAll(t, ctx, receiver(t, c, "drop", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}))); n != 0 {
		t.Errorf("expired message dead-lettered without deadLetteringOnMessageExpiration (%d)", n)
	}
}

// A deferred message is only received by its sequence number and settled
// through $management.
func TestDefer(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	send(t, ctx, s, "later", "x")
	send(t, ctx, s, "next", "y")
	r := receiver(t, c, "workflow", nil)
	m := receiveOne(t, ctx, r)
	if err := r.DeferMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	if n := receiveOne(t, ctx, r); n.MessageID != "next" {
		t.Fatalf("after defer received %s, want next", n.MessageID)
	} else if err := r.CompleteMessage(ctx, n, nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReceiveDeferredMessages(ctx, []int64{*m.SequenceNumber}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].MessageID != "later" || got[0].State != azservicebus.MessageStateDeferred || got[0].DeliveryCount != 2 {
		t.Fatalf("deferred receive %+v", got)
	}
	if err := r.CompleteMessage(ctx, got[0], nil); err != nil {
		t.Fatal(err)
	}
	if left := peekAll(t, ctx, r); len(left) != 0 {
		t.Errorf("queue still holds %v", ids(left))
	}
}

// The peer restarted under a connected client (its connection drops): the
// same client, sender and receiver keep working once it is back.
func TestReconnectAfterPeerRestart(t *testing.T) {
	sb := startPeer(t, nil, "")
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "workflow")
	r := receiver(t, c, "workflow", nil)
	send(t, ctx, s, "before", "x")
	if err := r.CompleteMessage(ctx, receiveOne(t, ctx, r), nil); err != nil {
		t.Fatal(err)
	}
	oldPID := sb.PID
	if err := sb.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if sb.PID == oldPID {
		t.Fatal("restart kept the old process")
	}
	send(t, ctx, s, "after", "y")
	m := receiveOne(t, ctx, r)
	if m.MessageID != "after" {
		t.Errorf("after restart received %s", m.MessageID)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
}

// With a state file, a restart loses nothing: ready, locked (in flight),
// scheduled and dead-lettered messages, sequence numbers and the duplicate
// detection history survive it.
func TestRestartWithStateLosesNothing(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sb-state.json")
	sb := startPeer(t, map[string]queue{"q": {
		"lockDuration": "PT1S", "requiresDuplicateDetection": true,
	}}, state)
	c := newClient(t, sb)
	ctx := testCtx(t)
	s := sender(t, c, "q")
	r := receiver(t, c, "q", nil)
	for _, id := range []string{"a", "b", "c"} {
		send(t, ctx, s, id, id)
	}
	if _, err := s.ScheduleMessages(ctx, []*azservicebus.Message{{MessageID: ptr("timer"), Body: []byte("t")}}, time.Now().Add(1500*time.Millisecond), nil); err != nil {
		t.Fatal(err)
	}
	inFlight := receiveOne(t, ctx, r) // a: locked, never settled
	if inFlight.MessageID != "a" {
		t.Fatalf("first received %s", inFlight.MessageID)
	}
	dl := receiveOne(t, ctx, r) // b: dead-lettered
	if err := r.DeadLetterMessage(ctx, dl, &azservicebus.DeadLetterOptions{Reason: ptr("test")}); err != nil {
		t.Fatal(err)
	}

	if err := sb.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	send(t, ctx, s, "c", "duplicate") // dropped: c is in the history
	send(t, ctx, s, "d", "d")
	got := map[string]*azservicebus.ReceivedMessage{}
	for len(got) < 4 {
		msgs, err := r.ReceiveMessages(ctx, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if _, seen := got[m.MessageID]; seen {
				t.Fatalf("%s delivered twice", m.MessageID)
			}
			got[m.MessageID] = m
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, want := range map[string]string{"a": "a", "c": "c", "timer": "t", "d": "d"} {
		if m := got[id]; m == nil || string(m.Body) != want {
			t.Errorf("%s: %v, want body %q", id, m, want)
		}
	}
	if got["a"].DeliveryCount != 2 {
		t.Errorf("the in-flight message came back with DeliveryCount %d, want 2", got["a"].DeliveryCount)
	}
	if *got["d"].SequenceNumber != 5 {
		t.Errorf("sequence numbers restarted: d has %d, want 5", *got["d"].SequenceNumber)
	}
	d := receiveOne(t, ctx, receiver(t, c, "q", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}))
	if d.MessageID != "b" || *d.DeadLetterReason != "test" {
		t.Errorf("dead-letter queue after restart: %s %v", d.MessageID, d.DeadLetterReason)
	}
}

// A topology the peer cannot serve stops the start with its reason.
func TestBadTopologyRefused(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "is not JSON"},
		{"unknown key", `{"topics": {}}`, `unknown key "topics"`},
		{"unknown property", `{"queues": {"q": {"requiresSession": true}}}`, `unknown property "requiresSession"`},
		{"bad duration", `{"queues": {"q": {"lockDuration": "30s"}}}`, "not an ISO 8601 duration"},
		{"lock too long", `{"queues": {"q": {"lockDuration": "PT6M"}}}`, "lockDuration: must be between"},
		{"bad count", `{"queues": {"q": {"maxDeliveryCount": 0}}}`, "maxDeliveryCount: must be an integer"},
		{"bad name", `{"queues": {"a/b": {}}}`, "not a valid queue name"},
		{"twice", `{"queues": {"q": {}, "Q": {}}}`, "declared twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "topology.json")
			if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			sb, err := stack.StartServiceBus(testCtx(t), stack.ServiceBusOptions{Topology: path, LogDir: t.TempDir()})
			if err == nil {
				_ = sb.Stop()
				t.Fatal("peer started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to name %q", err, tc.want)
			}
		})
	}
}

// BenchmarkSendReceiveComplete measures messages per second through the
// peer with azservicebus: one message sent, received and completed at a
// time ("single"), and in batches of 10 (SendMessageBatch, ReceiveMessages
// of 10, ten completes); with the queues in memory and with a state file
// (every change written before it is acknowledged).
func BenchmarkSendReceiveComplete(b *testing.B) {
	for _, store := range []string{"memory", "state-file"} {
		b.Run(store, func(b *testing.B) {
			state := ""
			if store == "state-file" {
				state = filepath.Join(b.TempDir(), "state.json")
			}
			sb := startPeer(b, nil, state)
			c := newClient(b, sb)
			ctx := context.Background()
			s := sender(b, c, "workflow")
			r := receiver(b, c, "workflow", nil)
			b.Run("single", func(b *testing.B) {
				start := time.Now()
				for i := 0; b.Loop(); i++ {
					send(b, ctx, s, fmt.Sprintf("s-%d", i), "payload")
					if err := r.CompleteMessage(ctx, receiveOne(b, ctx, r), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
			b.Run("batch10", func(b *testing.B) {
				start := time.Now()
				n := 0
				for i := 0; b.Loop(); i++ {
					batch, err := s.NewMessageBatch(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					for j := range 10 {
						if err := batch.AddMessage(&azservicebus.Message{MessageID: ptr(fmt.Sprintf("b-%d-%d", i, j)), Body: []byte("payload")}, nil); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
						b.Fatal(err)
					}
					for got := 0; got < 10; {
						msgs, err := r.ReceiveMessages(ctx, 10-got, nil)
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
					n += 10
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
			})
		})
	}
}
