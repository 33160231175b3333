package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Service runs challenges, verifications and token checks.
type Service struct {
	store    Store
	verifier Verifier
	signer   *Signer
	policy   Policy
	now      func() time.Time
	log      *slog.Logger
	// settleWait bounds untilSettled's wait for other checks in flight.
	settleWait time.Duration
}

// Options configure a Service. Store, Verifier and Signer are required.
type Options struct {
	Store    Store
	Verifier Verifier
	Signer   *Signer
	Policy   *Policy          // nil: DefaultPolicy
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

// NewService builds a Service.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Verifier == nil || o.Signer == nil {
		return nil, errors.New("mfa: Store, Verifier and Signer are required")
	}
	s := &Service{store: o.Store, verifier: o.Verifier, signer: o.Signer, policy: DefaultPolicy, now: o.Now, log: o.Logger,
		settleWait: defaultSettleWait}
	if o.Policy != nil {
		s.policy = *o.Policy
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// ChallengeResult is the answer to a started challenge.
type ChallengeResult struct {
	ChallengeID string    `json:"challengeId"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Channel     string    `json:"channel"`
	To          string    `json:"to"` // masked phone number
}

// TokenResult is the answer to a verified code.
type TokenResult struct {
	Token     string    `json:"mfaToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// MaskPhone keeps the "+" and the last 4 digits: +15555551000 → +*******1000.
func MaskPhone(phone string) string {
	if len(phone) < 2 {
		return strings.Repeat("*", len(phone))
	}
	prefix, digits := "", phone
	if phone[0] == '+' {
		prefix, digits = "+", phone[1:]
	}
	if len(digits) <= 4 {
		return prefix + strings.Repeat("*", len(digits))
	}
	return prefix + strings.Repeat("*", len(digits)-4) + digits[len(digits)-4:]
}

// updateLimits runs fn over the profile's fresh counters and saves them with
// an ETag check, retrying lost races with docstore.Retry (which gives up
// with KindTransient "the MFA counter record is busy; retry shortly"). fn
// returning an error aborts without saving; the counters fn saw are
// returned with it.
func (s *Service) updateLimits(ctx context.Context, profileID string, fn func(l *Limits, now time.Time) error) (Limits, error) {
	var out Limits
	err := docstore.Retry(ctx, "the MFA counter record", func(ctx context.Context) error {
		l, err := s.store.GetLimits(ctx, profileID)
		if domain.Is(err, domain.KindNotFound) {
			l, err = Limits{ProfileID: profileID}, nil
		}
		if err != nil {
			out = Limits{}
			return err
		}
		now := s.now().UTC()
		s.policy.prune(&l, now)
		if err := fn(&l, now); err != nil {
			out = l
			return err
		}
		out, err = s.store.SaveLimits(ctx, l)
		return err
	})
	return out, err
}

// Challenge sends an SMS PIN to the profile's phone. The caller must already
// have checked that p owns prof (server.ownedProfile); it is checked again.
func (s *Service) Challenge(ctx context.Context, p domain.Principal, prof domain.Profile) (ChallengeResult, error) {
	if p.Subject == "" || prof.Owner != p.Subject {
		return ChallengeResult{}, domain.E(domain.KindForbidden, "you can only verify for your own profile")
	}
	if !e164.MatchString(prof.Phone) {
		return ChallengeResult{}, domain.E(domain.KindInvalid, "the profile has no phone number that can receive SMS codes (E.164, e.g. +15555551000)")
	}
	// Reserve a send slot first, so concurrent challenges cannot exceed the limit.
	var reserved time.Time
	_, err := s.updateLimits(ctx, prof.ID, func(l *Limits, now time.Time) error {
		if d := s.policy.lockedFor(*l, now); d > 0 {
			return lockedError(d)
		}
		if d := s.policy.sendBlockedFor(*l, now); d > 0 {
			return &domain.Error{Kind: domain.KindRateLimited, RetryAfter: d,
				Msg: fmt.Sprintf("too many SMS codes requested for this profile (at most %d per %s); try again later",
					s.policy.MaxSendsPerWindow, windowName(s.policy.SendWindow))}
		}
		l.Sends = append(l.Sends, now)
		reserved = now
		return nil
	})
	if err != nil {
		return ChallengeResult{}, err
	}
	sid, err := s.verifier.StartVerification(ctx, prof.Phone)
	if err != nil {
		s.log.WarnContext(ctx, "mfa: starting SMS verification failed", "profileId", prof.ID, "kind", domain.KindOf(err).String(), "err", err)
		// The provider refused outright (no SMS sent): give the slot back.
		// After a timeout or 5xx an SMS may have gone out, so the slot stays used.
		if k := domain.KindOf(err); k == domain.KindInvalid || k == domain.KindRateLimited {
			s.releaseSend(ctx, prof.ID, reserved)
		}
		return ChallengeResult{}, err
	}
	id, err := randomID()
	if err != nil {
		return ChallengeResult{}, domain.Wrap(domain.KindInternal, err, "could not create a challenge")
	}
	now := s.now().UTC()
	c := Challenge{
		ID:             id,
		ProfileID:      prof.ID,
		Subject:        p.Subject,
		Phone:          prof.Phone,
		VerificationID: sid,
		CreatedAt:      now,
		ExpiresAt:      now.Add(s.policy.ChallengeTTL),
		Status:         StatusPending,
	}
	if _, err := s.store.CreateChallenge(ctx, c); err != nil {
		return ChallengeResult{}, err
	}
	s.log.InfoContext(ctx, "mfa: challenge sent", "challengeId", c.ID, "profileId", c.ProfileID)
	return ChallengeResult{ChallengeID: c.ID, ExpiresAt: c.ExpiresAt, Channel: "sms", To: MaskPhone(c.Phone)}, nil
}

// releaseSend removes a reserved send slot (best effort).
func (s *Service) releaseSend(ctx context.Context, profileID string, at time.Time) {
	s.releaseSlot(ctx, profileID, at, "send", func(l *Limits) *[]time.Time { return &l.Sends })
}

// reserveFailure takes one of the profile's failed-check slots (ETag-checked)
// before a code is sent to the provider, so concurrent checks can never get
// more wrong codes past the provider than the policy allows. A profile whose
// slots of the window are all taken is locked. The slot is the failure
// record if the code turns out wrong; releaseFailure gives it back otherwise.
func (s *Service) reserveFailure(ctx context.Context, profileID string) (time.Time, Limits, error) {
	var at time.Time
	l, err := s.updateLimits(ctx, profileID, func(l *Limits, now time.Time) error {
		if d := s.policy.lockedFor(*l, now); d > 0 {
			return lockedError(d)
		}
		l.Failures = append(l.Failures, now)
		at = now
		return nil
	})
	return at, l, err
}

// releaseFailure removes a reserved failed-check slot (best effort).
func (s *Service) releaseFailure(ctx context.Context, profileID string, at time.Time) {
	s.releaseSlot(ctx, profileID, at, "failed-check", func(l *Limits) *[]time.Time { return &l.Failures })
}

// releaseSlot removes one event at time at from the list field picks
// (ETag-checked, best effort: failures are logged).
func (s *Service) releaseSlot(ctx context.Context, profileID string, at time.Time, what string, field func(*Limits) *[]time.Time) {
	if _, err := s.updateLimits(ctx, profileID, func(l *Limits, _ time.Time) error {
		ts := field(l)
		for i, t := range *ts {
			if t.Equal(at) {
				*ts = append((*ts)[:i], (*ts)[i+1:]...)
				break
			}
		}
		return nil
	}); err != nil {
		s.log.WarnContext(ctx, "mfa: releasing a "+what+" slot failed", "profileId", profileID, "err", err)
	}
}

// updateChallenge runs fn over the fresh challenge id and, when fn asks
// for it, writes it back with an ETag check, retrying lost races with
// docstore.Retry (which gives up with KindTransient "the challenge is busy;
// retry shortly"). fn's error is returned after the write it asked for, if
// any (nothing is written when that write fails). It returns the challenge
// as last read or written. A missing challenge is the store's KindNotFound.
func (s *Service) updateChallenge(ctx context.Context, id string, fn func(c *Challenge, now time.Time) (write bool, err error)) (Challenge, error) {
	var out Challenge
	err := docstore.Retry(ctx, "the challenge", func(ctx context.Context) error {
		c, err := s.store.GetChallenge(ctx, id)
		if err != nil {
			return err
		}
		write, ferr := fn(&c, s.now().UTC())
		if write {
			if c, err = s.store.ReplaceChallenge(ctx, c); err != nil {
				return err
			}
		}
		out = c
		return ferr
	})
	return out, err
}

// errInFlight is returned by an untilSettled step whose answer depends on
// other checks of the challenge still in flight.
var errInFlight = errors.New("mfa: other checks of the challenge are in flight")

// untilSettled runs step through updateChallenge until it returns anything
// but errInFlight, pausing (1 ms doubling to 100 ms) between tries. When
// s.settleWait (3 s) has passed, or ctx is done, it gives up with
// KindTransient "another check of this code is still in progress; retry
// shortly" (Retry-After 1 s). Store operations use sctx, the waiting ctx.
func (s *Service) untilSettled(ctx, sctx context.Context, id string, step func(c *Challenge, now time.Time) (bool, error)) (Challenge, error) {
	deadline := time.NewTimer(s.settleWait)
	defer deadline.Stop()
	pause := time.Millisecond
	for {
		c, err := s.updateChallenge(sctx, id, step)
		if !errors.Is(err, errInFlight) {
			return c, err
		}
		pause = min(2*pause, 100*time.Millisecond)
		select {
		case <-deadline.C:
			s.log.WarnContext(ctx, "mfa: gave up waiting for a check in flight", "challengeId", id)
			return c, &domain.Error{Kind: domain.KindTransient, RetryAfter: time.Second,
				Msg: "another check of this code is still in progress; retry shortly"}
		case <-ctx.Done():
			return c, domain.Wrap(domain.KindTransient, ctx.Err(), "the request was canceled")
		case <-time.After(pause):
		}
	}
}

// inFlight counts the challenge's checks in flight, abandoned ones
// (marked more than CheckLease ago) aside.
func inFlight(c *Challenge, now time.Time) int {
	n := 0
	for _, m := range c.Checks {
		if now.Sub(m.At) < CheckLease {
			n++
		}
	}
	return n
}

// removeCheck unmarks the check id and drops abandoned marks; it reports
// whether the challenge changed.
func removeCheck(c *Challenge, id string, now time.Time) bool {
	kept := c.Checks[:0:0]
	for _, m := range c.Checks {
		if m.ID != id && now.Sub(m.At) < CheckLease {
			kept = append(kept, m)
		}
	}
	changed := len(kept) != len(c.Checks)
	if len(kept) == 0 {
		kept = nil
	}
	c.Checks = kept
	return changed
}

// releaseAttempt gives back a check (marked mark) whose code no provider
// checked: its attempt and its mark, together, so that running it twice
// gives back one attempt (best effort).
func (s *Service) releaseAttempt(ctx context.Context, id, mark string) {
	if _, err := s.updateChallenge(ctx, id, func(c *Challenge, now time.Time) (bool, error) {
		mine := slices.ContainsFunc(c.Checks, func(m CheckInFlight) bool { return m.ID == mark })
		changed := removeCheck(c, mark, now)
		if mine && c.Attempts > 0 {
			c.Attempts--
		}
		return changed, nil
	}); err != nil {
		s.log.WarnContext(ctx, "mfa: releasing a challenge attempt failed", "challengeId", id, "err", err)
	}
}

// settleCheck unmarks a check the provider answered (best effort: a mark
// left behind lapses after CheckLease).
func (s *Service) settleCheck(ctx context.Context, id, mark string) {
	if _, err := s.updateChallenge(ctx, id, func(c *Challenge, now time.Time) (bool, error) {
		return removeCheck(c, mark, now), nil
	}); err != nil {
		s.log.WarnContext(ctx, "mfa: settling a check failed", "challengeId", id, "err", err)
	}
}

var (
	codePattern        = regexp.MustCompile(`^[0-9]{4,10}$`)
	challengeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func challengeNotFound() error {
	return domain.E(domain.KindNotFound, "challenge not found")
}

// alreadyVerified answers a check of a challenge whose code the provider
// approved for another check (earlier, or concurrently: a double submit).
func alreadyVerified() error {
	return domain.E(domain.KindConflict, "this code was already used to verify; request a new code for another change")
}

// Timing of the settlement of a check.
const (
	// settleTimeout bounds the store writes that record the provider's
	// answer; they run even if the caller has gone, so that an approval the
	// provider made is not lost to a cancelled request.
	settleTimeout = 10 * time.Second
	// defaultSettleWait bounds how long a check waits for other checks of
	// the same challenge in flight when its answer depends on theirs. The
	// usual case is the check the provider approved, which has only its
	// store writes left.
	defaultSettleWait = 3 * time.Second
)

// Verify checks code for the caller's challenge and returns an MFA token.
//
// The provider approves a verification once and forgets it then (Twilio
// answers 20404 to any later check), so of concurrent checks of the right
// code exactly one gets the token and the others KindConflict "this code
// was already used to verify".
//
// Errors: KindInvalid for a malformed id or code; KindNotFound for an
// unknown challenge or another user's; KindConflict once the challenge was
// approved; KindGone when the challenge or the provider's verification
// expired; KindUnauthorized for a wrong code (details.attemptsLeft);
// KindRateLimited for our limits and the provider's (a check the provider
// refused without checking the code, KindInvalid or KindRateLimited, gives
// its attempt back); KindTransient when the provider or the store is
// unavailable or busy, or when the answer depends on another check of the
// challenge that is still in flight after 3 s.
func (s *Service) Verify(ctx context.Context, p domain.Principal, challengeID, code string) (TokenResult, error) {
	if challengeID == "" || code == "" {
		return TokenResult{}, domain.E(domain.KindInvalid, "challengeId and code are required")
	}
	if !challengeIDPattern.MatchString(challengeID) {
		return TokenResult{}, domain.E(domain.KindInvalid, "challengeId is malformed")
	}
	if !codePattern.MatchString(code) {
		return TokenResult{}, domain.E(domain.KindInvalid, "code must be the digits of the SMS code")
	}
	mark, err := randomID()
	if err != nil {
		return TokenResult{}, domain.Wrap(domain.KindInternal, err, "could not check the code")
	}

	// Reserve one check of the challenge (ETag-checked) before asking the
	// provider: an attempt, and a mark that keeps concurrent checks from
	// concluding anything this check's answer may still change.
	c, err := s.untilSettled(ctx, ctx, challengeID, func(c *Challenge, now time.Time) (bool, error) {
		if c.Subject != p.Subject || p.Subject == "" {
			// Do not reveal that another user's challenge exists.
			return false, challengeNotFound()
		}
		switch {
		case c.Status == StatusApproved || c.Status == StatusUsed:
			return false, alreadyVerified()
		case c.Status == StatusExpired || !now.Before(c.ExpiresAt):
			return false, domain.E(domain.KindGone, "the code has expired; request a new code")
		}
		lim, err := s.store.GetLimits(ctx, c.ProfileID)
		if err != nil && !domain.Is(err, domain.KindNotFound) {
			return false, err
		}
		s.policy.prune(&lim, now)
		if d := s.policy.lockedFor(lim, now); d > 0 {
			return false, lockedError(d)
		}
		if c.Attempts >= s.policy.MaxChecksPerChallenge {
			if inFlight(c, now) > 0 {
				// One of those may be approved (then this is a conflict) or
				// refused by the provider (then its attempt comes back).
				return false, errInFlight
			}
			// Retry-After: when a new challenge may be requested.
			d := max(s.policy.sendBlockedFor(lim, now), time.Second)
			return false, &domain.Error{Kind: domain.KindRateLimited, RetryAfter: d,
				Msg:     "too many wrong codes for this challenge; request a new code",
				Details: map[string]any{"attemptsLeft": 0}}
		}
		c.Attempts++
		removeCheck(c, mark, now) // drops abandoned marks
		c.Checks = append(c.Checks, CheckInFlight{ID: mark, At: now})
		return true, nil
	})
	if domain.Is(err, domain.KindNotFound) {
		return TokenResult{}, challengeNotFound()
	}
	if err != nil {
		return TokenResult{}, err
	}

	// Reserve a failed-check slot of the profile too (ETag-checked), so that
	// parallel wrong codes cannot exceed the 24 h failure limit: the slot is
	// kept if the code is wrong and given back otherwise.
	slot, lim, err := s.reserveFailure(ctx, c.ProfileID)
	if err != nil {
		// The code never reached the provider: the challenge keeps its attempt.
		s.releaseAttempt(ctx, c.ID, mark)
		if domain.Is(err, domain.KindRateLimited) {
			s.log.WarnContext(ctx, "mfa: check refused, profile locked after failed codes", "profileId", c.ProfileID)
		}
		return TokenResult{}, err
	}

	profileID := c.ProfileID
	approved, err := s.verifier.CheckVerification(ctx, c.VerificationID, c.Phone, code)
	// The provider has answered: record its answer even if the caller has gone.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err != nil {
		// No wrong code was established (provider down, throttled, or the
		// verification is gone): give the failed-check slot back.
		s.releaseFailure(sctx, profileID, slot)
		s.log.WarnContext(ctx, "mfa: checking SMS code failed", "challengeId", c.ID, "kind", domain.KindOf(err).String(), "err", err)
		return TokenResult{}, s.checkFailed(ctx, sctx, c.ID, mark, err)
	}
	if !approved {
		s.settleCheck(sctx, c.ID, mark)
		return TokenResult{}, s.wrongCode(ctx, c, lim)
	}

	// Approved: this check is the one the provider approved. Settle the
	// challenge, then give the failed-check slot back (earlier failures stay
	// counted until they leave the 24 h window).
	c, err = s.updateChallenge(sctx, c.ID, func(c *Challenge, now time.Time) (bool, error) {
		if c.Status == StatusApproved || c.Status == StatusUsed {
			return removeCheck(c, mark, now), alreadyVerified()
		}
		// Also from Expired: only a check that outlived its mark's lease
		// can have let another check expire the challenge meanwhile, and
		// the provider's approval is the fact.
		removeCheck(c, mark, now)
		c.Status = StatusApproved
		return true, nil
	})
	s.releaseFailure(sctx, profileID, slot)
	if err != nil {
		return TokenResult{}, err
	}
	tok, claims, err := s.signer.Issue(c.Subject, c.ProfileID, c.ID, s.now().UTC())
	if err != nil {
		return TokenResult{}, domain.Wrap(domain.KindInternal, err, "could not issue the MFA token")
	}
	s.log.InfoContext(ctx, "mfa: code verified", "challengeId", c.ID, "profileId", c.ProfileID)
	return TokenResult{Token: tok, ExpiresAt: claims.Expiry()}, nil
}

// checkFailed settles the check mark that the provider answered with
// checkErr and returns the caller's answer. Store writes use sctx, waits ctx.
//   - KindInvalid, KindRateLimited: the provider refused the check without
//     checking the code (e.g. Twilio 60202 for a verification whose checks
//     are used up), so the challenge's attempt is given back.
//   - KindGone: see settleGone.
//   - otherwise (provider down or slow): the provider may have counted the
//     check, so the attempt stays used.
func (s *Service) checkFailed(ctx, sctx context.Context, id, mark string, checkErr error) error {
	switch domain.KindOf(checkErr) {
	case domain.KindInvalid, domain.KindRateLimited:
		s.releaseAttempt(sctx, id, mark)
	case domain.KindGone:
		return s.settleGone(ctx, sctx, id, mark, checkErr)
	default:
		s.settleCheck(sctx, id, mark)
	}
	return checkErr
}

// settleGone settles the check mark that the provider answered with
// "verification not found" (goneErr; Twilio 20404: expired, or approved for
// another check, after which Twilio deletes it). The challenge tells which:
//   - Approved or Used: another check got the token: KindConflict "this
//     code was already used to verify".
//   - Pending with no other check in flight: the verification is gone; the
//     challenge becomes Expired and the answer is goneErr.
//   - Pending with other checks in flight: one of them may be the approved
//     one with only its store writes left, so wait for them (untilSettled)
//     and decide as above.
//
// The mark is removed before any wait, so concurrent checks that all found
// the verification gone do not wait for each other.
func (s *Service) settleGone(ctx, sctx context.Context, id, mark string, goneErr error) error {
	_, err := s.untilSettled(ctx, sctx, id, func(c *Challenge, now time.Time) (bool, error) {
		unmarked := removeCheck(c, mark, now)
		switch {
		case c.Status == StatusApproved || c.Status == StatusUsed:
			return unmarked, alreadyVerified()
		case c.Status == StatusExpired:
			return unmarked, goneErr
		case inFlight(c, now) > 0:
			return unmarked, errInFlight
		}
		c.Status = StatusExpired
		return true, goneErr
	})
	return err
}

// wrongCode answers a wrong code, whose failure was already recorded by
// reserveFailure (reserved holds the counters as saved then): 401 with the
// attempts left, or 429 once the profile is locked.
func (s *Service) wrongCode(ctx context.Context, c Challenge, reserved Limits) error {
	l, err := s.store.GetLimits(ctx, c.ProfileID)
	if err != nil {
		l = reserved
	}
	now := s.now().UTC()
	s.policy.prune(&l, now)
	if locked := s.policy.lockedFor(l, now); locked > 0 {
		s.log.WarnContext(ctx, "mfa: profile locked after failed codes", "profileId", c.ProfileID)
		return lockedError(locked)
	}
	left := min(s.policy.MaxChecksPerChallenge-c.Attempts, s.policy.MaxFailuresPerWindow-len(l.Failures))
	left = max(left, 0)
	msg := "wrong code"
	if left == 0 {
		msg = "wrong code; no attempts left for this challenge, request a new code"
	}
	return &domain.Error{Kind: domain.KindUnauthorized, Msg: msg, Details: map[string]any{"attemptsLeft": left}}
}

// setStatus moves a challenge from one status to another, best effort.
func (s *Service) setStatus(ctx context.Context, id, from, to string) {
	if _, err := s.updateChallenge(ctx, id, func(c *Challenge, _ time.Time) (bool, error) {
		if c.Status != from {
			return false, nil
		}
		c.Status = to
		return true, nil
	}); err != nil {
		s.log.WarnContext(ctx, "mfa: updating the challenge status failed", "challengeId", id, "to", to, "err", err)
	}
}

// Check validates an MFA token for a change of profileID by p, without any
// network call and without consuming it. Missing, malformed, forged or
// expired tokens are KindUnauthorized; a token of another user, another
// profile or another purpose is KindForbidden.
func (s *Service) Check(ctx context.Context, token string, p domain.Principal, profileID string) (Claims, error) {
	c, err := s.signer.Parse(token, s.now())
	if err != nil {
		return Claims{}, err
	}
	if c.Purpose != PurposeProfileUpdate {
		return Claims{}, domain.E(domain.KindForbidden, "the MFA token was not issued for profile updates")
	}
	if p.Subject == "" || c.Subject != p.Subject {
		return Claims{}, domain.E(domain.KindForbidden, "the MFA token was issued to another user")
	}
	if c.ProfileID != profileID {
		return Claims{}, domain.E(domain.KindForbidden, "the MFA token was issued for another profile")
	}
	return c, nil
}

// Consume records the single use of a checked token. Call it only when the
// change is accepted (just before committing it): a token already used is
// KindConflict.
func (s *Service) Consume(ctx context.Context, c Claims) error {
	return s.ConsumeFor(ctx, c, "")
}

// ConsumeFor is Consume naming what the token is spent on (use, e.g. a
// request id): spending it again for the same non-empty use succeeds, so
// a change retried after its first call stopped midway is not refused
// for the token that call spent. Errors as Consume.
func (s *Service) ConsumeFor(ctx context.Context, c Claims, use string) error {
	if c.ID == "" {
		return domain.E(domain.KindUnauthorized, "the MFA token is invalid")
	}
	err := s.store.CreateTokenUse(ctx, TokenUse{
		TokenID:   c.ID,
		ProfileID: c.ProfileID,
		Subject:   c.Subject,
		UsedAt:    s.now().UTC(),
		ExpiresAt: c.Expiry(),
		Use:       use,
	})
	if domain.Is(err, domain.KindConflict) {
		if use != "" {
			if prev, gerr := s.store.GetTokenUse(ctx, c.ID); gerr == nil && prev.Use == use && prev.Subject == c.Subject {
				return nil
			}
		}
		return domain.E(domain.KindConflict, "the MFA token was already used; verify a new SMS code for another change")
	}
	if err != nil {
		return err
	}
	if c.Challenge != "" {
		s.setStatus(ctx, c.Challenge, StatusApproved, StatusUsed)
	}
	return nil
}
