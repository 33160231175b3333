package servicebus

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

func TestMapError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want domain.Kind
	}{
		{"connection lost", &azservicebus.Error{Code: azservicebus.CodeConnectionLost}, domain.KindTransient},
		{"timeout", &azservicebus.Error{Code: azservicebus.CodeTimeout}, domain.KindTransient},
		{"closed", &azservicebus.Error{Code: azservicebus.CodeClosed}, domain.KindTransient},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, domain.KindTransient},
		{"deadline", context.DeadlineExceeded, domain.KindTransient},
		{"unknown", errors.New("server busy"), domain.KindTransient},
		{"unauthorized", &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, domain.KindInternal},
		{"no such queue", &azservicebus.Error{Code: azservicebus.CodeNotFound}, domain.KindInternal},
	} {
		err := mapError("op", tc.err)
		if domain.KindOf(err) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: %v (kind %s), want %s wrapping the cause", tc.name, err, domain.KindOf(err), tc.want)
		}
		var de *domain.Error
		if tc.want == domain.KindTransient && (!errors.As(err, &de) || de.RetryAfter <= 0) {
			t.Errorf("%s: no Retry-After", tc.name)
		}
	}
}

// Every failure of the broker leaves a domain kind: a queue that is down is
// transient for every effect; a cancel of a number that is not scheduled
// is success; an Apply is not the Dispatcher's.
func TestDispatchErrors(t *testing.T) {
	ctx := context.Background()
	b := fakeBroker(t)
	wf := b.c.workflow.(*fakeSender).q
	nt := b.c.notices.(*fakeSender).q
	tm := workflow.Timer{ID: "req-a/Approve1-3/Remind1", Due: time.Now()}
	n := request.Notice{ID: "req-a/completed", RequestID: "req-a", Kind: "completed"}
	effects := []request.Effect{
		{ID: "timer", Timer: &tm},
		{ID: "cancel", Cancel: &request.TimerCancel{TimerID: tm.ID, Sequence: 7}},
		{ID: "notice", Notice: &n},
	}
	wf.fail, nt.fail = errFakeDown, errFakeDown
	for _, e := range effects {
		if _, err := b.c.Dispatch(ctx, "req-a", e); !domain.Is(err, domain.KindTransient) {
			t.Errorf("%s while the queue is down: %v", e.ID, err)
		}
	}
	if err := b.c.Post(ctx, request.TimerStep("req-a", tm)); !domain.Is(err, domain.KindTransient) {
		t.Errorf("post while the queue is down: %v", err)
	}
	wf.fail, nt.fail = nil, nil
	if _, err := b.c.Dispatch(ctx, "req-a", effects[1]); err != nil {
		t.Errorf("cancel of an unscheduled number: %v", err)
	}
	if _, err := b.c.Dispatch(ctx, "req-a", request.Effect{ID: "apply", Apply: &request.ApplyChange{ProfileID: "1000"}}); !domain.Is(err, domain.KindInternal) {
		t.Errorf("apply: %v", err)
	}
	if err := b.c.Post(ctx, request.Step{RequestID: "req-a", Event: request.StepEvent{ID: "x", Type: "bogus"}}); !domain.Is(err, domain.KindInvalid) {
		t.Errorf("invalid step: %v", err)
	}
}

func TestMessageID(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct{ rid, ev, want string }{
		{"req-a", "timer:req-a/T-1/Remind1", "req-a/timer:req-a/T-1/Remind1"},
		{"req-a", "req-a/taskAssigned/T-1", "req-a/taskAssigned/T-1"},
		{"req-a", "req-ab/x", "req-a/req-ab/x"},
	} {
		if got := messageID(tc.rid, tc.ev); got != tc.want {
			t.Errorf("messageID(%q, %q) = %q, want %q", tc.rid, tc.ev, got, tc.want)
		}
	}
	a, b := messageID("req-a", long), messageID("req-a", long+"y")
	if len(a) > maxMessageIDLen || !strings.HasPrefix(a, "req-a/") || a == b || messageID("req-a", long) != a {
		t.Errorf("long ids: %q %q", a, b)
	}
	if got := messageID(long, "e"); len(got) > maxMessageIDLen {
		t.Errorf("long request id: %d characters", len(got))
	}
}

func TestNewNeedsASetting(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "ServiceBusConnection") || !strings.Contains(err.Error(), "fullyQualifiedNamespace") {
		t.Fatalf("no settings: %v", err)
	}
	const secret = "Endpoint=nonsense;SharedAccessKey=TOPSECRET"
	if _, err := New(Config{ConnectionString: secret}); err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("bad connection string: %v", err)
	}
	c, err := New(Config{Namespace: "profileflow.servicebus.windows.net", ClientID: "00000000-0000-0000-0000-000000000001"})
	if err != nil {
		t.Fatalf("identity-based: %v", err)
	}
	c.Close(context.Background())
}

// Against the real peer: once it is gone, a dispatch fails transiently
// (and within the adapter's retry budget).
func TestPeerDownIsTransient(t *testing.T) {
	sb := stack.ServiceBusT(t)
	c, err := New(Config{ConnectionString: sb.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := request.Notice{ID: "req-down/completed", RequestID: "req-down", Kind: "completed"}
	if _, err := c.Dispatch(ctx, "req-down", request.Effect{ID: n.ID, Notice: &n}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Dispatch(ctx, "req-down", request.Effect{ID: n.ID, Notice: &n}); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("peer stopped: %v, want KindTransient", err)
	}
}
