package servicebus

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/obs"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

// peeked is a message as a peek shows it, whatever the broker.
type peeked struct {
	Seq                                     int64
	ID, CorrelationID, ContentType, Subject string
	Props                                   map[string]any
	Body                                    []byte
	State                                   string // active or scheduled
	Scheduled                               time.Time
}

// broker is a Client and a way to look at its queues.
type broker struct {
	c    *Client
	peek func(t *testing.T, queue string) []peeked
}

func fakeBroker(t *testing.T) broker {
	wf, nt := newFakeQueue(), newFakeQueue()
	queues := map[string]*fakeQueue{WorkflowQueue: wf, NotificationsQueue: nt}
	return broker{
		c:    &Client{workflow: &fakeSender{wf}, notices: &fakeSender{nt}},
		peek: func(t *testing.T, queue string) []peeked { return queues[queue].peek() },
	}
}

// peerBroker is a Client of a real local peer (dev/sbpeer), and peeks
// through azservicebus.
func peerBroker(t *testing.T) broker {
	sb := stack.ServiceBusT(t)
	c, err := New(Config{ConnectionString: sb.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return broker{c: c, peek: func(t *testing.T, queue string) []peeked {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := c.az.NewReceiverForQueue(queue, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		var from int64
		var out []peeked
		for {
			ms, err := r.PeekMessages(ctx, 50, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				p := peeked{Seq: *m.SequenceNumber, ID: m.MessageID, CorrelationID: deref(m.CorrelationID), ContentType: deref(m.ContentType),
					Subject: deref(m.Subject), Props: m.ApplicationProperties, Body: m.Body, State: "active"}
				if m.State == azservicebus.MessageStateScheduled {
					p.State, p.Scheduled = "scheduled", *m.ScheduledEnqueueTime
				}
				out = append(out, p)
				from = *m.SequenceNumber + 1
			}
			if len(ms) < 50 {
				return out
			}
		}
	}}
}

var caseN atomic.Int64

// newRequestID is a request id no other case of this run uses.
func newRequestID() string {
	return "req-ct" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatInt(caseN.Add(1), 10)
}

func of(ps []peeked, requestID string) []peeked {
	var out []peeked
	for _, p := range ps {
		if p.CorrelationID == requestID {
			out = append(out, p)
		}
	}
	return out
}

func checkEnvelope(t *testing.T, p peeked, requestID, id, typ, subject string) {
	t.Helper()
	if p.ID != id || p.CorrelationID != requestID || p.ContentType != "application/json" || p.Subject != subject {
		t.Errorf("message id %q correlation %q content type %q subject %q; want %q %q application/json %q", p.ID, p.CorrelationID, p.ContentType, p.Subject, id, requestID, subject)
	}
	if p.Props["type"] != typ || p.Props["requestId"] != requestID || fmt.Sprint(p.Props["v"]) != "1" {
		t.Errorf("application properties %v", p.Props)
	}
}

// runContract holds a broker to what the request service relies on from
// a Dispatcher.
func runContract(t *testing.T, newBroker func(t *testing.T) broker) {
	ctx := context.Background()
	b := newBroker(t)
	timer := func(rid string, due time.Time) workflow.Timer {
		return workflow.Timer{ID: rid + "/Approve1-3/Remind1", Element: "Remind1", Task: "Approve1-3", Due: due}
	}

	t.Run("a due timer is enqueued at once as its step", func(t *testing.T) {
		rid := newRequestID()
		tm := timer(rid, time.Now().Add(-time.Second))
		seq, err := b.c.Dispatch(ctx, rid, request.Effect{ID: "timer-" + tm.ID, Timer: &tm})
		if err != nil || seq == 0 {
			t.Fatalf("dispatch: %d %v", seq, err)
		}
		got := of(b.peek(t, WorkflowQueue), rid)
		if len(got) != 1 || got[0].State != "active" || got[0].Seq != seq {
			t.Fatalf("queue %+v, want one active message with sequence number %d", got, seq)
		}
		want := request.TimerStep(rid, tm)
		checkEnvelope(t, got[0], rid, rid+"/timer:"+tm.ID, "step", "timerFired")
		if st, err := request.ParseStep(got[0].Body); err != nil || !reflect.DeepEqual(st, want) {
			t.Fatalf("body %s: %+v %v", got[0].Body, st, err)
		}
	})

	t.Run("a later timer is scheduled, withdrawn by its number, and withdrawing again succeeds", func(t *testing.T) {
		rid := newRequestID()
		tm := timer(rid, time.Now().Add(time.Hour).Truncate(time.Second))
		seq, err := b.c.Dispatch(ctx, rid, request.Effect{ID: "timer-" + tm.ID, Timer: &tm})
		if err != nil {
			t.Fatal(err)
		}
		got := of(b.peek(t, WorkflowQueue), rid)
		if len(got) != 1 || got[0].State != "scheduled" || !got[0].Scheduled.Equal(tm.Due) {
			t.Fatalf("queue %+v, want one message scheduled at %v", got, tm.Due)
		}
		cancel := request.Effect{ID: "cancel-" + tm.ID, Cancel: &request.TimerCancel{TimerID: tm.ID, Sequence: seq}}
		for i := range 2 {
			if _, err := b.c.Dispatch(ctx, rid, cancel); err != nil {
				t.Fatalf("withdraw #%d: %v", i+1, err)
			}
		}
		if got := of(b.peek(t, WorkflowQueue), rid); len(got) != 0 {
			t.Fatalf("withdrawn timer still queued: %+v", got)
		}
		for _, seq := range []int64{0, 1 << 40} {
			if _, err := b.c.Dispatch(ctx, rid, request.Effect{ID: "cancel-x", Cancel: &request.TimerCancel{TimerID: "x", Sequence: seq}}); err != nil {
				t.Fatalf("withdrawing unknown number %d: %v", seq, err)
			}
		}
	})

	t.Run("a timer dispatched twice is one message", func(t *testing.T) {
		rid := newRequestID()
		tm := timer(rid, time.Now().Add(time.Hour))
		e := request.Effect{ID: "timer-" + tm.ID, Timer: &tm}
		first, err1 := b.c.Dispatch(ctx, rid, e)
		_, err2 := b.c.Dispatch(ctx, rid, e)
		if err1 != nil || err2 != nil || first == 0 {
			t.Fatal(err1, err2)
		}
		if got := of(b.peek(t, WorkflowQueue), rid); len(got) != 1 {
			t.Fatalf("queue %+v, want one message", got)
		}
	})

	t.Run("a notice goes to the notifications queue once", func(t *testing.T) {
		rid := newRequestID()
		n := request.Notice{ID: rid + "/taskAssigned/Approve1-3", RequestID: rid, ProfileID: "1000", Owner: "user-1000", Kind: "taskAssigned", Task: "Approve1-3", Groups: []string{"ProfileApprover"}}
		for range 2 {
			if seq, err := b.c.Dispatch(ctx, rid, request.Effect{ID: n.ID, Notice: &n}); err != nil || seq != 0 {
				t.Fatalf("dispatch: %d %v", seq, err)
			}
		}
		got := of(b.peek(t, NotificationsQueue), rid)
		if len(got) != 1 {
			t.Fatalf("notifications %+v, want one", got)
		}
		checkEnvelope(t, got[0], rid, n.ID, "notice", "taskAssigned")
		if back, err := request.ParseNotice(got[0].Body); err != nil || !reflect.DeepEqual(back, n) {
			t.Fatalf("body %s: %+v %v", got[0].Body, back, err)
		}
		if len(of(b.peek(t, WorkflowQueue), rid)) != 0 {
			t.Fatal("a notice reached the workflow queue")
		}
	})

	t.Run("a posted step is one message on the workflow queue, with the caller's traceparent", func(t *testing.T) {
		rid := newRequestID()
		const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		st := request.VerdictStep(rid, "passport.pdf", request.VerdictClean, "ab12", "")
		tctx := obs.WithTraceparent(ctx, tp)
		for range 2 {
			if err := b.c.Post(tctx, st); err != nil {
				t.Fatal(err)
			}
		}
		got := of(b.peek(t, WorkflowQueue), rid)
		if len(got) != 1 || got[0].Props["traceparent"] != tp {
			t.Fatalf("queue %+v", got)
		}
		checkEnvelope(t, got[0], rid, rid+"/verdict:passport.pdf", "step", "verdict")
		if back, err := request.ParseStep(got[0].Body); err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("body %s: %+v %v", got[0].Body, back, err)
		}
	})
}

func TestDispatcherContractFake(t *testing.T) { runContract(t, fakeBroker) }

func TestDispatcherContractPeer(t *testing.T) { runContract(t, peerBroker) }
