package stores

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/notify"
)

// NoticeTTL is how long a notice's intent and sent mark are remembered:
// far longer than the queue's duplicate detection window (10 minutes) and
// any redelivery of a message (minutes), so a notice redelivered in that
// time is not sent again.
const NoticeTTL = 7 * 24 * time.Hour

// Notices is notify.SentLog on a container with TTL on (the idempotency
// container): one document "notice-<key>" per notice and recipient,
//
//	{"id":"notice-<key>","type":"noticeIntent"|"noticeSent","intentAt":…,"sentAt":…,"docExpiresAt":…,"ttl":…}
//
// with its end of life (docstore.ExpiryField, NoticeTTL after the last
// write) and the matching "ttl".
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

// Document types of the sent log.
const (
	noticeIntent = "noticeIntent"
	noticeSent   = "noticeSent"
)

type noticeDoc struct {
	ID           string     `json:"id"`
	Type         string     `json:"type"` // noticeIntent or noticeSent
	IntentAt     time.Time  `json:"intentAt"`
	SentAt       *time.Time `json:"sentAt,omitempty"`
	DocExpiresAt time.Time  `json:"docExpiresAt"`
	TTL          int64      `json:"ttl"`
}

var noticeMsgs = map[domain.Kind]string{
	domain.KindTransient: "the sent-notice log is unavailable; retry later",
}

func noticeID(key string) string { return "notice-" + key }

// Lookup returns the key's mark; the zero Mark when it has none (or it
// expired).
func (s *Notices) Lookup(ctx context.Context, key string) (notify.Mark, error) {
	var d noticeDoc
	etag, err := s.docs.Read(ctx, noticeID(key), &d)
	switch {
	case err == nil:
		return notify.Mark{Sent: d.Type == noticeSent, Intent: d.IntentAt, Version: etag}, nil
	case domain.Is(err, domain.KindNotFound):
		return notify.Mark{}, nil
	}
	return notify.Mark{}, docstore.Relabel(err, noticeMsgs)
}

// Intend records an intent at the store's now: created when prev is the
// zero Mark, replacing prev's otherwise. KindConflict when the document was
// created or changed since prev was read.
func (s *Notices) Intend(ctx context.Context, key string, prev notify.Mark) (notify.Mark, error) {
	now := s.now().UTC()
	exp, ttl := docstore.Lifetime(now, NoticeTTL)
	d := noticeDoc{ID: noticeID(key), Type: noticeIntent, IntentAt: now, DocExpiresAt: exp, TTL: ttl}
	var etag string
	var err error
	if prev.Version == "" {
		etag, err = s.docs.Create(ctx, d.ID, d)
	} else {
		etag, err = s.docs.Replace(ctx, d.ID, d, prev.Version)
	}
	switch {
	case err == nil:
		return notify.Mark{Intent: now, Version: etag}, nil
	case domain.Is(err, domain.KindConflict), domain.Is(err, domain.KindStale), domain.Is(err, domain.KindNotFound):
		return notify.Mark{}, domain.Wrap(domain.KindConflict, err, "notice %s: another delivery recorded its intent first", key)
	}
	return notify.Mark{}, docstore.Relabel(err, noticeMsgs)
}

// MarkSent marks key as sent for NoticeTTL (overwriting its intent);
// marking it again is harmless.
func (s *Notices) MarkSent(ctx context.Context, key string) error {
	now := s.now().UTC()
	exp, ttl := docstore.Lifetime(now, NoticeTTL)
	d := noticeDoc{ID: noticeID(key), Type: noticeSent, IntentAt: now, SentAt: &now, DocExpiresAt: exp, TTL: ttl}
	var prev noticeDoc
	if _, err := s.docs.Read(ctx, d.ID, &prev); err == nil && !prev.IntentAt.IsZero() {
		d.IntentAt = prev.IntentAt
	}
	if _, err := s.docs.Upsert(ctx, d.ID, d); err != nil {
		return docstore.Relabel(err, noticeMsgs)
	}
	return nil
}
