package mfa_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/sms"
)

// The answer to every check of an approved challenge but the approved one.
const alreadyUsedMsg = "this code was already used to verify; request a new code for another change"

// msg is the message of a domain error, as the client sees it.
func msg(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return ""
	}
	return de.Msg
}

// verifyAll runs n Verify calls of code at once and returns their results.
func verifyAll(svc *mfa.Service, id, code string, n int) ([]mfa.TokenResult, []error) {
	res, errs := make([]mfa.TokenResult, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res[i], errs[i] = svc.Verify(context.Background(), alice(), id, code)
		})
	}
	close(start)
	wg.Wait()
	return res, errs
}

// wantOneToken checks the outcome of concurrent checks of the right code:
// exactly one token, valid for alice's profile pA; every other answer a 409
// saying the code was used; the challenge Approved with no check left in
// flight; no failed check recorded.
func wantOneToken(t *testing.T, svc *mfa.Service, store mfa.Store, id string, res []mfa.TokenResult, errs []error) {
	t.Helper()
	tokens := 0
	for i, err := range errs {
		if err == nil {
			tokens++
			if _, cerr := svc.Check(context.Background(), res[i].Token, alice(), "pA"); cerr != nil {
				t.Errorf("the token issued does not check: %v", cerr)
			}
			continue
		}
		var de *domain.Error
		if !errors.As(err, &de) || de.Kind != domain.KindConflict || de.Msg != alreadyUsedMsg {
			t.Errorf("call %d: %v (kind %v), want 409 %q", i, err, kind(err), alreadyUsedMsg)
		}
	}
	if tokens != 1 {
		t.Errorf("%d tokens from %d concurrent checks of the right code, want exactly 1", tokens, len(errs))
	}
	c, err := store.GetChallenge(context.Background(), id)
	if err != nil || c.Status != mfa.StatusApproved || len(c.Checks) != 0 {
		t.Errorf("challenge = status %q, %d checks in flight (%v), want approved with none", c.Status, len(c.Checks), err)
	}
	if l, _ := store.GetLimits(context.Background(), "pA"); len(l.Failures) != 0 {
		t.Errorf("%d failed checks recorded for right codes", len(l.Failures))
	}
}

// Concurrent checks of the right code (a double click, or more) over a
// provider with Twilio's semantics (approve once, then "not found"): the
// check the provider approved gets the one token, whatever the order in
// which the others settle. Also with more callers than the 5 checks a
// challenge allows: those wait for the checks in flight and learn that the
// code was used, not that there were too many wrong codes.
func TestConcurrentRightCodesGiveOneToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		callers int
		delay   time.Duration // of each provider check, so they meet there
	}{
		{"double click", 2, 0},
		{"double click, slow provider", 2, time.Millisecond},
		{"six at once", 6, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 200 {
				e := newEnv(t)
				e.ver.delay = tc.delay
				id := e.challenge(t, profA())
				res, errs := verifyAll(e.svc, id, goodCode, tc.callers)
				wantOneToken(t, e.svc, e.store, id, res, errs)
				if n := e.ver.checkCount(); n > 5 {
					t.Errorf("%d provider checks, want ≤ 5", n)
				}
				if t.Failed() {
					t.Fatalf("round %d of 200 failed", round+1)
				}
			}
		})
	}
}

