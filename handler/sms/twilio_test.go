package sms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/sms"
)

const phone = "+15555551000"

var _ mfa.Verifier = (*sms.Client)(nil)

// start runs the fake Twilio API on loopback and a client pointed at it.
func start(t *testing.T, timeout time.Duration) (*faketwilio.Server, *sms.Client) {
	t.Helper()
	fake := faketwilio.New("", "", "", &outbox.Box{})
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake twilio: %v", err)
	}
	t.Cleanup(func() { _ = stop() })
	c, err := sms.New(sms.Config{
		AccountSID: fake.AccountSID, AuthToken: fake.AuthToken, VerifyServiceSID: fake.ServiceSID,
		FromNumber: "+15550000000", BaseURL: base, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func lastPIN(t *testing.T, box *outbox.Box, to string) string {
	t.Helper()
	msgs := box.List(to)
	if len(msgs) == 0 {
		t.Fatal("no SMS in the outbox")
	}
	pin := faketwilio.PIN(msgs[len(msgs)-1].Body)
	if len(pin) != 6 {
		t.Fatalf("no 6-digit PIN in %q", msgs[len(msgs)-1].Body)
	}
	return pin
}

func TestVerifyFlow(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	ctx := context.Background()
	sid, err := c.StartVerification(ctx, phone)
	if err != nil || len(sid) != 34 || sid[:2] != "VE" {
		t.Fatalf("start: %q %v", sid, err)
	}
	pin := lastPIN(t, fake.Outbox(), phone)
	wrong := "000000"
	if pin == wrong {
		wrong = "111111"
	}
	if ok, err := c.CheckVerification(ctx, sid, phone, wrong); ok || err != nil {
		t.Fatalf("wrong code: %v %v", ok, err)
	}
	if ok, err := c.CheckVerification(ctx, sid, phone, pin); !ok || err != nil {
		t.Fatalf("right code: %v %v", ok, err)
	}
	// Approved verifications are deleted: a replay is 20404 → gone.
	if _, err := c.CheckVerification(ctx, sid, phone, pin); domain.KindOf(err) != domain.KindGone {
		t.Fatalf("replay: %v, want gone", err)
	}
}

func TestResendWithinWindowSendsSameCode(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	ctx := context.Background()
	sid1, _ := c.StartVerification(ctx, phone)
	pin1 := lastPIN(t, fake.Outbox(), phone)
	sid2, err := c.StartVerification(ctx, phone)
	if err != nil || sid2 != sid1 || lastPIN(t, fake.Outbox(), phone) != pin1 {
		t.Fatalf("resend: %v %v", sid2, err)
	}
	// Twilio allows 5 sends per verification, then 60203.
	for range 3 {
		if _, err := c.StartVerification(ctx, phone); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.StartVerification(ctx, phone)
	if domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("6th send: %v, want rate limited", err)
	}
}

func TestMaxChecks(t *testing.T) {
	_, c := start(t, 5*time.Second)
	ctx := context.Background()
	sid, _ := c.StartVerification(ctx, phone)
	for range 5 {
		if _, err := c.CheckVerification(ctx, sid, phone, "0000000"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CheckVerification(ctx, sid, phone, "0000000")
	if domain.KindOf(err) != domain.KindRateLimited {
		t.Fatalf("6th check: %v, want rate limited", err)
	}
}

func TestExpiredVerificationIsGone(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	now := time.Now()
	fake.Now = func() time.Time { return now }
	ctx := context.Background()
	sid, _ := c.StartVerification(ctx, phone)
	pin := lastPIN(t, fake.Outbox(), phone)
	fake.Now = func() time.Time { return now.Add(10 * time.Minute) }
	if _, err := c.CheckVerification(ctx, sid, phone, pin); domain.KindOf(err) != domain.KindGone {
		t.Fatalf("expired: %v, want gone", err)
	}
}

func TestInvalidPhone(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	_, err := c.StartVerification(context.Background(), "12345")
	if domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("invalid phone: %v, want invalid", err)
	}
	if n := len(fake.Outbox().List("")); n != 0 {
		t.Errorf("%d SMS sent", n)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name         string
		op           string
		status, code int
		want         domain.Kind
		retryAfter   bool
	}{
		{"invalid parameter on start", faketwilio.OpStart, 400, 60200, domain.KindInvalid, false},
		{"invalid parameter on check", faketwilio.OpCheck, 400, 60200, domain.KindInvalid, false},
		{"max check attempts", faketwilio.OpCheck, 429, 60202, domain.KindRateLimited, true},
		{"max send attempts", faketwilio.OpStart, 429, 60203, domain.KindRateLimited, true},
		{"concurrent verifications", faketwilio.OpStart, 429, 60212, domain.KindRateLimited, true},
		{"not found on check", faketwilio.OpCheck, 404, 20404, domain.KindGone, false},
		{"twilio rate limit", faketwilio.OpStart, 429, 20429, domain.KindTransient, true},
		{"twilio rate limit on check", faketwilio.OpCheck, 429, 20429, domain.KindTransient, true},
		{"twilio 500", faketwilio.OpStart, 500, 20500, domain.KindTransient, true},
		{"twilio 503 on check", faketwilio.OpCheck, 503, 20503, domain.KindTransient, true},
		{"proxy 502 without JSON", faketwilio.OpStart, 502, 0, domain.KindTransient, true},
		{"auth failure", faketwilio.OpStart, 401, 20003, domain.KindInternal, false},
		{"messaging 500", faketwilio.OpSend, 500, 20500, domain.KindTransient, true},
		{"messaging bad number", faketwilio.OpSend, 400, 21211, domain.KindInvalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, c := start(t, 5*time.Second)
			ctx := context.Background()
			sid := ""
			if tc.op == faketwilio.OpCheck {
				var err error
				if sid, err = c.StartVerification(ctx, phone); err != nil {
					t.Fatal(err)
				}
			}
			fake.Fail(tc.op, tc.status, tc.code, 1)
			var err error
			switch tc.op {
			case faketwilio.OpStart:
				_, err = c.StartVerification(ctx, phone)
			case faketwilio.OpCheck:
				_, err = c.CheckVerification(ctx, sid, phone, "123456")
			case faketwilio.OpSend:
				err = c.Send(ctx, phone, "hello")
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != tc.want {
				t.Fatalf("err = %v, want kind %v", err, tc.want)
			}
			if tc.retryAfter != (de.RetryAfter > 0) {
				t.Errorf("RetryAfter = %v, want set=%v", de.RetryAfter, tc.retryAfter)
			}
			// The fault was one-shot: the next call works.
			if tc.op == faketwilio.OpStart {
				if _, err := c.StartVerification(ctx, phone); err != nil {
					t.Errorf("after the fault: %v", err)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	fake, c := start(t, 200*time.Millisecond)
	fake.SetDelay(2 * time.Second)
	t0 := time.Now()
	_, err := c.StartVerification(context.Background(), phone)
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindTransient || de.RetryAfter <= 0 {
		t.Fatalf("err = %v, want transient with Retry-After", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("took %v despite a 200ms timeout", d)
	}
}

func TestContextCancel(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	fake.SetDelay(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.StartVerification(ctx, phone)
	if domain.KindOf(err) != domain.KindTransient {
		t.Fatalf("err = %v, want transient", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("took %v despite the context deadline", d)
	}
}

func TestSendNotification(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	if err := c.Send(context.Background(), phone, "Your profile change was approved."); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Outbox().List(phone)
	if len(msgs) != 1 || msgs[0].Body != "Your profile change was approved." {
		t.Errorf("outbox = %+v", msgs)
	}
}

func TestWrongCredentials(t *testing.T) {
	fake, _ := start(t, 5*time.Second)
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c, _ := sms.New(sms.Config{AccountSID: fake.AccountSID, AuthToken: "wrong", VerifyServiceSID: fake.ServiceSID, BaseURL: base})
	if _, err := c.StartVerification(context.Background(), phone); domain.KindOf(err) != domain.KindInternal {
		t.Fatalf("err = %v, want internal (misconfiguration)", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := sms.New(sms.Config{AccountSID: "AC1"}); err == nil {
		t.Error("missing token/service accepted")
	}
	if _, err := sms.New(sms.Config{AccountSID: "AC1", AuthToken: "x", VerifyServiceSID: "VA1", BaseURL: "ftp://x"}); err == nil {
		t.Error("bad base URL accepted")
	}
}

func TestNewRefusesNonAlphanumericCredentials(t *testing.T) {
	if _, err := sms.New(sms.Config{AccountSID: "AC1", AuthToken: "local-fake-token", VerifyServiceSID: "VA1"}); err == nil {
		t.Error("hyphenated auth token accepted (twilio-go would refuse every call)")
	}
}

// SentSince finds a message by its reference among those sent to one
// number within the window, across pages of the fake's list, and maps the
// list's failures like Send's.
func TestSentSince(t *testing.T) {
	fake, c := start(t, 5*time.Second)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := t0
	fake.Now = func() time.Time { return at }
	send := func(to, body string, when time.Time) {
		t.Helper()
		at = when
		if err := c.Send(ctx, to, body); err != nil {
			t.Fatal(err)
		}
	}
	send(phone, "notice [ref 00000001]", t0)
	send("+15555551001", "notice [ref 00000002]", t0)
	send(phone, "notice [ref 00000003]", t0.Add(time.Hour))
	// More than one page of the fake's default size (50) to that number.
	for i := range 60 {
		send(phone, "filler", t0.Add(time.Duration(i)*time.Second))
	}
	for _, tc := range []struct {
		name, to, ref string
		from, until   time.Time
		want          bool
	}{
		{"in the window", phone, "ref 00000001", t0.Add(-time.Minute), t0.Add(time.Minute), true},
		{"bounds included", phone, "ref 00000001", t0, t0, true},
		{"another number", phone, "ref 00000002", t0.Add(-time.Minute), t0.Add(time.Minute), false},
		{"after the window", phone, "ref 00000003", t0.Add(-time.Minute), t0.Add(time.Minute), false},
		{"before the window", phone, "ref 00000001", t0.Add(time.Second), t0.Add(2 * time.Hour), false},
		{"never sent", phone, "ref 0000000f", t0.Add(-time.Hour), t0.Add(2 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.SentSince(ctx, tc.to, tc.ref, tc.from, tc.until)
			if err != nil || got != tc.want {
				t.Fatalf("SentSince = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	fake.Fail(faketwilio.OpList, 503, 20503, 1)
	if _, err := c.SentSince(ctx, phone, "ref 00000001", t0, t0); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("list while Twilio is down: %v", err)
	}
}
