// Package notify sends the SMS of a request's notices (the Notify
// function): the outcome of a request to its requester's phone, approval
// work (a task assigned, a reminder, an escalation) to the phone of each
// candidate group. Texts name the request only: no profile data.
//
// A notice reaches each recipient once, also when its message is delivered
// again. Per notice and recipient the SentLog holds an intent, written
// before the SMS goes to the provider, and a sent mark, written after. A
// delivery that finds an intent without a sent mark does not know whether
// the earlier one sent the SMS (it may have stopped between the provider's
// answer and the mark), and the provider's Messages API takes no
// idempotency key; so it asks the provider (Sender.SentSince) whether a
// message to that number carrying the notice's reference (Ref, part of
// every text) was sent around the intent's time, and sends only if not.
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

// Sender sends one SMS and looks up what was sent (*sms.Client).
//
// Send errors: KindInvalid when the number cannot receive SMS,
// KindTransient or KindRateLimited when the provider is down or throttles,
// KindInternal when it is misconfigured.
//
// SentSince reports whether a message to `to` whose body contains ref was
// sent (accepted by the provider) between from and until; errors as Send's.
type Sender interface {
	Send(ctx context.Context, to, body string) error
	SentSince(ctx context.Context, to, ref string, from, until time.Time) (bool, error)
}

// Mark is what the SentLog holds for one notice and recipient: nothing
// (zero Mark), an intent recorded at Intent, or Sent. Version is the
// store's concurrency token of the intent (opaque).
type Mark struct {
	Sent    bool
	Intent  time.Time
	Version string
}

// SentLog remembers, per key (a notice and a recipient), the intent to send
// and the fact that it was sent (stores.Notices).
//
// Lookup returns the key's Mark (zero when there is none). Intend records
// an intent at now: it creates it when prev is the zero Mark and replaces
// prev's intent otherwise (checked against prev.Version); KindConflict when
// another writer came first (another delivery of the notice is sending
// it). MarkSent marks the key sent (marking twice is fine). Store outages
// are KindTransient.
type SentLog interface {
	Lookup(ctx context.Context, key string) (Mark, error)
	Intend(ctx context.Context, key string, prev Mark) (Mark, error)
	MarkSent(ctx context.Context, key string) error
}

// Defaults of the reconciliation window (see Service).
const (
	// DefaultSettle is how old an intent must be before the provider is
	// asked whether its SMS went out: longer than one send (TWILIO_TIMEOUT,
	// default 10 s) plus the provider's queueing before it stamps a
	// message's date_sent (seconds), so that a send still in flight is not
	// taken for one that never happened.
	DefaultSettle = 30 * time.Second
	// DefaultSkew widens the window asked about on both sides, for the
	// clock difference between this host and the provider.
	DefaultSkew = 5 * time.Minute
)

// Service sends notices. GroupPhones maps a candidate group to the E.164
// number its approval notices go to (a team phone; see ParseGroupPhones);
// a group without one gets none. Settle and Skew set the reconciliation
// window (DefaultSettle, DefaultSkew when 0); Now and Sleep are the clock
// (time.Now and a context-aware sleep when nil).
type Service struct {
	Profiles    domain.ProfileReader
	Sender      Sender
	Sent        SentLog
	GroupPhones map[string]string
	Log         *slog.Logger
	Settle      time.Duration
	Skew        time.Duration
	Now         func() time.Time
	Sleep       func(ctx context.Context, d time.Duration) error
}

// Result counts the recipients of a notice: Sent now, Already sent before
// (Recovered of them found at the provider after an interrupted delivery),
// Skipped (a group without a number, a profile without a phone).
type Result struct {
	Sent, Already, Recovered, Skipped int
}

// Requester kinds go to the requester; group kinds to the candidate groups.
var groupKinds = []string{"taskAssigned", "reminder", "escalated"}

