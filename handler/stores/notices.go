package stores

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/notify"
)

// NoticeTTL is how long a sent notice is remembered: far longer than the
// queue's duplicate detection window (10 minutes) and any redelivery of a
// message (minutes), so a notice redelivered in that time is not sent
// again.
const NoticeTTL = 7 * 24 * time.Hour

// NoticeClaimTimeout is how long a claim (a sender about to send) holds a
// notice and recipient: far longer than one SMS send takes (about a
// second), so only a claim whose sender died is taken over.
const NoticeClaimTimeout = 15 * time.Second

// Notices is notify.SentLog on a container with TTL on (the idempotency
// container): one document "notice-<key>" per notice and recipient, of type
// "noticeSending" while claimed and "noticeSent" once sent, with its end of
// life (docstore.ExpiryField, NoticeTTL after the claim or send) and the
// matching "ttl".
type Notices struct {
	docs docstore.Docs
	now  func() time.Time
}

var _ notify.SentLog = (*Notices)(nil)

// NewNotices returns the sent log on docs (WithClock sets its clock).
func NewNotices(docs docstore.Docs, opts ...Option) *Notices {
	o := newOptions(opts)
	return &Notices{docs: o.expiring(docs), now: o.now}
}

type noticeDoc struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`   // "noticeSending" | "noticeSent"
	SentAt       time.Time `json:"sentAt"` // when claimed or sent
	DocExpiresAt time.Time `json:"docExpiresAt"`
	TTL          int64     `json:"ttl"`
}

var noticeMsgs = map[domain.Kind]string{
	domain.KindTransient: "the sent-notice log is unavailable; retry later",
}

func noticeID(key string) string { return "notice-" + key }

func (s *Notices) doc(key, typ string) noticeDoc {
	now := s.now().UTC()
	exp, ttl := docstore.Lifetime(now, NoticeTTL)
	return noticeDoc{ID: noticeID(key), Type: typ, SentAt: now, DocExpiresAt: exp, TTL: ttl}
}

// Claim takes key for the caller (notify.Claimed) by creating its document
// as "noticeSending"; an existing one answers notify.AlreadySent once sent,
// notify.Busy while claimed for less than NoticeClaimTimeout, and is taken
// over (replaced, ETag-checked; notify.Busy when another sender took it
// over first) once the claim is older. Errors: KindTransient.
func (s *Notices) Claim(ctx context.Context, key string) (notify.ClaimState, error) {
	d := s.doc(key, "noticeSending")
	_, err := s.docs.Create(ctx, d.ID, d)
	if err == nil {
		return notify.Claimed, nil
	}
	if !domain.Is(err, domain.KindConflict) {
		return notify.Busy, docstore.Relabel(err, noticeMsgs)
	}
	var cur noticeDoc
	etag, err := s.docs.Read(ctx, d.ID, &cur)
	switch {
	case domain.Is(err, domain.KindNotFound):
		return notify.Busy, nil // released or expired meanwhile: look again
	case err != nil:
		return notify.Busy, docstore.Relabel(err, noticeMsgs)
	case cur.Type != "noticeSending":
		return notify.AlreadySent, nil
	case d.SentAt.Sub(cur.SentAt) < NoticeClaimTimeout:
		return notify.Busy, nil
	}
	if _, err := s.docs.Replace(ctx, d.ID, d, etag); err != nil {
		if domain.Is(err, domain.KindStale) || domain.Is(err, domain.KindNotFound) {
			return notify.Busy, nil
		}
		return notify.Busy, docstore.Relabel(err, noticeMsgs)
	}
	return notify.Claimed, nil
}

// MarkSent marks key as sent for NoticeTTL (over the caller's claim);
// marking it again is a no-op apart from the later end of life.
func (s *Notices) MarkSent(ctx context.Context, key string) error {
	d := s.doc(key, "noticeSent")
	if _, err := s.docs.Upsert(ctx, d.ID, d); err != nil {
		return docstore.Relabel(err, noticeMsgs)
	}
	return nil
}

// Release drops a claim on key (after a failed send), so the next delivery
// claims it at once; a key already sent stays sent.
func (s *Notices) Release(ctx context.Context, key string) error {
	var cur noticeDoc
	etag, err := s.docs.Read(ctx, noticeID(key), &cur)
	switch {
	case domain.Is(err, domain.KindNotFound):
		return nil
	case err != nil:
		return docstore.Relabel(err, noticeMsgs)
	case cur.Type != "noticeSending":
		return nil
	}
	if err := s.docs.Delete(ctx, noticeID(key), etag); err != nil && !domain.Is(err, domain.KindNotFound) && !domain.Is(err, domain.KindStale) {
		return docstore.Relabel(err, noticeMsgs)
	}
	return nil
}
