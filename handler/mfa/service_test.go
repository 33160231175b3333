package mfa_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
)

// fakeVerifier is an in-process Verifier: every verification's code is "123456".
type fakeVerifier struct {
	mu       sync.Mutex
	n        int
	starts   int
	checks   int
	startErr error
	checkErr error
	delay    time.Duration // each check waits this long (outside the lock), to widen races
	approved map[string]bool
}

const goodCode = "123456"

func (f *fakeVerifier) checkCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks
}

func (f *fakeVerifier) StartVerification(_ context.Context, phone string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.starts++
	f.n++
	return "VE" + strconv.Itoa(f.n), nil
}

func (f *fakeVerifier) CheckVerification(_ context.Context, sid, phone, code string) (bool, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	if f.checkErr != nil {
		return false, f.checkErr
	}
	if f.approved == nil {
		f.approved = map[string]bool{}
	}
	if f.approved[sid] {
		return false, domain.E(domain.KindGone, "verification gone")
	}
	if code == goodCode {
		f.approved[sid] = true
		return true, nil
	}
	return false, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func key(b byte) []byte              { return []byte(strings.Repeat(string(rune('a'+b)), 32)) }
func alice() domain.Principal        { return domain.Principal{Subject: "alice"} }
func bob() domain.Principal          { return domain.Principal{Subject: "bob"} }
func profA() domain.Profile          { return domain.Profile{ID: "pA", Owner: "alice", Phone: "+15555551000"} }
func profB() domain.Profile          { return domain.Profile{ID: "pB", Owner: "alice", Phone: "+15555552000"} }
func kind(err error) domain.Kind     { return domain.KindOf(err) }
func retryAfter(err error) time.Duration {
	var e *domain.Error
	errors.As(err, &e)
	return e.RetryAfter
}
func attemptsLeft(err error) any {
	var e *domain.Error
	if !errors.As(err, &e) || e.Details == nil {
		return nil
	}
	return e.Details["attemptsLeft"]
}

type env struct {
	svc   *mfa.Service
	clk   *clock
	ver   *fakeVerifier
	store *memory.MFAStore
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := newClock()
	signer, err := mfa.NewSigner(10*time.Minute, key(0))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clk: clk, ver: &fakeVerifier{}, store: memory.NewMFAStore()}
	e.svc, err = mfa.NewService(mfa.Options{Store: e.store, Verifier: e.ver, Signer: signer, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) challenge(t *testing.T, prof domain.Profile) string {
	t.Helper()
	r, err := e.svc.Challenge(context.Background(), alice(), prof)
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	return r.ChallengeID
}

func TestMaskPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+15555551000", "+*******1000"},
		{"+447700900123", "+********0123"},
		{"+12345", "+*2345"},
		{"+1234", "+****"},
		{"5555551000", "******1000"},
		{"", ""},
	} {
		if got := mfa.MaskPhone(tc.in); got != tc.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChallengeResponse(t *testing.T) {
	e := newEnv(t)
	r, err := e.svc.Challenge(context.Background(), alice(), profA())
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel != "sms" || r.To != "+*******1000" || r.ChallengeID == "" {
		t.Errorf("result = %+v", r)
	}
	if want := e.clk.Now().Add(10 * time.Minute); !r.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", r.ExpiresAt, want)
	}
	c, err := e.store.GetChallenge(context.Background(), r.ChallengeID)
	if err != nil || c.Status != mfa.StatusPending || c.VerificationID != "VE1" || c.Subject != "alice" || c.ProfileID != "pA" {
		t.Errorf("stored challenge = %+v, %v", c, err)
	}
}

func TestChallengeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    domain.Principal
		prof domain.Profile
		want domain.Kind
	}{
		{"another user's profile", bob(), profA(), domain.KindForbidden},
		{"no subject", domain.Principal{}, domain.Profile{ID: "x", Phone: "+15555551000"}, domain.KindForbidden},
		{"no phone", alice(), domain.Profile{ID: "pA", Owner: "alice"}, domain.KindInvalid},
		{"not E.164", alice(), domain.Profile{ID: "pA", Owner: "alice", Phone: "555-1000"}, domain.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.Challenge(context.Background(), tc.p, tc.prof)
			if kind(err) != tc.want {
				t.Fatalf("err = %v, want kind %v", err, tc.want)
			}
			if e.ver.starts != 0 {
				t.Error("an SMS was sent")
			}
		})
	}
}

func TestChallengeSendLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := e.svc.Challenge(ctx, alice(), profA()); err != nil {
			t.Fatalf("challenge %d: %v", i+1, err)
		}
		e.clk.Add(time.Minute)
	}
	_, err := e.svc.Challenge(ctx, alice(), profA())
	if kind(err) != domain.KindRateLimited {
		t.Fatalf("6th challenge: %v, want rate limited", err)
	}
	// The first send (at 12:00) leaves the window at 13:00; now is 12:05.
	if ra := retryAfter(err); ra != 55*time.Minute {
		t.Errorf("Retry-After = %v, want 55m", ra)
	}
	if e.ver.starts != 5 {
		t.Errorf("SMS sent = %d, want 5", e.ver.starts)
	}
	// Another profile has its own budget.
	if _, err := e.svc.Challenge(ctx, alice(), profB()); err != nil {
		t.Errorf("other profile: %v", err)
	}
	e.clk.Add(55 * time.Minute)
	if _, err := e.svc.Challenge(ctx, alice(), profA()); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// The send limit is the configured one (MFA_MAX_SENDS_PER_HOUR), and the
// refusal names it.
func TestChallengeSendLimitFollowsPolicy(t *testing.T) {
	for _, max := range []int{2, 7} {
		e := newEnv(t)
		policy := mfa.DefaultPolicy
		policy.MaxSendsPerWindow = max
		signer, _ := mfa.NewSigner(10*time.Minute, key(0))
		svc, err := mfa.NewService(mfa.Options{Store: e.store, Verifier: e.ver, Signer: signer, Now: e.clk.Now, Logger: quiet, Policy: &policy})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range max {
			if _, err := svc.Challenge(ctx, alice(), profA()); err != nil {
				t.Fatalf("max %d: challenge %d: %v", max, i+1, err)
			}
		}
		_, err = svc.Challenge(ctx, alice(), profA())
		if kind(err) != domain.KindRateLimited {
			t.Fatalf("max %d: challenge %d = %v, want rate limited", max, max+1, err)
		}
		if want := fmt.Sprintf("at most %d per hour", max); !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestVerifyWrongCodesPerChallenge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.challenge(t, profA())
	for i := 1; i <= 5; i++ {
		_, err := e.svc.Verify(ctx, alice(), id, "000000")
		if kind(err) != domain.KindUnauthorized || attemptsLeft(err) != 5-i {
			t.Fatalf("wrong code %d: %v attemptsLeft=%v, want 401 with %d left", i, err, attemptsLeft(err), 5-i)
		}
	}
	_, err := e.svc.Verify(ctx, alice(), id, goodCode)
	if kind(err) != domain.KindRateLimited || retryAfter(err) <= 0 {
		t.Fatalf("6th check: %v, want 429 with Retry-After", err)
	}
	if e.ver.checks != 5 {
		t.Errorf("provider checks = %d, want 5 (the 6th must not reach the provider)", e.ver.checks)
	}
}

func TestVerifyConcurrentChecksNeverExceedLimit(t *testing.T) {
	e := newEnv(t)
	id := e.challenge(t, profA())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = e.svc.Verify(context.Background(), alice(), id, "000000") })
	}
	wg.Wait()
	if e.ver.checks > 5 {
		t.Errorf("provider checks = %d, want ≤ 5", e.ver.checks)
	}
}

func TestLockoutAcrossChallenges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	failures := 0
	for failures < 9 {
		id := e.challenge(t, profA()) // a new challenge must not reset the failure count
		for j := 0; j < 5 && failures < 9; j++ {
			if _, err := e.svc.Verify(ctx, alice(), id, "000000"); kind(err) != domain.KindUnauthorized {
				t.Fatalf("failure %d: %v", failures+1, err)
			}
			failures++
		}
	}
	id := e.challenge(t, profA())
	_, err := e.svc.Verify(ctx, alice(), id, "111111")
	if kind(err) != domain.KindRateLimited {
		t.Fatalf("10th failure: %v, want locked (429)", err)
	}
	if ra := retryAfter(err); ra < 23*time.Hour || ra > 24*time.Hour {
		t.Errorf("Retry-After = %v, want about 24h", ra)
	}
	// Locked: even the right code and new challenges are refused.
	if _, err := e.svc.Verify(ctx, alice(), id, goodCode); kind(err) != domain.KindRateLimited {
		t.Errorf("right code while locked: %v", err)
	}
	if _, err := e.svc.Challenge(ctx, alice(), profA()); kind(err) != domain.KindRateLimited {
		t.Errorf("challenge while locked: %v", err)
	}
	// The lock lifts after 24 h.
	e.clk.Add(24 * time.Hour)
	id = e.challenge(t, profA())
	if _, err := e.svc.Verify(ctx, alice(), id, goodCode); err != nil {
		t.Errorf("after 24h: %v", err)
	}
}

