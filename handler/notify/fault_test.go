package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/sms"
	"github.com/profileflow/profileflow/handler/stores"
)

// hookLog is a SentLog whose MarkSent fails while failMarks > 0 (the
// handler stopping between the provider's answer and the mark) and whose
// Intend runs beforeIntend once (another delivery overtaking this one).
type hookLog struct {
	notify.SentLog
	failMarks    int
	beforeIntend func()
}

func (h *hookLog) MarkSent(ctx context.Context, key string) error {
	if h.failMarks > 0 {
		h.failMarks--
		return domain.E(domain.KindTransient, "handler stopped before the sent mark")
	}
	return h.SentLog.MarkSent(ctx, key)
}

func (h *hookLog) Intend(ctx context.Context, key string, prev notify.Mark) (notify.Mark, error) {
	if f := h.beforeIntend; f != nil {
		h.beforeIntend = nil
		f()
	}
	return h.SentLog.Intend(ctx, key, prev)
}

// twilioEnv is the Notify use case over the real Twilio adapter talking to
// the fake Twilio API on loopback, the sent log over the in-memory store,
// and a manual clock shared by all three.
type twilioEnv struct {
	fake *faketwilio.Server
	svc  *notify.Service
	log  *hookLog
	clk  *clock
}

func newTwilioEnv(t *testing.T) *twilioEnv {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := faketwilio.New("", "", "", &outbox.Box{})
	fake.Now = clk.Now
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake twilio: %v", err)
	}
	t.Cleanup(func() { _ = stop() })
	client, err := sms.New(sms.Config{AccountSID: fake.AccountSID, AuthToken: fake.AuthToken, VerifyServiceSID: fake.ServiceSID,
		FromNumber: "+15550000000", BaseURL: base, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	profiles := memory.NewProfiles()
	if _, err := profiles.CreateProfile(context.Background(), domain.Profile{ID: "1000", Owner: "user-1000", Phone: "+15550101000"}); err != nil {
		t.Fatal(err)
	}
	hl := &hookLog{SentLog: stores.NewNotices(memory.NewDocs(), stores.WithClock(clk.Now))}
	svc := &notify.Service{Profiles: profiles, Sender: client, Sent: hl,
		GroupPhones: map[string]string{"ProfileApprover": "+15550100001"},
		Log:         slog.New(slog.DiscardHandler), Now: clk.Now, Sleep: clk.Sleep}
	return &twilioEnv{fake: fake, svc: svc, log: hl, clk: clk}
}

// Each fault delivers a notice until a delivery succeeds (at most five
// times) and the outbox holds exactly one SMS carrying its reference.
func TestNotifyFaultsSendOnce(t *testing.T) {
	completed := request.Notice{ID: "req-a/Notify/end", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "completed"}
	task := request.Notice{ID: "req-a/taskAssigned/T-1", RequestID: "req-a", Kind: "taskAssigned", Groups: []string{"ProfileApprover"}}
	for _, tc := range []struct {
		name      string
		n         request.Notice
		to        string
		fault     func(e *twilioEnv)
		failures  int  // deliveries that fail before one succeeds
		recovered bool // the last delivery found the SMS at the provider
		waits     bool // the last delivery let a fresh intent settle
	}{
		{"redelivered after success", completed, "+15550101000", func(*twilioEnv) {}, 0, false, false},
		{"handler stopped after the send, before the mark", completed, "+15550101000",
			func(e *twilioEnv) { e.log.failMarks = 1 }, 1, true, true},
		{"stopped after the send to an approver phone", task, "+15550100001",
			func(e *twilioEnv) { e.log.failMarks = 1 }, 1, true, true},
		{"Twilio down after the intent", completed, "+15550101000",
			func(e *twilioEnv) { e.fake.Fail(faketwilio.OpSend, 503, 20503, 1) }, 1, false, true},
		{"Twilio down after the intent and for the check", completed, "+15550101000",
			func(e *twilioEnv) {
				e.fake.Fail(faketwilio.OpSend, 503, 20503, 1)
				e.fake.Fail(faketwilio.OpList, 503, 20503, 1)
			}, 2, false, false},
		{"stopped twice after sending", completed, "+15550101000",
			func(e *twilioEnv) { e.log.failMarks = 2 }, 2, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTwilioEnv(t)
			tc.fault(e)
			ctx := context.Background()
			var res notify.Result
			var err error
			for i := range tc.failures + 1 {
				e.clk.slept = 0
				res, err = e.svc.Notify(ctx, tc.n)
				if (err != nil) != (i < tc.failures) {
					t.Fatalf("delivery %d: %+v %v", i+1, res, err)
				}
				if err != nil && !domain.Is(err, domain.KindTransient) {
					t.Fatalf("delivery %d failed with a permanent error: %v", i+1, err)
				}
			}
			if tc.recovered != (res.Recovered == 1) || (e.clk.slept > 0) != tc.waits {
				t.Errorf("last delivery %+v, waited %v", res, e.clk.slept)
			}
			// Later redeliveries change nothing.
			if again, err := e.svc.Notify(ctx, tc.n); err != nil || again.Already != 1 || again.Sent != 0 {
				t.Fatalf("redelivery after success: %+v %v", again, err)
			}
			msgs := e.fake.Outbox().List("")
			if len(msgs) != 1 || msgs[0].To != tc.to || !strings.HasSuffix(msgs[0].Body, "["+notify.Ref(tc.n.ID)+"]") {
				t.Fatalf("outbox %+v; want one SMS to %s", msgs, tc.to)
			}
		})
	}
}

