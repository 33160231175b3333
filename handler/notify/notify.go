// Package notify sends the SMS of a request's notices (the Notify
// function): the outcome of a request to its requester's phone, approval
// work (a task assigned, a reminder, an escalation) to the phone of each
// candidate group. A notice is sent once per recipient as far as the sent
// log knows: a sender claims the notice and recipient in the log before the
// SMS and marks it sent after, so two deliveries of one notice at the same
// time (a redelivery, a duplicate message) send it once; a sender that
// died between claim and mark leaves a claim that another delivery takes
// over once it is stale, and then the SMS may go out twice (Twilio's
// Messages API takes no idempotency key). Texts name the request only: no
// profile data.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// Sender sends one SMS (*sms.Client): KindInvalid when the number cannot
// receive SMS, KindTransient or KindRateLimited when the provider is down
// or throttles, KindInternal when it is misconfigured.
type Sender interface {
	Send(ctx context.Context, to, body string) error
}

// ClaimState is the sent log's answer to a claim.
type ClaimState int

// The claim states.
const (
	// Claimed: the caller holds the key and sends now.
	Claimed ClaimState = iota
	// AlreadySent: the key was marked sent.
	AlreadySent
	// Busy: another sender holds a claim on the key that is not stale yet.
	Busy
)

// SentLog remembers what was sent (stores.Notices): Claim takes key for
// one sender (Claimed), or reports it sent (AlreadySent) or claimed by
// another sender whose claim is not stale yet (Busy; a stale claim is taken
// over: Claimed); MarkSent marks it sent (marking twice is fine); Release
// drops the caller's claim after a failed send. Errors are the store's
// (KindTransient).
type SentLog interface {
	Claim(ctx context.Context, key string) (ClaimState, error)
	MarkSent(ctx context.Context, key string) error
	Release(ctx context.Context, key string) error
}

// DefaultBusyWait is how long Notify waits for another sender's claim on a
// recipient to end (sent, or stale and taken over) before it gives up with
// KindTransient: longer than the sent log's claim timeout
// (stores.NoticeClaimTimeout, 15 s), so a claim left by a sender that died
// is taken over within one delivery.
const DefaultBusyWait = 20 * time.Second

// busyPoll is the interval at which a Busy claim is looked at again.
const busyPoll = 200 * time.Millisecond

// Service sends notices. GroupPhones maps a candidate group to the E.164
// number its approval notices go to (a team phone; see ParseGroupPhones);
// a group without one gets none.
type Service struct {
	Profiles    domain.ProfileReader
	Sender      Sender
	Sent        SentLog
	GroupPhones map[string]string
	Log         *slog.Logger
	// BusyWait bounds the wait for another sender's claim (default
	// DefaultBusyWait).
	BusyWait time.Duration
}

// Result counts the recipients of a notice: Sent now, Already sent before,
// Skipped (a group without a number, a profile without a phone).
type Result struct {
	Sent, Already, Skipped int
}

// Requester kinds go to the requester; group kinds to the candidate groups.
var groupKinds = []string{"taskAssigned", "reminder", "escalated"}

// Notify sends n's SMS to each of its recipients not yet sent to; a
// recipient another delivery of n is sending to right now is waited for
// (at most BusyWait) and counted Already once sent. Errors:
// KindNotFound when the request's profile is gone (permanent), the
// Sender's (KindInvalid permanent; KindTransient, KindRateLimited retried
// by redelivery: recipients already served are not sent to again),
// KindTransient when another sender's claim did not end within BusyWait,
// and the SentLog's.
func (s *Service) Notify(ctx context.Context, n request.Notice) (Result, error) {
	var res Result
	to, err := s.recipients(ctx, n, &res)
	if err != nil {
		return res, err
	}
	text := Text(n)
	for _, phone := range to {
		key := sentKey(n.ID, phone)
		state, err := s.claim(ctx, key)
		if err != nil {
			return res, err
		}
		if state == AlreadySent {
			res.Already++
			continue
		}
		if err := s.Sender.Send(ctx, phone, text); err != nil {
			if rerr := s.Sent.Release(ctx, key); rerr != nil {
				s.log().WarnContext(ctx, "notice: releasing the claim after a failed send", "notice", n.ID, "error", rerr.Error())
			}
			return res, err
		}
		if err := s.Sent.MarkSent(ctx, key); err != nil {
			return res, err
		}
		res.Sent++
	}
	return res, nil
}

