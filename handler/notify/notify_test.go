package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/request"
)

// fakeSender records SMS; fail makes the next sends fail.
type fakeSender struct {
	sent []string // "to: body"
	fail []error
}

var _ notify.Sender = (*fakeSender)(nil)

func (f *fakeSender) Send(_ context.Context, to, body string) error {
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		if err != nil {
			return err
		}
	}
	f.sent = append(f.sent, to+": "+body)
	return nil
}

func newService(t *testing.T) (*notify.Service, *fakeSender) {
	t.Helper()
	profiles := memory.NewProfiles()
	if _, err := profiles.CreateProfile(context.Background(), domain.Profile{ID: "1000", Owner: "user-1000", Phone: "+15550101000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := profiles.CreateProfile(context.Background(), domain.Profile{ID: "1001", Owner: "user-1001"}); err != nil {
		t.Fatal(err)
	}
	groups, err := notify.ParseGroupPhones("ProfileApprover=+15550100001, ProfileSupervisor=+15550100002")
	if err != nil {
		t.Fatal(err)
	}
	snd := &fakeSender{}
	return &notify.Service{Profiles: profiles, Sender: snd, Sent: memory.NewNotices(), GroupPhones: groups, Log: slog.New(slog.DiscardHandler)}, snd
}

func TestNotifyRecipientsAndTexts(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    request.Notice
		want []string
		skip int
	}{
		{"completed to the requester", request.Notice{ID: "req-a/Notify/d1", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "completed"},
			[]string{"+15550101000: profileflow: your profile change req-a was applied."}, 0},
		{"failed with the reason", request.Notice{ID: "req-a/failed", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "failed", Reason: "rejected:\nblurry scan"},
			[]string{"+15550101000: profileflow: your profile change req-a was not applied: rejected: blurry scan"}, 0},
		{"terminated", request.Notice{ID: "req-a/terminated", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "terminated"},
			[]string{"+15550101000: profileflow: your profile change req-a was cancelled."}, 0},
		{"task to its groups' phones", request.Notice{ID: "req-a/taskAssigned/T-1", RequestID: "req-a", ProfileID: "1000", Kind: "taskAssigned", Groups: []string{"ProfileApprover", "Nobody"}},
			[]string{"+15550100001: profileflow: profile change req-a waits for your approval."}, 1},
		{"reminder", request.Notice{ID: "req-a/reminder/T-1/R", RequestID: "req-a", Kind: "reminder", Groups: []string{"ProfileApprover"}},
			[]string{"+15550100001: profileflow reminder: profile change req-a still waits for your approval."}, 0},
		{"escalation", request.Notice{ID: "req-a/escalated/T-1", RequestID: "req-a", Kind: "escalated", Groups: []string{"ProfileApprover"}},
			[]string{"+15550100001: profileflow: profile change req-a was not decided in time and was escalated."}, 0},
		{"requester without a phone", request.Notice{ID: "req-b/terminated", RequestID: "req-b", ProfileID: "1001", Owner: "user-1001", Kind: "terminated"}, nil, 1},
		{"profile owned by someone else now", request.Notice{ID: "req-c/terminated", RequestID: "req-c", ProfileID: "1000", Owner: "user-9", Kind: "terminated"}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, snd := newService(t)
			res, err := s.Notify(context.Background(), tc.n)
			if err != nil || res.Sent != len(tc.want) || res.Skipped != tc.skip || strings.Join(snd.sent, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("result %+v %v, sent %q; want %q", res, err, snd.sent, tc.want)
			}
		})
	}
}

// A notice delivered again is not sent again, also after a failure that
// happened after part of its recipients were served.
func TestNotifyOncePerRecipient(t *testing.T) {
	s, snd := newService(t)
	ctx := context.Background()
	n := request.Notice{ID: "req-a/taskAssigned/T-1", RequestID: "req-a", Kind: "taskAssigned", Groups: []string{"ProfileApprover", "ProfileSupervisor"}}
	snd.fail = []error{nil, domain.E(domain.KindTransient, "twilio down")}
	if _, err := s.Notify(ctx, n); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("second recipient failing: %v", err)
	}
	res, err := s.Notify(ctx, n)
	if err != nil || res.Sent != 1 || res.Already != 1 || len(snd.sent) != 2 {
		t.Fatalf("redelivery: %+v %v %q", res, err, snd.sent)
	}
	res, err = s.Notify(ctx, n)
	if err != nil || res.Sent != 0 || res.Already != 2 || len(snd.sent) != 2 {
		t.Fatalf("third delivery: %+v %v %q", res, err, snd.sent)
	}
}