// Two deliveries of one notice at once: the one that records its intent
// second backs off (KindTransient) and its redelivery finds the SMS sent.
func TestNotifyConcurrentDeliveries(t *testing.T) {
	e := newTwilioEnv(t)
	ctx := context.Background()
	n := request.Notice{ID: "req-a/failed", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "failed", Reason: "rejected: unreadable"}
	var other notify.Result
	var otherErr error
	e.log.beforeIntend = func() { other, otherErr = e.svc.Notify(ctx, n) }
	_, err := e.svc.Notify(ctx, n)
	if otherErr != nil || other.Sent != 1 || !domain.Is(err, domain.KindTransient) {
		t.Fatalf("overtaking delivery %+v %v; overtaken one %v", other, otherErr, err)
	}
	res, err := e.svc.Notify(ctx, n)
	if err != nil || res.Already != 1 || res.Sent != 0 {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	if msgs := e.fake.Outbox().List(""); len(msgs) != 1 {
		t.Fatalf("outbox %+v", msgs)
	}
}

// A second notice of the same request to the same phone is a different
// SMS: the reference tells them apart.
func TestNotifyReferenceTellsNoticesApart(t *testing.T) {
	e := newTwilioEnv(t)
	ctx := context.Background()
	a := request.Notice{ID: "req-a/taskAssigned/T-1", RequestID: "req-a", Kind: "taskAssigned", Groups: []string{"ProfileApprover"}}
	b := a
	b.ID = "req-a/taskAssigned/T-2"
	e.log.failMarks = 1
	if _, err := e.svc.Notify(ctx, a); err == nil {
		t.Fatal("stopped delivery succeeded")
	}
	// b is sent in between; a's redelivery must not take b's SMS for its own.
	if res, err := e.svc.Notify(ctx, b); err != nil || res.Sent != 1 {
		t.Fatalf("b: %+v %v", res, err)
	}
	if res, err := e.svc.Notify(ctx, a); err != nil || res.Recovered != 1 {
		t.Fatalf("a redelivered: %+v %v", res, err)
	}
	if msgs := e.fake.Outbox().List(""); len(msgs) != 2 {
		t.Fatalf("outbox %+v", msgs)
	}
}