// startFakeTwilio runs the fake Twilio API on a free loopback port (stopped
// when the test ends) and returns it with the SMS adapter pointed at it.
func startFakeTwilio(t *testing.T) (*faketwilio.Server, *sms.Client) {
	t.Helper()
	fake := faketwilio.New("", "", "", &outbox.Box{})
	base, stop, err := fake.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake Twilio: %v", err)
	}
	t.Cleanup(func() { _ = stop() })
	c, err := sms.New(sms.Config{AccountSID: fake.AccountSID, AuthToken: fake.AuthToken,
		VerifyServiceSID: fake.ServiceSID, BaseURL: base, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func smsEnv(t *testing.T, ver mfa.Verifier) (*mfa.Service, *memory.MFAStore) {
	t.Helper()
	signer, err := mfa.NewSigner(10*time.Minute, key(0))
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewMFAStore()
	svc, err := mfa.NewService(mfa.Options{Store: store, Verifier: ver, Signer: signer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// lastPIN is the PIN of the last SMS the fake sent to alice's phone.
func lastPIN(t *testing.T, fake *faketwilio.Server) string {
	t.Helper()
	msgs := fake.Outbox().List(profA().Phone)
	if len(msgs) == 0 {
		t.Fatal("no SMS sent")
	}
	pin := faketwilio.PIN(msgs[len(msgs)-1].Body)
	if pin == "" {
		t.Fatalf("no PIN in %q", msgs[len(msgs)-1].Body)
	}
	return pin
}

// The same over the SMS adapter and the fake Twilio API (HTTP on loopback),
// as the tester ran it: the losers get Twilio's 20404 through the adapter.
func TestConcurrentRightCodesOverFakeTwilio(t *testing.T) {
	fake, client := startFakeTwilio(t)
	for _, callers := range []int{2, 6} {
		for round := range 200 {
			svc, store := smsEnv(t, client)
			r, err := svc.Challenge(context.Background(), alice(), profA())
			if err != nil {
				t.Fatalf("challenge: %v", err)
			}
			res, errs := verifyAll(svc, r.ChallengeID, lastPIN(t, fake), callers)
			wantOneToken(t, svc, store, r.ChallengeID, res, errs)
			if t.Failed() {
				t.Fatalf("%d callers: round %d of 200 failed", callers, round+1)
			}
		}
	}
}

// gatedVerifier holds back the answer of the check it approves until
// release is closed, and reports when it approved and when a check found
// the verification gone.
type gatedVerifier struct {
	*fakeVerifier
	approved, gone, release chan struct{}
}

func (g *gatedVerifier) CheckVerification(ctx context.Context, sid, phone, code string) (bool, error) {
	ok, err := g.fakeVerifier.CheckVerification(ctx, sid, phone, code)
	if ok {
		close(g.approved)
		<-g.release
	}
	if kind(err) == domain.KindGone {
		close(g.gone)
	}
	return ok, err
}

// The order that lost the token: the provider approves A, answers B "not
// found", and B settles while A has not yet recorded its approval. B must
// not expire the challenge: it waits for A and answers 409.
func TestGoneWaitsForTheApprovedCheck(t *testing.T) {
	e := newEnv(t)
	g := &gatedVerifier{fakeVerifier: e.ver, approved: make(chan struct{}), gone: make(chan struct{}), release: make(chan struct{})}
	signer, _ := mfa.NewSigner(10*time.Minute, key(0))
	svc, err := mfa.NewService(mfa.Options{Store: e.store, Verifier: g, Signer: signer, Now: e.clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := e.challenge(t, profA())
	var resA mfa.TokenResult
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { resA, errA = svc.Verify(ctx, alice(), id, goodCode) })
	<-g.approved
	wg.Go(func() { _, errB = svc.Verify(ctx, alice(), id, goodCode) })
	<-g.gone
	// B has settled its own check once only A's remains in flight.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		c, _ := e.store.GetChallenge(ctx, id)
		if c.Status != mfa.StatusPending {
			t.Fatalf("the challenge became %q while the approved check was in flight", c.Status)
		}
		if len(c.Checks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B did not settle: %d checks in flight", len(c.Checks))
		}
	}
	close(g.release)
	wg.Wait()
	if errA != nil || resA.Token == "" {
		t.Errorf("approved check: %v, want the token", errA)
	}
	var de *domain.Error
	if !errors.As(errB, &de) || de.Kind != domain.KindConflict || de.Msg != alreadyUsedMsg {
		t.Errorf("other check: %v, want 409 %q", errB, alreadyUsedMsg)
	}
	if c, _ := e.store.GetChallenge(ctx, id); c.Status != mfa.StatusApproved || len(c.Checks) != 0 {
		t.Errorf("challenge = %q with %d checks in flight, want approved with none", c.Status, len(c.Checks))
	}
	// A retry afterwards learns the same, without asking the provider.
	checks := e.ver.checkCount()
	if _, err := svc.Verify(ctx, alice(), id, goodCode); kind(err) != domain.KindConflict || msg(err) != alreadyUsedMsg {
		t.Errorf("retry: %v, want 409 %q", err, alreadyUsedMsg)
	}
	if e.ver.checkCount() != checks {
		t.Error("the retry reached the provider")
	}
}

// A check whose answer depends on another check in flight waits for it, but
// not for ever, and not for a check abandoned longer than mfa.CheckLease.
func TestChecksInFlightOfOthers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		markAge    time.Duration // of another check's mark on the challenge
		attempts   int           // already used
		providerOK bool          // the provider still knows the verification
		wantKind   domain.Kind
		wantMsg    string
		wantStatus string
		wantChecks int // provider checks
	}{
		{"gone, other check live", 0, 1, false, domain.KindTransient, "another check of this code is still in progress; retry shortly", mfa.StatusPending, 1},
		{"gone, other check abandoned", mfa.CheckLease + time.Second, 1, false, domain.KindGone, "gone", mfa.StatusExpired, 1},
		{"attempts used, other check live", 0, 5, true, domain.KindTransient, "another check of this code is still in progress; retry shortly", mfa.StatusPending, 0},
		{"attempts used, other check abandoned", mfa.CheckLease + time.Second, 5, true, domain.KindRateLimited, "too many wrong codes for this challenge; request a new code", mfa.StatusPending, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			mfa.SetSettleWait(e.svc, 20*time.Millisecond)
			id := e.challenge(t, profA())
			c, _ := e.store.GetChallenge(ctx, id)
			c.Attempts = tc.attempts
			c.Checks = []mfa.CheckInFlight{{ID: "other", At: e.clk.Now().Add(-tc.markAge)}}
			if _, err := e.store.ReplaceChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
			if !tc.providerOK {
				e.ver.checkErr = domain.E(domain.KindGone, "gone")
			}
			_, err := e.svc.Verify(ctx, alice(), id, goodCode)
			var de *domain.Error
			if !errors.As(err, &de) || de.Kind != tc.wantKind || de.Msg != tc.wantMsg {
				t.Fatalf("verify: %v (kind %v), want %v %q", err, kind(err), tc.wantKind, tc.wantMsg)
			}
			if tc.wantKind == domain.KindTransient && de.RetryAfter != time.Second {
				t.Errorf("Retry-After = %v, want 1s", de.RetryAfter)
			}
			if n := e.ver.checkCount(); n != tc.wantChecks {
				t.Errorf("provider checks = %d, want %d", n, tc.wantChecks)
			}
			c, _ = e.store.GetChallenge(ctx, id)
			if c.Status != tc.wantStatus {
				t.Errorf("status = %q, want %q", c.Status, tc.wantStatus)
			}
			// This check's own mark is gone either way; a live foreign one stays.
			for _, m := range c.Checks {
				if m.ID != "other" {
					t.Errorf("this check's mark %+v was left on the challenge", m)
				}
			}
		})
	}
}

// A check the provider refused without checking the code (Twilio 60202 when
// the verification's 5 checks are used up, 60200 for an invalid request)
// gives the challenge's attempt back: the refusals do not use up the
// challenge, and once the provider checks again the right code still works.
func TestProviderRefusalKeepsTheAttempt(t *testing.T) {
	ctx := context.Background()
	for _, refusal := range []error{
		&domain.Error{Kind: domain.KindRateLimited, Msg: "too many attempts to check this SMS code; request a new code later", RetryAfter: 10 * time.Minute},
		domain.E(domain.KindInvalid, "the SMS provider refused the request as invalid"),
	} {
		e := newEnv(t)
		id := e.challenge(t, profA())
		e.ver.checkErr = refusal
		for i := range 7 {
			if _, err := e.svc.Verify(ctx, alice(), id, goodCode); kind(err) != kind(refusal) {
				t.Fatalf("%v: check %d: %v, want the provider's refusal", kind(refusal), i+1, err)
			}
		}
		if c, _ := e.store.GetChallenge(ctx, id); c.Attempts != 0 || len(c.Checks) != 0 || c.Status != mfa.StatusPending {
			t.Errorf("%v: challenge = %d attempts, %d in flight, %q; want 0, 0, pending", kind(refusal), c.Attempts, len(c.Checks), c.Status)
		}
		e.ver.checkErr = nil
		if _, err := e.svc.Verify(ctx, alice(), id, goodCode); err != nil {
			t.Errorf("%v: right code after the refusals: %v", kind(refusal), err)
		}
	}
}

// The tester's case over the fake Twilio API: 5 wrong codes use up the
// verification's checks; a new challenge gets the same pending
// verification (Twilio re-sends the PIN), whose checks Twilio refuses with
// 60202. Each refusal is a 429 with Twilio's window as Retry-After and
// leaves the new challenge's attempts and the profile's failures as they
// were.
func TestExhaustedVerificationRefusalsUseNoAttempts(t *testing.T) {
	fake, client := startFakeTwilio(t)
	svc, store := smsEnv(t, client)
	ctx := context.Background()
	r1, err := svc.Challenge(ctx, alice(), profA())
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if lastPIN(t, fake) == wrong {
		wrong = "111111"
	}
	for i := range 5 {
		if _, err := svc.Verify(ctx, alice(), r1.ChallengeID, wrong); kind(err) != domain.KindUnauthorized {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
	}
	r2, err := svc.Challenge(ctx, alice(), profA())
	if err != nil {
		t.Fatal(err)
	}
	pin := lastPIN(t, fake)
	for i := range 7 {
		_, err := svc.Verify(ctx, alice(), r2.ChallengeID, pin)
		if kind(err) != domain.KindRateLimited || retryAfter(err) != 10*time.Minute ||
			msg(err) != "too many attempts to check this SMS code; request a new code later" {
			t.Fatalf("check %d of the re-sent PIN: %v (Retry-After %v), want Twilio's 429", i+1, err, retryAfter(err))
		}
	}
	c, _ := store.GetChallenge(ctx, r2.ChallengeID)
	if c.Attempts != 0 || len(c.Checks) != 0 {
		t.Errorf("new challenge: %d attempts used, %d in flight; want 0 and 0", c.Attempts, len(c.Checks))
	}
	if l, _ := store.GetLimits(ctx, "pA"); len(l.Failures) != 5 {
		t.Errorf("failed checks = %d, want the 5 wrong codes", len(l.Failures))
	}
}
