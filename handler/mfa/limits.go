package mfa

import (
	"fmt"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// Policy holds our own limits, on top of the provider's.
type Policy struct {
	ChallengeTTL          time.Duration // validity of a PIN (10m)
	MaxSendsPerWindow     int           // challenges per profile per SendWindow (5)
	SendWindow            time.Duration // 1h
	MaxFailuresPerWindow  int           // failed checks per profile per FailureWindow before lockout (10)
	FailureWindow         time.Duration // 24h
	MaxChecksPerChallenge int           // checks of one challenge (5, like Twilio)
}

// DefaultPolicy is the production policy. The settings
// MFA_MAX_SENDS_PER_HOUR and MFA_MAX_FAILED_CHECKS (handler/config) replace
// MaxSendsPerWindow and MaxFailuresPerWindow; their defaults are these.
var DefaultPolicy = Policy{
	ChallengeTTL:          10 * time.Minute,
	MaxSendsPerWindow:     5,
	SendWindow:            time.Hour,
	MaxFailuresPerWindow:  10,
	FailureWindow:         24 * time.Hour,
	MaxChecksPerChallenge: 5,
}

func prune(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	out := ts[:0:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// prune drops events outside their windows and keeps the rest in time
// order (instances' clocks may differ slightly), which lockedFor and
// sendBlockedFor rely on.
func (p Policy) prune(l *Limits, now time.Time) {
	l.Sends = prune(l.Sends, now, p.SendWindow)
	l.Failures = prune(l.Failures, now, p.FailureWindow)
	slices.SortStableFunc(l.Sends, time.Time.Compare)
	slices.SortStableFunc(l.Failures, time.Time.Compare)
}

// lockedFor is how long the profile stays locked (0 when not locked): the
// lock lifts when enough failures leave the 24 h window.
func (p Policy) lockedFor(l Limits, now time.Time) time.Duration {
	if len(l.Failures) < p.MaxFailuresPerWindow {
		return 0
	}
	// The (n-max+1)-th newest failure must leave the window.
	i := len(l.Failures) - p.MaxFailuresPerWindow
	return ceilSecond(l.Failures[i].Add(p.FailureWindow).Sub(now))
}

// sendBlockedFor is how long until another challenge may be sent (0 = now).
func (p Policy) sendBlockedFor(l Limits, now time.Time) time.Duration {
	if len(l.Sends) < p.MaxSendsPerWindow {
		return 0
	}
	i := len(l.Sends) - p.MaxSendsPerWindow
	return ceilSecond(l.Sends[i].Add(p.SendWindow).Sub(now))
}

// windowName names a window in messages: "hour" for 1h, "24 hours" for 24h,
// else the duration (e.g. "30m0s").
func windowName(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

func ceilSecond(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

func lockedError(d time.Duration) error {
	return &domain.Error{
		Kind:       domain.KindRateLimited,
		Msg:        "too many wrong codes for this profile: SMS verification is locked for up to 24 hours; try again later",
		RetryAfter: d,
		Details:    map[string]any{"attemptsLeft": 0},
	}
}
