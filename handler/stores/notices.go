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

// Notices is notify.SentLog on a container with TTL on (the idempotency
// container): one document "notice-<key>" per notice and recipient, with
// its end of life (docstore.ExpiryField, NoticeTTL after the send) and the
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
	Type         string    `json:"type"` // "noticeSent"
	SentAt       time.Time `json:"sentAt"`
	DocExpiresAt time.Time `json:"docExpiresAt"`
	TTL          int64     `json:"ttl"`
}

var noticeMsgs = map[domain.Kind]string{
	domain.KindTransient: "the sent-notice log is unavailable; retry later",
}

func noticeID(key string) string { return "notice-" + key }

// WasSent reports whether key was marked and has not expired.
func (s *Notices) WasSent(ctx context.Context, key string) (bool, error) {
	var d noticeDoc
	_, err := s.docs.Read(ctx, noticeID(key), &d)
	switch {
	case err == nil:
		return true, nil
	case domain.Is(err, domain.KindNotFound):
		return false, nil
	}
	return false, docstore.Relabel(err, noticeMsgs)
}

// MarkSent marks key as sent for NoticeTTL; marking it again is a no-op.
func (s *Notices) MarkSent(ctx context.Context, key string) error {
	now := s.now().UTC()
	exp, ttl := docstore.Lifetime(now, NoticeTTL)
	_, err := s.docs.Create(ctx, noticeID(key), noticeDoc{ID: noticeID(key), Type: "noticeSent", SentAt: now, DocExpiresAt: exp, TTL: ttl})
	if err == nil || domain.Is(err, domain.KindConflict) {
		return nil
	}
	return docstore.Relabel(err, noticeMsgs)
}