// Failures only age out after 24 h: a right code does not clear them (nor
// does its own check count as one).
func TestSuccessDoesNotClearFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []int{5, 4} {
		id := e.challenge(t, profA())
		for range n {
			if _, err := e.svc.Verify(ctx, alice(), id, "000000"); kind(err) != domain.KindUnauthorized {
				t.Fatalf("wrong code: %v", err)
			}
		}
	}
	if _, err := e.svc.Verify(ctx, alice(), e.challenge(t, profA()), goodCode); err != nil {
		t.Fatalf("right code with 9 failures: %v", err)
	}
	l, err := e.store.GetLimits(ctx, "pA")
	if err != nil || len(l.Failures) != 9 {
		t.Fatalf("failures after success = %d (%v), want 9 kept", len(l.Failures), err)
	}
	// The next wrong code is the 10th failure of the 24 h: locked.
	_, err = e.svc.Verify(ctx, alice(), e.challenge(t, profA()), "000000")
	if kind(err) != domain.KindRateLimited || retryAfter(err) != 24*time.Hour {
		t.Fatalf("10th failure after a success: %v (Retry-After %v), want locked for 24h", err, retryAfter(err))
	}
}

// Parallel wrong codes over many challenges must never get more than 10
// checks per profile to the provider within 24 h; the next one is locked.
func TestFailureLimitHoldsUnderConcurrentVerifies(t *testing.T) {
	e := newEnv(t)
	e.ver.delay = 5 * time.Millisecond
	ctx := context.Background()
	var ids []string
	for range 5 {
		ids = append(ids, e.challenge(t, profA()))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		for range 5 {
			wg.Go(func() { _, _ = e.svc.Verify(ctx, alice(), id, "000000") })
		}
	}
	wg.Wait()
	if n := e.ver.checkCount(); n > 10 {
		t.Fatalf("wrong-code checks that reached the provider = %d, want ≤ 10", n)
	}
	// Checks that lost every retry of a busy counter (KindTransient) leave
	// slots unused: use them up one by one; the lockout must come exactly
	// when the 10th wrong check has reached the provider.
	for i := 0; ; i++ {
		if i == 25 {
			t.Fatalf("no lockout after %d provider checks", e.ver.checkCount())
		}
		before := e.ver.checkCount()
		_, err := e.svc.Verify(ctx, alice(), ids[i%len(ids)], "000000")
		if kind(err) == domain.KindRateLimited && retryAfter(err) > 23*time.Hour {
			if before != 10 {
				t.Fatalf("locked after %d provider checks, want 10", before)
			}
			if e.ver.checkCount() != before {
				t.Fatal("the locked check reached the provider")
			}
			break
		}
		if e.ver.checkCount() > 10 {
			t.Fatalf("provider checks = %d, want ≤ 10 (last answer %v)", e.ver.checkCount(), err)
		}
	}
	// Still within 24 h (and the challenges' TTL): the right code is refused
	// with the lockout too, without asking the provider.
	e.clk.Add(5 * time.Minute)
	_, err := e.svc.Verify(ctx, alice(), ids[0], goodCode)
	if kind(err) != domain.KindRateLimited || retryAfter(err) < 23*time.Hour || attemptsLeft(err) != 0 {
		t.Fatalf("11th check: %v (Retry-After %v), want the lockout", err, retryAfter(err))
	}
	if n := e.ver.checkCount(); n != 10 {
		t.Errorf("provider checks = %d, want 10", n)
	}
	if l, _ := e.store.GetLimits(ctx, "pA"); len(l.Failures) != 10 {
		t.Errorf("recorded failures = %d, want 10", len(l.Failures))
	}
	// Refused checks gave their challenge attempt back.
	total := 0
	for _, id := range ids {
		c, _ := e.store.GetChallenge(ctx, id)
		total += c.Attempts
	}
	if total != 10 {
		t.Errorf("challenge attempts used = %d, want 10 (one per provider check)", total)
	}
}

