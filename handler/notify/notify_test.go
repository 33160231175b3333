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
	"github.com/profileflow/profileflow/handler/stores"
)

// fakeSender records SMS; fail makes the next sends fail. SentSince
// finds what it recorded (it ignores the window).
type fakeSender struct {
	sent   []string // "to: body"
	fail   []error
	listed int
}

func (f *fakeSender) SentSince(_ context.Context, to, ref string, _, _ time.Time) (bool, error) {
	f.listed++
	for _, m := range f.sent {
		if strings.HasPrefix(m, to+": ") && strings.Contains(m, ref) {
			return true, nil
		}
	}
	return false, nil
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
	if _, err := profiles.CreateProfile(context.Background(), domain.Profile{ID: "1000", Owner: "user-1000", Phone: "+15550101000", FirstName: "Ada", LastName: "Lovelace"}); err != nil {
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
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	return &notify.Service{Profiles: profiles, Sender: snd, Sent: stores.NewNotices(memory.NewDocs(), stores.WithClock(clk.Now)), GroupPhones: groups,
		Log: slog.New(slog.DiscardHandler), Now: clk.Now, Sleep: clk.Sleep}, snd
}

// clock is a manual clock whose Sleep advances it.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	return nil
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
		{"rejected with the reason", request.Notice{ID: "req-a/failed", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "rejected", Reason: "name mismatch"},
			[]string{"+15550101000: profileflow: your profile change req-a was rejected: name mismatch"}, 0},
		{"terminated", request.Notice{ID: "req-a/terminated", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "terminated"},
			[]string{"+15550101000: profileflow: your profile change req-a was cancelled."}, 0},
		{"task to its groups' phones", request.Notice{ID: "req-a/taskAssigned/T-1", RequestID: "req-a", ProfileID: "1000", Kind: "taskAssigned", Groups: []string{"ProfileApprover", "Nobody"}},
			[]string{"+15550100001: profileflow: profile change req-a waits for your approval."}, 1},
		{"reminder", request.Notice{ID: "req-a/reminder/T-1/R", RequestID: "req-a", Kind: "reminder", Groups: []string{"ProfileApprover"}},
			[]string{"+15550100001: profileflow reminder: profile change req-a still waits for your approval."}, 0},
		{"escalation", request.Notice{ID: "req-a/escalated/T-1", RequestID: "req-a", Kind: "escalated", Groups: []string{"ProfileApprover"}},
			[]string{"+15550100001: profileflow: profile change req-a was not decided in time and was escalated."}, 0},
		{"sent back with the comment", request.Notice{ID: "req-a/sentBack/T-1", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "sentBack", Reason: "please add the\tsecond page"},
			[]string{"+15550101000: profileflow: your profile change req-a was sent back for changes: please add the second page"}, 0},
		{"expired", request.Notice{ID: "req-a/expired", RequestID: "req-a", ProfileID: "1000", Owner: "user-1000", Kind: "expired"},
			[]string{"+15550101000: profileflow: your profile change req-a expired: it was sent back and not answered in time."}, 0},
		{"requester without a phone", request.Notice{ID: "req-b/terminated", RequestID: "req-b", ProfileID: "1001", Owner: "user-1001", Kind: "terminated"}, nil, 1},
		{"profile owned by someone else now", request.Notice{ID: "req-c/terminated", RequestID: "req-c", ProfileID: "1000", Owner: "user-9", Kind: "terminated"}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, snd := newService(t)
			for i := range tc.want {
				tc.want[i] += " [" + notify.Ref(tc.n.ID) + "]"
			}
			res, err := s.Notify(context.Background(), tc.n)
			if err != nil || res.Sent != len(tc.want) || res.Skipped != tc.skip || strings.Join(snd.sent, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("result %+v %v, sent %q; want %q", res, err, snd.sent, tc.want)
			}
			// No profile data: neither the requester's subject nor the
			// profile's id, phone or names.
			for _, m := range snd.sent {
				_, text, _ := strings.Cut(m, ": ")
				for _, secret := range []string{"user-1000", "user-1001", "+15550101000", "Ada", "Lovelace"} {
					if strings.Contains(text, secret) {
						t.Errorf("text %q holds %q", text, secret)
					}
				}
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