// blockingSender holds every send until release is closed, counting sends.
type blockingSender struct {
	mu      sync.Mutex
	sent    int
	started chan struct{}
	release chan struct{}
}

func (b *blockingSender) Send(context.Context, string, string) error {
	b.mu.Lock()
	b.sent++
	b.mu.Unlock()
	b.started <- struct{}{}
	<-b.release
	return nil
}

// busyLog reports every Busy claim on busy.
type busyLog struct {
	notify.SentLog
	busy chan struct{}
}

func (b *busyLog) Claim(ctx context.Context, key string) (notify.ClaimState, error) {
	st, err := b.SentLog.Claim(ctx, key)
	if st == notify.Busy {
		b.busy <- struct{}{}
	}
	return st, err
}

// Two deliveries of one notice at the same time (a redelivery while the
// first still runs, or a duplicate message): one SMS; the second waits for
// the first and counts it as already sent. A delivery that gives up
// waiting fails transiently. (Taking over a stale claim is the sent log's
// part: the store contract suite.)
func TestNotifyConcurrentDeliveriesSendOnce(t *testing.T) {
	s, _ := newService(t)
	snd := &blockingSender{started: make(chan struct{}, 4), release: make(chan struct{})}
	s.Sender = snd
	ctx := context.Background()
	n := request.Notice{ID: "req-a/Notify/d1", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "completed"}
	type out struct {
		res notify.Result
		err error
	}
	first, second := make(chan out, 1), make(chan out, 1)
	go func() { r, err := s.Notify(ctx, n); first <- out{r, err} }()
	<-snd.started // the first delivery holds the claim and is sending
	busy := &busyLog{SentLog: s.Sent, busy: make(chan struct{}, 100)}
	s.Sent = busy
	go func() { r, err := s.Notify(ctx, n); second <- out{r, err} }()
	<-busy.busy // the second finds the claim busy
	close(snd.release)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil || a.res.Sent != 1 || b.res.Already != 1 || snd.sent != 1 {
		t.Fatalf("first %+v, second %+v, %d SMS; want one SMS", a, b, snd.sent)
	}

	// A claim whose sender never finishes: a delivery gives up after
	// BusyWait with KindTransient and sends nothing.
	sent := memory.NewNotices()
	s.Sent, s.BusyWait = sent, 50*time.Millisecond
	m := request.Notice{ID: "req-b/Notify/d1", RequestID: "req-b", ProfileID: "1000", Owner: "user-1000", Kind: "completed"}
	for _, phone := range []string{"+15550101000"} {
		if st, err := sent.Claim(ctx, notify.SentKey(m.ID, phone)); err != nil || st != notify.Claimed {
			t.Fatalf("claim: %v %v", st, err)
		}
	}
	if _, err := s.Notify(ctx, m); !domain.Is(err, domain.KindTransient) || snd.sent != 1 {
		t.Fatalf("busy claim: %v, %d SMS", err, snd.sent)
	}
}

func TestNotifyUnknownProfile(t *testing.T) {
	s, _ := newService(t)
	_, err := s.Notify(context.Background(), request.Notice{ID: "x", RequestID: "req-a", ProfileID: "4040", Kind: "completed"})
	if !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestTextIsShort(t *testing.T) {
	long := strings.Repeat("ä", 500)
	for _, kind := range []string{"failed", "custom\x07kind" + long} {
		txt := notify.Text(request.Notice{RequestID: "req-0123456789abcdef01234567", Kind: kind, Reason: long})
		if n := len([]rune(txt)); n > 200 || strings.ContainsAny(txt, "\x07\n") {
			t.Errorf("%q: %d characters: %q", kind[:6], n, txt)
		}
	}
}

func TestParseGroupPhones(t *testing.T) {
	if m, err := notify.ParseGroupPhones(""); err != nil || len(m) != 0 {
		t.Fatalf("empty: %v %v", m, err)
	}
	for _, bad := range []string{"ProfileApprover", "=+15550100001", "G=15550100001", "G=+1555", "G=+15550100001,G=+15550100002", "G=+1555010000a"} {
		if _, err := notify.ParseGroupPhones(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