// A check the provider could not answer gives its failed-check slot back;
// a wrong code keeps it. The challenge's attempt is given back only when the
// provider refused the check without checking the code; every outcome
// settles the check (nothing left in flight).
func TestFailureSlotOnProviderOutcome(t *testing.T) {
	for _, tc := range []struct {
		name     string
		checkErr error
		code     string
		failures int
		attempts int
	}{
		{"wrong code", nil, "000000", 1, 1},
		{"right code", nil, goodCode, 0, 1},
		{"transient", &domain.Error{Kind: domain.KindTransient, Msg: "down", RetryAfter: 5 * time.Second}, "000000", 0, 1},
		{"gone", domain.E(domain.KindGone, "gone"), "000000", 0, 1},
		{"provider rate limit", domain.E(domain.KindRateLimited, "max checks"), "000000", 0, 0},
		{"provider refused as invalid", domain.E(domain.KindInvalid, "invalid parameter"), "000000", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.challenge(t, profA())
			e.ver.checkErr = tc.checkErr
			_, _ = e.svc.Verify(context.Background(), alice(), id, tc.code)
			if e.ver.checks != 1 {
				t.Fatalf("provider checks = %d, want 1", e.ver.checks)
			}
			l, _ := e.store.GetLimits(context.Background(), "pA")
			if len(l.Failures) != tc.failures {
				t.Errorf("failures = %d, want %d", len(l.Failures), tc.failures)
			}
			if c, _ := e.store.GetChallenge(context.Background(), id); c.Attempts != tc.attempts || len(c.Checks) != 0 {
				t.Errorf("challenge attempts = %d, in flight = %d; want %d and 0", c.Attempts, len(c.Checks), tc.attempts)
			}
		})
	}
}

func TestVerifyStates(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		setup  func(e *env, id string)
		who    domain.Principal
		id     string // "" = the challenge's id
		code   string
		want   domain.Kind
		noCall bool
	}{
		{"ok", nil, alice(), "", goodCode, -1, false},
		{"other user's challenge", nil, bob(), "", goodCode, domain.KindNotFound, true},
		{"unknown challenge", nil, alice(), "nope", goodCode, domain.KindNotFound, true},
		{"malformed id", nil, alice(), "a/b", goodCode, domain.KindInvalid, true},
		{"code not digits", nil, alice(), "", "12ab56", domain.KindInvalid, true},
		{"empty code", nil, alice(), "", "", domain.KindInvalid, true},
		{"expired", func(e *env, _ string) { e.clk.Add(10 * time.Minute) }, alice(), "", goodCode, domain.KindGone, true},
		{"already used", func(e *env, id string) {
			if _, err := e.svc.Verify(ctx, alice(), id, goodCode); err != nil {
				panic(err)
			}
		}, alice(), "", goodCode, domain.KindConflict, true},
		{"provider says gone", func(e *env, _ string) { e.ver.checkErr = domain.E(domain.KindGone, "gone") }, alice(), "", goodCode, domain.KindGone, false},
		{"provider unavailable", func(e *env, _ string) {
			e.ver.checkErr = &domain.Error{Kind: domain.KindTransient, Msg: "down", RetryAfter: 5 * time.Second}
		}, alice(), "", goodCode, domain.KindTransient, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.challenge(t, profA())
			if tc.setup != nil {
				tc.setup(e, id)
			}
			checks := e.ver.checks
			if tc.id != "" {
				id = tc.id
			}
			res, err := e.svc.Verify(ctx, tc.who, id, tc.code)
			if tc.want == -1 {
				if err != nil || res.Token == "" {
					t.Fatalf("verify: %v", err)
				}
				if !res.ExpiresAt.Equal(e.clk.Now().Add(10 * time.Minute)) {
					t.Errorf("expiresAt = %v", res.ExpiresAt)
				}
				return
			}
			if kind(err) != tc.want {
				t.Fatalf("err = %v, want kind %v", err, tc.want)
			}
			if tc.noCall && e.ver.checks != checks {
				t.Error("the provider was asked")
			}
		})
	}
}