// claim claims key, waiting while another sender holds it: Claimed or
// AlreadySent, KindTransient after BusyWait, or the SentLog's error.
func (s *Service) claim(ctx context.Context, key string) (ClaimState, error) {
	wait := s.BusyWait
	if wait <= 0 {
		wait = DefaultBusyWait
	}
	deadline := time.Now().Add(wait)
	for {
		state, err := s.Sent.Claim(ctx, key)
		if err != nil || state != Busy {
			return state, err
		}
		if time.Now().After(deadline) {
			e := domain.E(domain.KindTransient, "notice: another delivery is still sending it")
			e.RetryAfter = busyPoll
			return Busy, e
		}
		select {
		case <-ctx.Done():
			return Busy, domain.Wrap(domain.KindTransient, ctx.Err(), "notice: %v", ctx.Err())
		case <-time.After(busyPoll):
		}
	}
}

func (s *Service) recipients(ctx context.Context, n request.Notice, res *Result) ([]string, error) {
	if slices.Contains(groupKinds, n.Kind) {
		var out []string
		for _, g := range n.Groups {
			phone, ok := s.GroupPhones[g]
			if !ok {
				res.Skipped++
				s.log().InfoContext(ctx, "notice: no phone for candidate group; not sent", "notice", n.ID, "group", g)
				continue
			}
			if !slices.Contains(out, phone) {
				out = append(out, phone)
			}
		}
		return out, nil
	}
	p, err := s.Profiles.GetProfile(ctx, n.ProfileID)
	if err != nil {
		return nil, err
	}
	if p.Phone == "" || p.Owner != n.Owner {
		// A profile without a phone, or no longer the requester's.
		res.Skipped++
		s.log().InfoContext(ctx, "notice: the requester has no phone on the profile; not sent", "notice", n.ID)
		return nil, nil
	}
	return []string{p.Phone}, nil
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// sentKey is the sent log's key of a notice and a recipient: a hash, so
// the log holds no phone number.
func sentKey(noticeID, phone string) string {
	sum := sha256.Sum256([]byte(noticeID + "\x00" + phone))
	return hex.EncodeToString(sum[:20])
}

// maxReason bounds the reason quoted in an SMS (an approver's comment).
const maxReason = 100

// Text is the SMS of a notice: one line naming the request, at most one
// SMS segment's worth of text plus a quoted reason of at most maxReason
// characters.
func Text(n request.Notice) string {
	id := n.RequestID
	switch n.Kind {
	case "completed":
		return fmt.Sprintf("profileflow: your profile change %s was applied.", id)
	case "failed":
		if r := clip(n.Reason); r != "" {
			return fmt.Sprintf("profileflow: your profile change %s was not applied: %s", id, r)
		}
		return fmt.Sprintf("profileflow: your profile change %s was not applied.", id)
	case "rejected":
		if r := clip(n.Reason); r != "" {
			return fmt.Sprintf("profileflow: your profile change %s was rejected: %s", id, r)
		}
		return fmt.Sprintf("profileflow: your profile change %s was rejected.", id)
	case "sentBack":
		if r := clip(n.Reason); r != "" {
			return fmt.Sprintf("profileflow: your profile change %s was sent back for changes: %s", id, r)
		}
		return fmt.Sprintf("profileflow: your profile change %s was sent back for changes.", id)
	case "expired":
		return fmt.Sprintf("profileflow: your profile change %s expired: it was sent back and not answered in time.", id)
	case "terminated":
		return fmt.Sprintf("profileflow: your profile change %s was cancelled.", id)
	case "taskAssigned":
		return fmt.Sprintf("profileflow: profile change %s waits for your approval.", id)
	case "reminder":
		return fmt.Sprintf("profileflow reminder: profile change %s still waits for your approval.", id)
	case "escalated":
		// Sent to the task's candidate groups: the task went to the
		// escalation's task (whose own groups get a taskAssigned notice).
		return fmt.Sprintf("profileflow: profile change %s was not decided in time and was escalated.", id)
	}
	return fmt.Sprintf("profileflow: news about your profile change %s (%s).", id, clip(n.Kind))
}

// clip keeps text printable and short.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > maxReason {
		return string(r[:maxReason-1]) + "…"
	}
	return s
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ParseGroupPhones reads the setting NOTIFY_GROUP_PHONES: comma-separated
// group=+E.164 pairs, e.g. "ProfileApprover=+15550100001,ProfileSupervisor=+15550100002".
// An empty setting is an empty map; a malformed pair, a number that is not
// E.164 or a group named twice is an error naming it.
func ParseGroupPhones(spec string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		g, phone, ok := strings.Cut(part, "=")
		g, phone = strings.TrimSpace(g), strings.TrimSpace(phone)
		switch {
		case !ok || g == "":
			return nil, fmt.Errorf("%q is not group=+number", part)
		case !e164.MatchString(phone):
			return nil, fmt.Errorf("group %s: %q is not an E.164 number", g, phone)
		case out[g] != "":
			return nil, fmt.Errorf("group %s is named twice", g)
		}
		out[g] = phone
	}
	return out, nil
}