// Notify sends n's SMS to each of its recipients not yet sent to (see the
// package doc for how an interrupted earlier delivery is reconciled).
// Errors: KindNotFound when the request's profile is gone (permanent), the
// Sender's (KindInvalid permanent; KindTransient, KindRateLimited retried
// by redelivery: recipients already served are not sent to again), the
// SentLog's, and KindTransient when another delivery of n is sending it
// at the same moment.
func (s *Service) Notify(ctx context.Context, n request.Notice) (Result, error) {
	var res Result
	to, err := s.recipients(ctx, n, &res)
	if err != nil {
		return res, err
	}
	text := Text(n)
	ref := Ref(n.ID)
	for _, phone := range to {
		if err := s.notifyOne(ctx, n, phone, ref, text, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// notifyOne sends text to phone once per notice.
func (s *Service) notifyOne(ctx context.Context, n request.Notice, phone, ref, text string, res *Result) error {
	key := sentKey(n.ID, phone)
	m, err := s.Sent.Lookup(ctx, key)
	if err != nil {
		return err
	}
	if m.Sent {
		res.Already++
		return nil
	}
	if !m.Intent.IsZero() {
		sent, err := s.sentBefore(ctx, phone, ref, m.Intent)
		if err != nil {
			return err
		}
		if sent {
			s.log().InfoContext(ctx, "notice: an interrupted delivery had sent the SMS; not sent again", "notice", n.ID)
			if err := s.Sent.MarkSent(ctx, key); err != nil {
				return err
			}
			res.Already++
			res.Recovered++
			return nil
		}
	}
	if _, err := s.Sent.Intend(ctx, key, m); err != nil {
		if domain.Is(err, domain.KindConflict) {
			return domain.Wrap(domain.KindTransient, err, "notice %s is being sent by another delivery; retry shortly", n.ID)
		}
		return err
	}
	if err := s.Sender.Send(ctx, phone, text); err != nil {
		return err
	}
	if err := s.Sent.MarkSent(ctx, key); err != nil {
		return err
	}
	res.Sent++
	return nil
}

// sentBefore asks the provider whether the SMS of an intent recorded at
// intent went out: it first lets the intent settle (a send may still be in
// flight), then looks for the reference in what was sent to phone from
// intent−Skew to intent+Settle+Skew.
func (s *Service) sentBefore(ctx context.Context, phone, ref string, intent time.Time) (bool, error) {
	settle, skew := s.settle(), s.skew()
	if wait := intent.Add(settle).Sub(s.now()); wait > 0 {
		if err := s.sleep(ctx, wait); err != nil {
			return false, domain.Wrap(domain.KindTransient, err, "interrupted while waiting for an earlier send to settle")
		}
	}
	return s.Sender.SentSince(ctx, phone, ref, intent.Add(-skew), intent.Add(settle+skew))
}

func (s *Service) settle() time.Duration {
	if s.Settle > 0 {
		return s.Settle
	}
	return DefaultSettle
}

func (s *Service) skew() time.Duration {
	if s.Skew > 0 {
		return s.Skew
	}
	return DefaultSkew
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
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

// Ref is the reference of notice id carried by its SMS, "ref " and 8
// lower-case hex digits (the first 32 bits of the SHA-256 of id): enough
// to tell one notice's SMS among those sent to one number in a few
// minutes, and meaningless to anyone reading it.
func Ref(noticeID string) string {
	sum := sha256.Sum256([]byte(noticeID))
	return "ref " + hex.EncodeToString(sum[:4])
}

// Text is the SMS of a notice: one line naming the request and, for the
// requester, a quoted reason or comment of at most maxReason characters
// (the approver's words about the requester's own request), followed by
// the notice's Ref in brackets. It holds no profile data: no names, no
// values.
func Text(n request.Notice) string {
	return body(n) + " [" + Ref(n.ID) + "]"
}

func body(n request.Notice) string {
	id := n.RequestID
	switch n.Kind {
	case "completed":
		return fmt.Sprintf("profileflow: your profile change %s was applied.", id)
	case "failed":
		return withReason(fmt.Sprintf("profileflow: your profile change %s was not applied", id), n.Reason)
	case "rejected":
		return withReason(fmt.Sprintf("profileflow: your profile change %s was rejected", id), n.Reason)
	case "sentBack":
		return withReason(fmt.Sprintf("profileflow: your profile change %s was sent back for changes", id), n.Reason)
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

// withReason ends text with ": reason" (clipped) when there is one, else
// with a full stop.
func withReason(text, reason string) string {
	if r := clip(reason); r != "" {
		return text + ": " + r
	}
	return text + "."
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