func TestProviderGoneMarksChallengeExpired(t *testing.T) {
	e := newEnv(t)
	id := e.challenge(t, profA())
	e.ver.checkErr = domain.E(domain.KindGone, "gone")
	_, _ = e.svc.Verify(context.Background(), alice(), id, goodCode)
	e.ver.checkErr = nil
	if _, err := e.svc.Verify(context.Background(), alice(), id, goodCode); kind(err) != domain.KindGone {
		t.Errorf("second verify: %v, want gone", err)
	}
}

func TestProviderStartErrorPassesThrough(t *testing.T) {
	for _, tc := range []struct {
		k         domain.Kind
		slotsUsed int // a refused send gives its slot back; a maybe-sent one keeps it
	}{
		{domain.KindInvalid, 0},
		{domain.KindRateLimited, 0},
		{domain.KindTransient, 1},
	} {
		e := newEnv(t)
		e.ver.startErr = domain.E(tc.k, "x")
		if _, err := e.svc.Challenge(context.Background(), alice(), profA()); kind(err) != tc.k {
			t.Errorf("start error %v: got %v", tc.k, err)
		}
		l, _ := e.store.GetLimits(context.Background(), "pA")
		if len(l.Sends) != tc.slotsUsed {
			t.Errorf("start error %v: %d send slots used, want %d", tc.k, len(l.Sends), tc.slotsUsed)
		}
	}
}

func verifiedToken(t *testing.T, e *env, prof domain.Profile) string {
	t.Helper()
	id := e.challenge(t, prof)
	res, err := e.svc.Verify(context.Background(), alice(), id, goodCode)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

func TestTokenCheckBinding(t *testing.T) {
	e := newEnv(t)
	tok := verifiedToken(t, e, profA())
	other, _ := mfa.NewSigner(10*time.Minute, key(1))
	forged, _, _ := other.Issue("alice", "pA", "", e.clk.Now())
	parts := strings.Split(tok, ".")
	for _, tc := range []struct {
		name    string
		token   string
		who     domain.Principal
		profile string
		advance time.Duration
		want    domain.Kind
	}{
		{"valid", tok, alice(), "pA", 0, -1},
		{"valid just before expiry", tok, alice(), "pA", 10*time.Minute - time.Second, -1},
		{"expired", tok, alice(), "pA", 10 * time.Minute, domain.KindUnauthorized},
		{"other profile", tok, alice(), "pB", 0, domain.KindForbidden},
		{"other user", tok, bob(), "pA", 0, domain.KindForbidden},
		{"missing", "", alice(), "pA", 0, domain.KindUnauthorized},
		{"other key", forged, alice(), "pA", 0, domain.KindUnauthorized},
		{"tampered payload", parts[0] + "." + parts[1] + "A." + parts[2], alice(), "pA", 0, domain.KindUnauthorized},
		{"alg none", "eyJhbGciOiJub25lIn0." + parts[1] + ".", alice(), "pA", 0, domain.KindUnauthorized},
		{"garbage", "not-a-token", alice(), "pA", 0, domain.KindUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: e.clk.Now().Add(tc.advance)}
			signer, _ := mfa.NewSigner(10*time.Minute, key(0))
			svc, _ := mfa.NewService(mfa.Options{Store: e.store, Verifier: e.ver, Signer: signer, Now: clk.Now, Logger: quiet})
			c, err := svc.Check(context.Background(), tc.token, tc.who, tc.profile)
			if tc.want == -1 {
				if err != nil || c.ProfileID != "pA" || c.Subject != "alice" || c.Purpose != mfa.PurposeProfileUpdate || c.ID == "" {
					t.Fatalf("check: %+v %v", c, err)
				}
				return
			}
			if kind(err) != tc.want {
				t.Fatalf("err = %v, want kind %v", err, tc.want)
			}
		})
	}
}

func TestTokenSingleUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := verifiedToken(t, e, profA())
	// Checking (e.g. a PATCH refused for bad input) does not consume it.
	for range 3 {
		if _, err := e.svc.Check(ctx, tok, alice(), "pA"); err != nil {
			t.Fatalf("check: %v", err)
		}
	}
	c, _ := e.svc.Check(ctx, tok, alice(), "pA")
	if err := e.svc.Consume(ctx, c); err != nil {
		t.Fatalf("consume: %v", err)
	}
	// Replay: still a valid signature, but consumed.
	c2, err := e.svc.Check(ctx, tok, alice(), "pA")
	if err != nil {
		t.Fatalf("check after use: %v", err)
	}
	if err := e.svc.Consume(ctx, c2); kind(err) != domain.KindConflict {
		t.Fatalf("replay consume: %v, want conflict", err)
	}
	ch, _ := e.store.GetChallenge(ctx, c.Challenge)
	if ch.Status != mfa.StatusUsed {
		t.Errorf("challenge status = %q, want used", ch.Status)
	}
	// A second token from another challenge is independent.
	tok2 := verifiedToken(t, e, profA())
	c3, _ := e.svc.Check(ctx, tok2, alice(), "pA")
	if err := e.svc.Consume(ctx, c3); err != nil {
		t.Errorf("second token: %v", err)
	}
}

// A token spent on a request may be spent on that same request again (a
// retry of the call that stopped after spending it), never on another.
func TestTokenSpentForOneUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, _ := e.svc.Check(ctx, verifiedToken(t, e, profA()), alice(), "pA")
	for _, tc := range []struct {
		use  string
		want domain.Kind
	}{{"req-1", 0}, {"req-1", 0}, {"req-2", domain.KindConflict}, {"", domain.KindConflict}} {
		err := e.svc.ConsumeFor(ctx, c, tc.use)
		if tc.want == 0 && err != nil || tc.want != 0 && kind(err) != tc.want {
			t.Fatalf("ConsumeFor(%q) = %v, want %v", tc.use, err, tc.want)
		}
	}
	plain, _ := e.svc.Check(ctx, verifiedToken(t, e, profA()), alice(), "pA")
	if err := e.svc.Consume(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Consume(ctx, plain); kind(err) != domain.KindConflict {
		t.Fatalf("a token spent without a use, again: %v", err)
	}
}

func TestSignerRejectsBadConfig(t *testing.T) {
	if _, err := mfa.NewSigner(11*time.Minute, key(0)); err == nil {
		t.Error("TTL > 10m accepted")
	}
	if _, err := mfa.NewSigner(time.Minute, []byte("short")); err == nil {
		t.Error("short key accepted")
	}
	if _, err := mfa.ParseKeys("c2hvcnQ="); err == nil {
		t.Error("short base64 key accepted")
	}
	ks, err := mfa.ParseKeys("YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=, YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI")
	if err != nil || len(ks) != 2 || string(ks[1][:3]) != "bbb" {
		t.Errorf("ParseKeys = %q, %v", ks, err)
	}
}

func TestKeyRotation(t *testing.T) {
	now := time.Now()
	old, _ := mfa.NewSigner(time.Minute, key(0))
	rotated, _ := mfa.NewSigner(time.Minute, key(1), key(0))
	tok, _, _ := old.Issue("alice", "pA", "", now)
	if _, err := rotated.Parse(tok, now); err != nil {
		t.Errorf("token of the previous key refused: %v", err)
	}
	tok2, _, _ := rotated.Issue("alice", "pA", "", now)
	if _, err := old.Parse(tok2, now); err == nil {
		t.Error("old signer accepted a token of the new key")
	}
}

func FuzzParseToken(f *testing.F) {
	s, _ := mfa.NewSigner(10*time.Minute, key(0))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// A fixed token (Issue draws a random jti, and fuzz workers are separate processes).
	signingInput := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(
		[]byte(`{"sub":"alice","pid":"pA","pur":"profile-update","jti":"j1","cid":"c1","iat":1772366400,"exp":1772366700}`))
	h := hmac.New(sha256.New, key(0))
	h.Write([]byte(signingInput))
	tok := signingInput + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	if _, err := s.Parse(tok, now); err != nil {
		f.Fatalf("seed token refused: %v", err)
	}
	f.Add(tok)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := s.Parse(in, now)
		if err != nil {
			if kind(err) != domain.KindUnauthorized {
				t.Fatalf("error kind %v for %q", kind(err), in)
			}
			return
		}
		// Anything accepted must be exactly a token we signed.
		if in != tok {
			t.Fatalf("accepted a token we did not issue: %q → %+v", in, c)
		}
	})
}

var quiet = slog.New(slog.DiscardHandler)
