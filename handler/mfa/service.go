package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
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
	s := &Service{store: o.Store, verifier: o.Verifier, signer: o.Signer, policy: DefaultPolicy, now: o.Now, log: o.Logger}
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

// releaseAttempt gives back a check reserved on a challenge that never
// reached the provider (best effort).
func (s *Service) releaseAttempt(ctx context.Context, id string) {
	_ = docstore.Retry(ctx, "the challenge", func(ctx context.Context) error {
		c, err := s.store.GetChallenge(ctx, id)
		if err != nil || c.Attempts == 0 {
			return nil
		}
		c.Attempts--
		_, err = s.store.ReplaceChallenge(ctx, c)
		return err
	})
}

var (
	codePattern        = regexp.MustCompile(`^[0-9]{4,10}$`)
	challengeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func challengeNotFound() error {
	return domain.E(domain.KindNotFound, "challenge not found")
}

// Verify checks code for the caller's challenge and returns an MFA token.
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

	// Reserve one check of the challenge (ETag-checked) before asking the provider.
	var c Challenge
	err := docstore.Retry(ctx, "the challenge", func(ctx context.Context) error {
		var err error
		c, err = s.store.GetChallenge(ctx, challengeID)
		if domain.Is(err, domain.KindNotFound) {
			return challengeNotFound()
		}
		if err != nil {
			return err
		}
		if c.Subject != p.Subject || p.Subject == "" {
			// Do not reveal that another user's challenge exists.
			return challengeNotFound()
		}
		now := s.now().UTC()
		switch {
		case c.Status == StatusApproved || c.Status == StatusUsed:
			return domain.E(domain.KindConflict, "this challenge was already verified; request a new code for another change")
		case c.Status == StatusExpired || !now.Before(c.ExpiresAt):
			return domain.E(domain.KindGone, "the code has expired; request a new code")
		}
		lim, err := s.store.GetLimits(ctx, c.ProfileID)
		if err != nil && !domain.Is(err, domain.KindNotFound) {
			return err
		}
		s.policy.prune(&lim, now)
		if d := s.policy.lockedFor(lim, now); d > 0 {
			return lockedError(d)
		}
		if c.Attempts >= s.policy.MaxChecksPerChallenge {
			// Retry-After: when a new challenge may be requested.
			d := max(s.policy.sendBlockedFor(lim, now), time.Second)
			return &domain.Error{Kind: domain.KindRateLimited, RetryAfter: d,
				Msg:     "too many wrong codes for this challenge; request a new code",
				Details: map[string]any{"attemptsLeft": 0}}
		}
		c.Attempts++
		c, err = s.store.ReplaceChallenge(ctx, c)
		return err
	})
	if err != nil {
		return TokenResult{}, err
	}

	// Reserve a failed-check slot of the profile too (ETag-checked), so that
	// parallel wrong codes cannot exceed the 24 h failure limit: the slot is
	// kept if the code is wrong and given back otherwise.
	slot, lim, err := s.reserveFailure(ctx, c.ProfileID)
	if err != nil {
		// The code never reached the provider: the challenge keeps its attempt.
		s.releaseAttempt(ctx, c.ID)
		if domain.Is(err, domain.KindRateLimited) {
			s.log.WarnContext(ctx, "mfa: check refused, profile locked after failed codes", "profileId", c.ProfileID)
		}
		return TokenResult{}, err
	}

	approved, err := s.verifier.CheckVerification(ctx, c.VerificationID, c.Phone, code)
	if err != nil {
		// No wrong code was established (provider down, throttled, or the
		// verification is gone): give the failed-check slot back. The
		// challenge's attempt stays used, as the provider may have counted it.
		s.releaseFailure(ctx, c.ProfileID, slot)
		if domain.Is(err, domain.KindGone) {
			s.setStatus(ctx, c.ID, StatusPending, StatusExpired)
		}
		s.log.WarnContext(ctx, "mfa: checking SMS code failed", "challengeId", c.ID, "kind", domain.KindOf(err).String(), "err", err)
		return TokenResult{}, err
	}
	if !approved {
		return TokenResult{}, s.wrongCode(ctx, c, lim)
	}
	// The code was right: the reserved slot was not a failure. Earlier
	// failures stay counted until they leave the 24 h window.
	s.releaseFailure(ctx, c.ProfileID, slot)

	// Approved: mark the challenge (exactly one verify wins), then sign.
	fresh := false
	err = docstore.Retry(ctx, "the challenge", func(ctx context.Context) error {
		if fresh {
			var err error
			if c, err = s.store.GetChallenge(ctx, c.ID); err != nil {
				return err
			}
		}
		fresh = true
		if c.Status != StatusPending {
			return domain.E(domain.KindConflict, "this challenge was already verified; request a new code for another change")
		}
		c.Status = StatusApproved
		_, err := s.store.ReplaceChallenge(ctx, c)
		return err
	})
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
	_ = docstore.Retry(ctx, "the challenge", func(ctx context.Context) error {
		c, err := s.store.GetChallenge(ctx, id)
		if err != nil || c.Status != from {
			return nil
		}
		c.Status = to
		_, err = s.store.ReplaceChallenge(ctx, c)
		return err
	})
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
	if c.ID == "" {
		return domain.E(domain.KindUnauthorized, "the MFA token is invalid")
	}
	err := s.store.CreateTokenUse(ctx, TokenUse{
		TokenID:   c.ID,
		ProfileID: c.ProfileID,
		Subject:   c.Subject,
		UsedAt:    s.now().UTC(),
		ExpiresAt: c.Expiry(),
	})
	if domain.Is(err, domain.KindConflict) {
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
